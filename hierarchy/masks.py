"""The MASKS contract: per-token roles, levels and weights of a tokenized corpus, one Parquet file.

This module owns the format: the role codes, the schema, the writer and the readers; every other module
(the unlearner, the benchmark's answer marks, the preview) goes through it. One row per document:

- ``doc_id: str``, ``text: str`` (the exact string that was tokenized, e.g. rendered through the chat template),
- ``input_ids: list<int32>``, ``offsets: list<list<int32>>`` (char start/end per token),
- ``role: list<int8>`` (:data:`NEUTRAL` 0, :data:`PRESERVE` 1, :data:`TARGET` 2), ``level: list<int8>``
  (0 none, 1–4), ``weight: list<float32>``;

file metadata ``tokenizer_name``, ``tokenizer_hash`` (:func:`hierarchy.alignment.tokenizer_hash`), ``scope``,
``config_hash``, ``chat_template``. Files are written in row groups through an atomic temporary file; the
token values come from :func:`hierarchy.alignment.build_masks`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hierarchy.alignment import RoleRow, build_masks, tokenizer_hash
from ontology.common.atomic import atomic_path
from ontology.common.errors import InputError
from ontology.common.hashing import config_hash
from ontology.common.outputs import OutputKind, parquet_metadata
from ontology.common.progress import bar

#: token roles: neither kept nor forgotten, preservation-critical, forget target
NEUTRAL, PRESERVE, TARGET = 0, 1, 2
ROLE_NAMES = {NEUTRAL: "neutral", PRESERVE: "preserve", TARGET: "target"}

#: bump when the tagging or masking rules change their output, so cached masks (and what follows) rebuild
MASKS_VERSION = 3

MASKS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text", pa.string()),
        ("input_ids", pa.list_(pa.int32())),
        ("offsets", pa.list_(pa.list_(pa.int32()))),
        ("role", pa.list_(pa.int8())),
        ("level", pa.list_(pa.int8())),
        ("weight", pa.list_(pa.float32())),
    ]
)


def _list_array(values: np.ndarray, lengths: np.ndarray, typ: pa.DataType) -> pa.Array:
    offs = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offs), pa.array(values, type=typ))


class MaskWriter:
    """Stream mask rows into a Parquet file in row groups."""

    def __init__(self, path: Path, metadata: Mapping[str, str]) -> None:
        schema = MASKS_SCHEMA.with_metadata({k: str(v) for k, v in metadata.items()})
        self.writer = pq.ParquetWriter(path, schema)
        self.schema = schema
        self.rows: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, doc_id: str, text: str, ids: np.ndarray, offsets: np.ndarray, values: np.ndarray) -> None:
        self.rows.append((doc_id, text, ids, offsets, values))
        if len(self.rows) >= 512:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        lengths = np.array([len(r[2]) for r in self.rows], dtype=np.int64)
        ids = np.concatenate([r[2] for r in self.rows]).astype(np.int32)
        offs = np.concatenate([r[3] for r in self.rows]).astype(np.int32).reshape(-1)
        vals = np.concatenate([r[4] for r in self.rows])
        inner = pa.ListArray.from_arrays(
            pa.array(np.arange(0, len(offs) + 1, 2, dtype=np.int32)), pa.array(offs)
        )
        token_offsets = pa.array(np.concatenate(([0], np.cumsum(lengths))).astype(np.int32))
        table = pa.Table.from_arrays(
            [
                pa.array([r[0] for r in self.rows], pa.string()),
                pa.array([r[1] for r in self.rows], pa.string()),
                _list_array(ids, lengths, pa.int32()),
                pa.ListArray.from_arrays(token_offsets, inner),
                _list_array(vals[:, 0].astype(np.int8), lengths, pa.int8()),
                _list_array(vals[:, 1].astype(np.int8), lengths, pa.int8()),
                _list_array(vals[:, 2].astype(np.float32), lengths, pa.float32()),
            ],
            schema=self.schema,
        )
        self.writer.write_table(table)
        self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def write_masks(
    rows: Iterable[Mapping[str, Any]],
    tok: Any,
    table: Mapping[str, RoleRow],
    out: str | Path,
    *,
    tokenizer_name: str,
    scope: str,
    scope_ids: Sequence[str] = (),
    chat_template: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the MASKS Parquet file atomically; return counts and timings.

    ``scope`` is the scope as the user gave it (e.g. ``E04``), ``scope_ids`` the concept ids it resolved to.

    Returns
    -------
    dict
        ``documents``, ``tokens``, ``tokens_by_role`` (neutral/preserve/target), ``tokens_by_level``,
        ``seconds``, ``config_hash``, ``unknown_concepts`` (span concepts missing from
        the role table: they stay neutral).
    """
    thash = tokenizer_hash(tok)
    chash = config_hash(
        {"tokenizer": thash, "scope": scope, "chat_template": chat_template, **(settings or {})}
    )
    meta = {
        "tokenizer_name": tokenizer_name,
        "tokenizer_hash": thash,
        "scope": scope,
        "config_hash": chash,
        "chat_template": json.dumps(chat_template),
    }
    by_role = np.zeros(3, dtype=np.int64)
    by_level = np.zeros(5, dtype=np.int64)
    n_docs = n_tokens = 0
    unknown: set[str] = set()
    t0 = time.perf_counter()
    with atomic_path(out) as tmp, bar(desc="masks", unit="doc") as pbar:
        writer = MaskWriter(tmp, meta)
        try:
            for doc_id, text, ids, offsets, vals in build_masks(
                rows, tok, table, chat_template=chat_template, unknown=unknown
            ):
                writer.add(doc_id, text, ids, offsets, vals)
                by_role += np.bincount(vals[:, 0].astype(np.int64), minlength=3)[:3]
                by_level += np.bincount(vals[:, 1].astype(np.int64), minlength=5)[:5]
                n_docs += 1
                n_tokens += len(ids)
                pbar.update(1)
        finally:
            writer.close()
        if n_docs == 0:
            raise InputError("no documents to write", path=str(out))
    return {
        "documents": n_docs,
        "tokens": n_tokens,
        "tokens_by_role": dict(zip(ROLE_NAMES.values(), by_role.tolist(), strict=True)),
        "tokens_by_level": {f"L{k}": int(v) for k, v in enumerate(by_level)},
        "seconds": round(time.perf_counter() - t0, 3),
        "config_hash": chash,
        "unknown_concepts": sorted(unknown),
        "output": str(out),
    }


