"""Corpus tagging: read documents, tag them with the concept tagger, write a SPANS file.

Readers: JSONL, JSON (a list of records or a mapping ``id → record``, e.g. PubMedQA), CSV,
Parquet, and a Hugging Face ``datasets`` ``save_to_disk`` directory (its Arrow files are read
with pyarrow, ``datasets`` is not needed). Several ``--text-field`` values are joined with a
blank line; each row remembers where every field starts and ends in the joined text.

Output (one row per document): ``doc_id``, ``text``, ``fields`` (the original record),
``field_offsets`` (``{field: [start, end]}``) and ``spans`` (``{"start", "end", "text",
"concept_id", "level"}``). In Parquet, ``fields`` and ``field_offsets`` are JSON strings.

The run is resumable: documents are appended to ``OUT.partial`` as they are tagged; a rerun
with the same settings skips the doc_ids already there; the final file appears atomically.
``hierarchy tag --engine dask`` (:mod:`hierarchy.dask_tagging`) writes the same rows as a directory of parts
(``part-00000.jsonl`` …); :func:`read_spans` reads either.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from spacy.language import Language

from hierarchy.tagger import tag_texts
from ontology.common.atomic import atomic_path, atomic_write_json
from ontology.common.csvfiles import iter_csv_rows
from ontology.common.errors import InputError
from ontology.common.hashing import config_hash, sha256_file
from ontology.common.jsonl import iter_jsonl
from ontology.common.limits import check_document
from ontology.common.outputs import OutputKind, first_json_line, read_small_json
from ontology.common.progress import bar

FIELD_SEPARATOR = "\n\n"
#: a JSON corpus (not JSONL) is parsed whole: larger ones are refused with a hint to use JSONL
MAX_JSON_BYTES = 1 << 30
ID_FIELDS = ("doc_id", "id", "ID", "pmid", "PMID", "uid")
SPAN_TYPE = pa.struct(
    [
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("text", pa.string()),
        ("concept_id", pa.string()),
        ("level", pa.int8()),
    ]
)
SPANS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text", pa.string()),
        ("fields", pa.string()),
        ("field_offsets", pa.string()),
        ("spans", pa.list_(SPAN_TYPE)),
    ]
)


def _is_spans_file(path: Path) -> bool:
    if path.suffix == ".parquet":
        try:
            return set(SPANS_SCHEMA.names) <= set(pq.read_schema(path).names)
        except (OSError, pa.ArrowException, ValueError):
            return False
    row = first_json_line(path)
    return isinstance(row, dict) and {"doc_id", "text", "spans"} <= row.keys()


#: ``hierarchy tag -o SPANS``: an existing SPANS file is replaced, anything else refused
SPANS_OUTPUT = OutputKind("a SPANS file", False, "doc_id, text and spans in its first row", _is_spans_file)


@dataclass
class Document:
    """One document to tag: id, joined text, the original record and where each field sits in the text."""

    doc_id: str
    text: str
    fields: dict[str, Any]
    field_offsets: dict[str, list[int]]
    where: str = ""


@dataclass
class ReadReport:
    """What the reader skipped, as ``file:line: reason`` strings."""

    skipped: list[str] = field(default_factory=list)


# -- readers -----------------------------------------------------------------------------------
def _decode(path: Path, data: bytes, line_offset: int = 0) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 + line_offset
        raise InputError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", path=path, line=line) from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_jsonl(path)


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    limit = MAX_JSON_BYTES
    if path.stat().st_size > limit:
        raise InputError(
            f"a JSON corpus is read whole, and this one is larger than {limit >> 20} MiB: convert it to JSONL "
            "(one record per line), which is streamed",
            path=path,
        )
    try:
        data = json.loads(_decode(path, path.read_bytes()))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", path=path) from None
    if isinstance(data, dict):
        for n, (key, rec) in enumerate(data.items(), 1):
            if not isinstance(rec, dict):
                raise InputError(f"record {key!r} is not an object", path=path)
            yield n, {"doc_id": str(key), **rec}
    elif isinstance(data, list):
        for n, rec in enumerate(data, 1):
            if not isinstance(rec, dict):
                raise InputError(f"item {n} is not an object", path=path)
            yield n, rec
    else:
        raise InputError("top level must be a list of records or a mapping of id to record", path=path)


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV corpus, streamed line by line (:func:`ontology.common.csvfiles.iter_csv_rows`)."""
    for n, row in iter_csv_rows(path):
        yield n, dict(row)


