"""Corpus tagging on a Dask cluster (``medunlearn hierarchy tag --engine dask``): a local one of ``workers``
processes, or a running cluster by its scheduler address.

The client reads the corpus (:func:`hierarchy.corpus.iter_documents`) and cuts it into parts of ``part_size``
documents; each part is one task. The pipeline travels once to every worker (``nlp.to_bytes`` and its config,
scattered with ``broadcast``) and is rebuilt there on first use; a task carries the part's texts only and
returns their spans, and the client writes the rows as ``OUT/part-NNNNN.jsonl`` or ``.parquet`` (no shared
file system needed). Rows are exactly the serial engine's (:func:`hierarchy.corpus.span_row`); read in part
order they are the serial output.

Resumable: parts are written atomically into ``OUT.partial/`` with a ``_key.json`` of the settings; a rerun
with the same settings skips the parts already there, other settings start afresh. When every part is done
``manifest.json`` (the parts with their sha256) is written and ``OUT.partial`` becomes ``OUT``.
At most two parts per worker are in flight, so the client's memory stays at a few parts.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language

from hierarchy.corpus import (
    Document,
    ReadReport,
    chunks,
    iter_documents,
    jsonl_line,
    part_name,
    span_row,
    write_parquet_rows,
)
from ontology.common.atomic import atomic_path, atomic_write_json, replace_directory
from ontology.common.errors import InputError, MedunlearnError
from ontology.common.hashing import config_hash, sha256_file
from ontology.common.outputs import OutputKind
from ontology.common.progress import bar

DEFAULT_PART_SIZE = 10_000
KEY_FILE = "_key.json"
MANIFEST = "manifest.json"

#: ``hierarchy tag --engine dask -o SPANS``: an existing parts directory (one with our manifest) is replaced
SPANS_PARTS_OUTPUT = OutputKind("a SPANS parts directory", True, MANIFEST, lambda p: (p / MANIFEST).is_file())
_WORKER_NLP: dict[str, Language] = {}  # on a worker: pipelines by payload hash


def pipeline_payload(nlp: Language) -> tuple[str, str, bytes]:
    """``(hash, config, bytes)`` from which a worker rebuilds ``nlp`` (:func:`worker_pipeline`)."""
    import hashlib

    data = nlp.to_bytes()
    config = nlp.config.to_str()
    return hashlib.sha256(config.encode() + data).hexdigest(), config, data


def worker_pipeline(payload: tuple[str, str, bytes]) -> Language:
    """The pipeline of ``payload``, built once per worker process."""
    key, config, data = payload
    nlp = _WORKER_NLP.get(key)
    if nlp is None:
        import spacy
        from thinc.api import Config

        nlp = spacy.blank("en", config=Config().from_str(config))
        nlp.from_bytes(data)
        _WORKER_NLP.clear()
        _WORKER_NLP[key] = nlp
    return nlp


def tag_part(payload: tuple[str, str, bytes], texts: list[str]) -> list[list[dict[str, Any]]]:
    """The spans of each text of one part (runs on a worker)."""
    from hierarchy.tagger import tag_texts

    return list(tag_texts(worker_pipeline(payload), texts))


def write_part(rows: Sequence[dict[str, Any]], path: Path, fmt: str) -> None:
    """One part file, atomically (JSONL lines or Parquet, as the serial engine writes them)."""
    with atomic_path(path) as tmp:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(jsonl_line(r) for r in rows)
        else:
            write_parquet_rows(rows, tmp)


def _client(workers: int, scheduler: str | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MedunlearnError(
            "--engine dask needs Dask: pip install 'medunlearn[dask]' (dask and distributed)"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except OSError as exc:
            raise MedunlearnError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})"
            ) from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def _prepare_partial(partial: Path, key: str) -> set[int]:
    """The indices of parts already finished in ``partial`` under the same key (others are cleared)."""
    key_file = partial / KEY_FILE
    if partial.is_dir() and key_file.is_file() and json.loads(key_file.read_text()).get("key") == key:
        return {int(p.name[5:10]) for p in partial.glob("part-*") if p.suffix in (".jsonl", ".parquet")}
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    atomic_write_json(key_file, {"key": key})
    return set()


def tag_corpus_dask(
    nlp: Language,
    corpus: str | Path,
    out: str | Path,
    text_fields: Sequence[str],
    *,
    id_field: str | None = None,
    fmt: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Tag ``corpus`` on Dask into the parts directory ``out`` (see the module docstring); resumable.

    Returns
    -------
    dict
        ``documents``, ``resumed`` (documents in parts finished before), ``spans`` (tagged now), ``skipped``
        (reasons), ``parts``, ``parts_resumed``, ``workers``, ``output``.
    """
    out = Path(out)
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "jsonl")
    if fmt not in ("jsonl", "parquet"):
        raise InputError(f"unknown output format {fmt!r} (jsonl or parquet)")
    if part_size < 1:
        raise InputError(f"--part-size must be at least 1, not {part_size}")
    if out.exists() and not out.is_dir():
        raise InputError("--engine dask writes a directory of parts; this is a file", path=out)
    key = config_hash(
        {
            "corpus": str(Path(corpus).resolve()),
            "fields": list(text_fields),
            "id": id_field,
            "fmt": fmt,
            "part_size": part_size,
            **(settings or {}),
        }
    )
    partial = out.with_name(out.name + ".partial")
    done = _prepare_partial(partial, key)
    report = ReadReport()
    docs = iter_documents(corpus, text_fields, id_field=id_field, report=report)
    client, cluster = _client(workers, scheduler)
    n_docs = resumed = n_spans = 0
    try:
        from distributed import as_completed

        payload = client.scatter(pipeline_payload(nlp), broadcast=True)
        limit = 2 * max(1, len(client.scheduler_info()["workers"]))
        pending = as_completed()
        waiting: dict[str, tuple[int, list[Document]]] = {}
        with bar(desc="tagging parts", unit="part") as pbar:

            def collect(future: Any) -> int:
                index, part = waiting.pop(future.key)
                spans = future.result()
                write_part(
                    [span_row(d, s) for d, s in zip(part, spans, strict=True)],
                    partial / part_name(index, fmt),
                    fmt,
                )
                pbar.update(1)
                return sum(map(len, spans))

            for index, part in enumerate(chunks(docs, part_size)):
                n_docs += len(part)
                if index in done:
                    resumed += len(part)
                    pbar.update(1)
                    continue
                future = client.submit(tag_part, payload, [d.text for d in part], pure=False)
                waiting[future.key] = (index, part)
                pending.add(future)
                while pending.count() >= limit:
                    n_spans += collect(next(pending))
            for future in pending:
                n_spans += collect(future)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if n_docs == 0:
        raise InputError("the corpus has no document to tag", path=Path(corpus))
    for line in report.skipped[:5]:
        print(f"warning: {line}", file=sys.stderr)
    parts = sorted(p for p in partial.glob("part-*") if p.suffix == f".{fmt}")
    atomic_write_json(
        partial / MANIFEST,
        {"format": fmt, "part_size": part_size, "documents": n_docs, "parts": [
            {"file": p.name, "sha256": sha256_file(p)} for p in parts
        ]},
    )  # fmt: skip
    (partial / KEY_FILE).unlink()
    replace_directory(partial, out)
    return {
        "documents": n_docs,
        "resumed": resumed,
        "spans": n_spans,
        "skipped": report.skipped,
        "parts": len(parts),
        "parts_resumed": len(done),
        "output": str(out),
    }