def _is_masks_file(path: Path) -> bool:
    meta = parquet_metadata(path)
    return meta is not None and b"tokenizer_hash" in meta and b"config_hash" in meta


#: ``hierarchy masks build -o MASKS``: an existing MASKS file is replaced, anything else refused
MASKS_OUTPUT = OutputKind("a MASKS file", False, "tokenizer_hash and config_hash metadata", _is_masks_file)


def masks_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a MASKS file (``tokenizer_hash``, ``scope``, …), without reading its rows."""
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if not k.startswith(b"ARROW") and k != b"pandas"}


def read_masks(
    path: str | Path, expected_tokenizer_hash: str | None = None
) -> tuple[pa.Table, dict[str, str]]:
    """The MASKS table and its metadata; with ``expected_tokenizer_hash``, check that the file was tokenized
    with that tokenizer.

    Raises
    ------
    InputError
        A missing or unreadable file, missing columns, no or another tokenizer hash.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such masks file", path=path)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"not a readable Parquet file ({exc})", path=path) from None
    missing = [c for c in MASKS_SCHEMA.names if c not in table.column_names]
    if missing:
        raise InputError(f"not a MASKS file: missing column(s) {', '.join(missing)}", path=path)
    meta = masks_metadata(path)
    if expected_tokenizer_hash is not None:
        recorded = meta.get("tokenizer_hash")
        if not recorded:
            raise InputError(
                "no tokenizer_hash in the file metadata; re-run `medunlearn hierarchy masks`", path=path
            )
        if recorded != expected_tokenizer_hash:
            raise InputError(
                f"masks were tokenized with tokenizer {meta.get('tokenizer_name', '?')} (hash {recorded[:12]}…) "
                f"but the model's tokenizer has hash {expected_tokenizer_hash[:12]}…; "
                "re-run `medunlearn hierarchy masks` with this model's tokenizer",
                path=path,
            )
    return table, meta


#: one row's token arrays: doc_id, input_ids, role, level, weight
MaskRow = tuple[str, list[int], list[int], list[int], list[float]]


def mask_rows(path: str | Path, expected_tokenizer_hash: str | None = None) -> Iterator[MaskRow]:
    """The token arrays of every row of a MASKS file (see :func:`read_masks`), each row checked for arrays of
    one length.

    Raises
    ------
    InputError
        As :func:`read_masks`, or a row whose arrays differ in length.
    """
    table, _ = read_masks(path, expected_tokenizer_hash)
    cols = table.select(["doc_id", "input_ids", "role", "level", "weight"]).to_pydict()
    for i, doc_id in enumerate(cols["doc_id"]):
        ids, role, level, weight = (cols[c][i] for c in ("input_ids", "role", "level", "weight"))
        if not (len(ids) == len(role) == len(level) == len(weight)):
            raise InputError(
                f"row {i} (doc_id {doc_id}): input_ids/role/level/weight lengths differ "
                f"({len(ids)}/{len(role)}/{len(level)}/{len(weight)})",
                path=path,
            )
        yield str(doc_id), list(ids), list(role), list(level), [float(w) for w in weight]


def relabel_span(
    src: Path,
    dst: Path,
    span: Callable[[str, str], tuple[int, int] | None],
    role: int,
    level: int,
    weight: float,
    *,
    skip_role: int | None = None,
) -> list[str]:
    """Copy a MASKS file, giving the tokens that overlap one character span of each row ``role``, ``level``
    and ``weight``.

    ``span(doc_id, text)`` returns the row's ``(start, end)`` in its text, or ``None`` to leave the row as it
    is. Rows holding a token of ``skip_role`` are left as they are; when ``role`` is :data:`PRESERVE`, tokens
    that already have a role other than neutral keep it. Returns the doc ids of the rows that changed.
    """
    table, _ = read_masks(src)
    cols = table.to_pydict()
    changed = []
    for i, doc_id in enumerate(cols["doc_id"]):
        roles = cols["role"][i]
        if skip_role is not None and skip_role in roles:
            continue
        where = span(doc_id, cols["text"][i])
        if where is None:
            continue
        start, end = where
        hit = False
        for t, (a, b) in enumerate(cols["offsets"][i]):
            if b > start and a < end and not (role == PRESERVE and roles[t] != NEUTRAL):
                roles[t], cols["level"][i][t], cols["weight"][i][t] = role, level, weight
                hit = True
        if hit:
            changed.append(doc_id)
    with atomic_path(dst) as tmp:
        pq.write_table(pa.Table.from_pydict(cols, schema=table.schema), tmp)
    return changed
