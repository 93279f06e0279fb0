"""Persist a :class:`~hierarchy.levels.Hierarchy` as a directory ``HIER/``.

Layout: ``levels.parquet`` (columns ``id, label, level, path, source, reason, rule``), ``graph/`` (the
concept graph, :func:`ontology.store.write_graph`, so a scope resolves from ``HIER`` alone) and
``meta.json`` (rule, options, config hash, the graph's sources, level counts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hierarchy.levels import Hierarchy
from ontology.common.atomic import atomic_path, atomic_write_json
from ontology.common.errors import InputError
from ontology.common.hashing import config_hash, sha256_file
from ontology.common.outputs import OutputKind, read_small_json
from ontology.store import read_graph, write_graph

FORMAT = "medunlearn-hierarchy/1"
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("label", pa.string()),
        ("level", pa.int8()),
        ("path", pa.list_(pa.string())),
        ("source", pa.string()),
        ("reason", pa.string()),
        ("rule", pa.string()),
    ]
)


def _is_hierarchy_dir(path: Path) -> bool:
    meta = read_small_json(path / "meta.json")
    return isinstance(meta, dict) and meta.get("format") == FORMAT


#: ``hierarchy build -o HIER``: an existing hierarchy directory is replaced, anything else refused
HIER_OUTPUT = OutputKind("a hierarchy directory", True, f"meta.json of format {FORMAT}", _is_hierarchy_dir)


def levels_table(hier: Hierarchy) -> pa.Table:
    """The ``levels.parquet`` table, one row per concept, sorted by id."""
    ids = sorted(hier.levels)
    nodes = hier.graph.graph.nodes
    return pa.table(
        {
            "id": ids,
            "label": [nodes[c].get("label") or "" for c in ids],
            "level": [hier.levels[c] for c in ids],
            "path": [hier.paths.get(c, []) for c in ids],
            "source": [str(nodes[c].get("source") or "") for c in ids],
            "reason": [hier.reasons.get(c, "") for c in ids],
            "rule": [hier.rules.get(c, "") for c in ids],
        },
        schema=SCHEMA,
    )


def write_hierarchy(hier: Hierarchy, outdir: str | Path) -> Path:
    """Write ``hier`` to ``outdir`` atomically (the whole directory appears at once); return the path."""
    outdir = Path(outdir)
    with atomic_path(outdir, is_dir=True) as tmp:
        pq.write_table(levels_table(hier), tmp / "levels.parquet")
        write_graph(hier.graph, tmp / "graph")
        meta: dict[str, Any] = {
            "format": FORMAT,
            "rule": hier.options.get("rule"),
            "options": hier.options,
            "config_hash": config_hash(hier.options),
            "sources": hier.graph.sources,
            "stats": hier.stats(),
        }
        atomic_write_json(tmp / "meta.json", meta)
    return outdir


def read_meta(hierdir: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of a hierarchy directory."""
    path = Path(hierdir) / "meta.json"
    if not (Path(hierdir) / "levels.parquet").is_file() or not path.is_file():
        raise InputError("not a hierarchy directory (expected levels.parquet and meta.json)", path=hierdir)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable meta.json ({exc})", path=path) from None
    if not isinstance(meta, dict):
        raise InputError(f"meta.json holds a {type(meta).__name__}, not a JSON object", path=path)
    if meta.get("format") != FORMAT:
        raise InputError(f"unknown hierarchy format {meta.get('format')!r}, expected {FORMAT!r}", path=path)
    return meta


def read_hierarchy(hierdir: str | Path) -> Hierarchy:
    """Read a directory written by :func:`write_hierarchy`."""
    hierdir = Path(hierdir)
    meta = read_meta(hierdir)
    graph = read_graph(hierdir / "graph")
    levels_file = hierdir / "levels.parquet"
    try:
        arrow = pq.ParquetFile(levels_file).read()
        missing = [c for c in SCHEMA.names if c not in arrow.column_names]
        if missing:
            raise InputError(f"levels.parquet lacks column(s) {', '.join(missing)}", path=levels_file)
        table = arrow.select(SCHEMA.names).cast(SCHEMA.remove_metadata()).to_pydict()
    except (OSError, ValueError, pa.ArrowException) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"not a readable levels table ({detail})", path=levels_file) from None
    if any(v is None or not 0 <= v <= 4 for v in table["level"]) or None in table["id"]:
        raise InputError("levels.parquet holds a missing id or a level outside 0..4", path=levels_file)
    levels = dict(zip(table["id"], (int(v) for v in table["level"]), strict=True))
    stray = next((c for c in levels if c not in graph), None)
    if stray is not None or len(levels) != len(graph):
        what = (
            f"{stray!r} is not in graph/" if stray else f"{len(levels)} levels for {len(graph)} graph nodes"
        )
        raise InputError(f"levels.parquet and graph/ disagree: {what}", path=hierdir)
    paths = dict(zip(table["id"], (list(p or []) for p in table["path"]), strict=True))
    reasons = {c: r for c, r in zip(table["id"], table["reason"], strict=True) if r}
    rules = dict(zip(table["id"], table["rule"], strict=True))
    return Hierarchy(graph, levels, paths, reasons, rules, dict(meta.get("options") or {}))


def open_hierarchy(source: Any) -> Hierarchy:
    """The one opener for a hierarchy argument: a :class:`Hierarchy` as it is, a ``ConceptGraph``, a HIER
    directory, or a graph directory or ontology file (:func:`ontology.loader.open_graph`), whose levels come
    from the automatic rule.

    Raises
    ------
    InputError
        When ``source`` is none of these.
    """
    from hierarchy.levels import build_hierarchy
    from ontology.graph import ConceptGraph
    from ontology.loader import open_graph

    if isinstance(source, Hierarchy):
        return source
    if isinstance(source, ConceptGraph):
        return build_hierarchy(source)
    path = Path(source)
    if (path / "levels.parquet").is_file():
        return read_hierarchy(path)
    if (path / "nodes.parquet").is_file() or path.is_file():
        return build_hierarchy(open_graph(path))
    raise InputError(
        "not a hierarchy directory (levels.parquet), graph directory or ontology file", path=path
    )


def source_hash(path: Path) -> str:
    """A cache key of a hierarchy argument: the sha256 of ``levels.parquet`` or ``nodes.parquet`` for a
    directory, of the file itself, or the resolved path."""
    for name in ("levels.parquet", "nodes.parquet"):
        if (path / name).is_file():
            return sha256_file(path / name)
    return sha256_file(path) if path.is_file() else str(path.resolve())