def _arrow_tables(path: Path) -> Iterator[pa.RecordBatch]:
    if path.is_dir():
        if (path / "dataset_dict.json").is_file():
            splits = json.loads((path / "dataset_dict.json").read_text())["splits"]
            for split in splits:
                yield from _arrow_tables(path / split)
            return
        state = path / "state.json"
        if not state.is_file():
            raise InputError("not a datasets directory (no state.json or dataset_dict.json)", path=path)
        files = [path / f["filename"] for f in json.loads(state.read_text())["_data_files"]]
        for f in files:
            yield from _arrow_tables(f)
        return
    if path.suffix == ".parquet":
        yield from pq.ParquetFile(path).iter_batches(batch_size=1024)
        return
    with pa.memory_map(str(path)) as src:
        try:
            reader: Any = pa.ipc.open_stream(src)
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(src)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
            return
        yield from reader


def _table_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    n = 0
    try:
        for batch in _arrow_tables(path):
            for rec in batch.to_pylist():
                n += 1
                yield n, rec
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(
            f"not a readable Parquet/Arrow table or datasets directory ({detail})", path=path
        ) from None


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line or row number, record)`` of a JSONL, JSON, CSV, Parquet or ``datasets`` corpus."""
    path = Path(path)
    if not path.exists():
        raise InputError("corpus not found", path=path)
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".parquet", ".arrow"):
        return _table_records(path)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_records(path)
    if suffix == ".json":
        return _json_records(path)
    if suffix in (".csv", ".tsv"):
        return _csv_records(path)
    raise InputError(
        "unknown corpus format (use .jsonl, .json, .csv, .parquet or a datasets directory)", path=path
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(_as_text(v) for v in value if v is not None)
    return str(value)


def iter_documents(
    path: str | Path,
    text_fields: Sequence[str],
    *,
    id_field: str | None = None,
    report: ReadReport | None = None,
) -> Iterator[Document]:
    """Documents of a corpus: the ``text_fields`` joined by a blank line, with their offsets.

    Empty documents are skipped and listed in ``report.skipped`` as ``file:line: reason``. A repeated
    id gets a suffix (``123#2`` for its second occurrence), so that every document has its own id.

    Raises
    ------
    InputError
        For invalid UTF-8 or JSON (file and line), or a text field no record has.
    """
    path = Path(path)
    if not text_fields:
        raise InputError("give at least one --text-field")
    seen_fields: set[str] = set()
    id_counts: dict[str, int] = {}
    for n, rec in iter_records(path):
        where = f"{path}:{n}"
        missing = [f for f in text_fields if f not in rec]
        if missing and not seen_fields & set(missing):
            have = ", ".join(str(k) for k in list(rec)[:12])
            raise InputError(f"no field {missing[0]!r} in this record (fields: {have})", path=path, line=n)
        seen_fields.update(f for f in text_fields if f in rec)
        parts: list[str] = []
        offsets: dict[str, list[int]] = {}
        pos = 0
        for f in text_fields:
            value = _as_text(rec.get(f)).strip()
            if not value:
                continue
            if parts:
                pos += len(FIELD_SEPARATOR)
            offsets[f] = [pos, pos + len(value)]
            parts.append(value)
            pos += len(value)
        key = id_field or next((k for k in ID_FIELDS if rec.get(k) not in (None, "")), None)
        if id_field and rec.get(id_field) in (None, ""):
            raise InputError(f"id field {id_field!r} is missing or empty", path=path, line=n)
        doc_id = str(rec[key]) if key else str(n)
        id_counts[doc_id] = id_counts.get(doc_id, 0) + 1
        if id_counts[doc_id] > 1:
            doc_id = f"{doc_id}#{id_counts[doc_id]}"
        if not parts:
            if report is not None:
                report.skipped.append(f"{where}: empty document {doc_id!r} (fields {', '.join(text_fields)})")
            continue
        text = check_document(FIELD_SEPARATOR.join(parts), path, n)
        yield Document(doc_id, text, rec, offsets, where)


# -- tagging -----------------------------------------------------------------------------------
_NLP: Language | None = None


def _tag_batch(texts: list[str]) -> list[list[dict[str, Any]]]:
    assert _NLP is not None
    return list(tag_texts(_NLP, texts))


def chunks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    """Consecutive lists of ``size`` documents (the last may be shorter)."""
    batch: list[Document] = []
    for d in docs:
        batch.append(d)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def tag_documents(
    nlp: Language, docs: Iterable[Document], *, workers: int = 1, batch_size: int = 64
) -> Iterator[tuple[Document, list[dict[str, Any]]]]:
    """Tag documents in order, with ``workers`` forked processes when above 1."""
    global _NLP
    _NLP = nlp
    batches = chunks(docs, batch_size)
    if workers <= 1:
        for b in batches:
            yield from zip(b, _tag_batch([d.text for d in b]), strict=True)
        return
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        pending: list[tuple[list[Document], Any]] = []
        for b in batches:
            pending.append((b, pool.apply_async(_tag_batch, ([d.text for d in b],))))
            if len(pending) >= workers * 2:
                done, res = pending.pop(0)
                yield from zip(done, res.get(), strict=True)
        for done, res in pending:
            yield from zip(done, res.get(), strict=True)


def span_row(doc: Document, spans: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of a SPANS file."""
    return {
        "doc_id": doc.doc_id,
        "text": doc.text,
        "fields": doc.fields,
        "field_offsets": doc.field_offsets,
        "spans": spans,
    }


def _read_partial(partial: Path) -> set[str]:
    """doc_ids already in a partial JSONL output; a torn last line is cut off."""
    done: set[str] = set()
    good = 0
    with open(partial, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                done.add(json.loads(raw)["doc_id"])
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                break
            good += len(raw)
    with open(partial, "r+b") as fh:
        fh.truncate(good)
    return done


def tag_corpus(
    nlp: Language,
    corpus: str | Path,
    out: str | Path,
    text_fields: Sequence[str],
    *,
    id_field: str | None = None,
    fmt: str | None = None,
    workers: int = 1,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Tag every document of ``corpus`` and write ``out`` (JSONL or Parquet); resumable.

    Parameters
    ----------
    nlp : Language
        The pipeline from :func:`hierarchy.tagger.build_nlp`.
    corpus, out : path
        Input corpus and output file.
    text_fields : list of str
        Fields joined into the text.
    id_field : str, optional
        Field holding the document id (default: ``doc_id``/``id``/… or the row number).
    fmt : {"jsonl", "parquet"}, optional
        Output format (default from the suffix of ``out``).
    workers : int
        Tagging processes.
    settings : dict, optional
        What else determines the result (e.g. the graph's hash); a partial output written under
        other settings is discarded instead of resumed.

    Returns
    -------
    dict
        ``documents``, ``resumed``, ``spans``, ``skipped`` (reasons), ``output``.
    """
    out = Path(out)
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "jsonl")
    if fmt not in ("jsonl", "parquet"):
        raise InputError(f"unknown output format {fmt!r} (jsonl or parquet)")
    key = config_hash(
        {
            "corpus": str(Path(corpus).resolve()),
            "fields": list(text_fields),
            "id": id_field,
            **(settings or {}),
        }
    )
    partial = out.with_name(out.name + ".partial")
    meta = out.with_name(out.name + ".partial.json")
    done: set[str] = set()
    if partial.exists() or meta.exists():
        recorded = read_small_json(meta)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("key"), str):
            raise InputError(
                f"not a partial output of `hierarchy tag` ({meta.name} missing or unreadable); nothing was "
                f"written: move away or delete {partial.name} and {meta.name} to start again",
                path=partial,
            )
        if recorded["key"] == key and partial.exists():
            done = _read_partial(partial)
        else:  # ours (the record says so), written under other settings
            partial.unlink(missing_ok=True)
            atomic_write_json(meta, {"key": key})
    else:
        atomic_write_json(meta, {"key": key})
    report = ReadReport()
    docs = (
        d
        for d in iter_documents(corpus, text_fields, id_field=id_field, report=report)
        if d.doc_id not in done
    )
    n_docs = n_spans = 0
    with open(partial, "a", encoding="utf-8") as fh, bar(desc="tagging", unit="doc") as pbar:
        for doc, spans in tag_documents(nlp, docs, workers=workers):
            fh.write(jsonl_line(span_row(doc, spans)))
            n_docs += 1
            n_spans += len(spans)
            pbar.update(1)
            if n_docs % 256 == 0:
                fh.flush()
    _finalise(partial, out, fmt)
    meta.unlink(missing_ok=True)
    for line in report.skipped[:5]:
        print(f"warning: {line}", file=sys.stderr)
    return {
        "documents": n_docs + len(done),
        "resumed": len(done),
        "spans": n_spans,
        "skipped": report.skipped,
        "output": str(out),
    }


def part_name(index: int, fmt: str) -> str:
    """The file name of part ``index`` of a SPANS directory (``part-00012.parquet``)."""
    return f"part-{index:05d}.{fmt}"


def part_files(directory: Path) -> list[Path]:
    """The parts of a SPANS directory in order.

    Raises
    ------
    InputError
        When the directory holds no part.
    """
    parts = sorted(p for p in directory.glob("part-*") if p.suffix in (".jsonl", ".parquet"))
    if not parts:
        raise InputError("a spans directory without part-*.jsonl or part-*.parquet files", path=directory)
    return parts


def spans_hash(path: Path) -> str:
    """sha256 of a SPANS file, or of the sha256 list of a SPANS directory's parts (a cache key)."""
    if path.is_dir():
        return config_hash([sha256_file(p) for p in part_files(path)])
    return sha256_file(path)


def jsonl_line(row: dict[str, Any]) -> str:
    """A SPANS row as one JSONL line (the serial and the Dask engines write the same bytes)."""
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def write_parquet_rows(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write SPANS rows (``fields``/``field_offsets`` as dicts) as a Parquet file at ``path``."""
    writer = pq.ParquetWriter(path, SPANS_SCHEMA)
    try:
        batch: list[dict[str, Any]] = []
        for rec in rows:
            rec = dict(rec)
            rec["fields"] = json.dumps(rec["fields"], ensure_ascii=False, default=str)
            rec["field_offsets"] = json.dumps(rec["field_offsets"])
            batch.append(rec)
            if len(batch) >= 2048:
                writer.write_table(pa.Table.from_pylist(batch, schema=SPANS_SCHEMA))
                batch = []
        writer.write_table(pa.Table.from_pylist(batch, schema=SPANS_SCHEMA))
    finally:
        writer.close()


def _finalise(partial: Path, out: Path, fmt: str) -> None:
    if fmt == "jsonl":
        os.replace(partial, out)
        return
    with atomic_path(out) as tmp, open(partial, encoding="utf-8") as fh:
        write_parquet_rows((json.loads(line) for line in fh), tmp)
    partial.unlink()


def read_spans(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a SPANS file (JSONL or Parquet), or of a directory of parts written by ``hierarchy tag --engine
    dask`` (in part order), with ``fields`` and ``field_offsets`` as dicts."""
    path = Path(path)
    if path.is_dir():
        for part in part_files(path):
            yield from read_spans(part)
        return
    if not path.is_file():
        raise InputError("spans file not found", path=path)
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                rec["fields"] = json.loads(rec["fields"] or "{}")
                rec["field_offsets"] = json.loads(rec["field_offsets"] or "{}")
                yield rec
        return
    for n, rec in _jsonl_records(path):
        if "text" not in rec or "spans" not in rec:
            raise InputError("not a spans row (needs text and spans)", path=path, line=n)
        rec.setdefault("doc_id", str(n))
        yield rec
