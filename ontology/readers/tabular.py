"""Parent–child tables (TSV or CSV) with a column mapping, e.g. the Disease Ontology's ``HumanDO.tsv``.

One row per (concept, parent) pair; a concept with several parents has several rows. The
parent column holds either the parent's id (``parent_by="id"``) or its label
(``parent_by="label"``, as in ``HumanDO.tsv``: ``id, label, subClassOf``). A parent label that
names no row's concept (``"disease"``, the DO root, has no row of its own) is reported in
``graph.graph["skipped"]`` once, at its first line, and those children become roots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import networkx as nx

from ontology.common.csvfiles import parse_csv
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph, gc_paused
from ontology.readers.provenance import Skips, read_text, source_record

#: column names tried, in order, when a mapping is not given
ID_COLUMNS = ("id", "ID", "concept_id", "code")
LABEL_COLUMNS = ("label", "name", "LABEL", "term")
PARENT_COLUMNS = ("subClassOf", "parent", "parent_id", "is_a", "parent_label")
XREF_COLUMNS = ("xrefs", "xref")


def _pick(
    header: list[str], given: str | None, candidates: tuple[str, ...], what: str, path: Path
) -> str | None:
    if given is not None:
        if given not in header:
            raise InputError(f"no {what} column {given!r}; the header has {header}", path, 1)
        return given
    return next((c for c in candidates if c in header), None)


@gc_paused()  # about twice as fast at 100k concepts
def read_tabular(
    path: str | Path,
    strict: bool = False,
    id_col: str | None = None,
    label_col: str | None = None,
    parent_col: str | None = None,
    xref_col: str | None = None,
    parent_by: Literal["auto", "id", "label"] = "auto",
    delimiter: str | None = None,
    prefix: str | None = None,
    licence: str = "not stated in the file",
) -> ConceptGraph:
    """Read a parent–child table into a concept graph.

    Parameters
    ----------
    path : str or Path
        A ``.tsv`` or ``.csv`` file with a header row.
    strict : bool
        Raise at the first bad row instead of skipping and reporting it.
    id_col, label_col, parent_col, xref_col : str, optional
        Column names; by default the first of ``ID_COLUMNS``/``LABEL_COLUMNS``/``PARENT_COLUMNS``/
        ``XREF_COLUMNS`` present. An xref cell may hold several xrefs separated by ``|``
        (``MESHinDO.tsv`` gives one row per xref instead).
    parent_by : {"auto", "id", "label"}
        What the parent column holds; ``auto`` says ``id`` when most parent values are ids of rows.
    delimiter : str, optional
        Field separator; by default a tab for ``.tsv``/``.tab``/``.txt`` files and a comma otherwise.
    prefix : str, optional
        Prefix for ids that have none (``"DOID"`` turns ``150`` into ``DOID:150``).
    licence : str
        Licence or attribution line recorded in ``graph.graph["sources"]``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
    >>> _ = p.write_text("id\\tlabel\\tparent\\nX:1\\troot\\t\\nX:2\\tleaf\\troot\\n")
    >>> read_tabular(p).parents("X:2")
    ['X:1']
    """
    path = Path(path)
    skips = Skips(path, strict)
    text = read_text(path, skips)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab", ".txt") else ","
    reader = parse_csv(text, path, delimiter)
    header = next(reader, [])
    idc = _pick(header, id_col, ID_COLUMNS, "id", path)
    if idc is None:
        raise InputError(f"no id column: name it with id_col= (the header has {header})", path, 1)
    labc = _pick(header, label_col, LABEL_COLUMNS, "label", path)
    parc = _pick(header, parent_col, PARENT_COLUMNS, "parent", path)
    xrc = _pick(header, xref_col, XREF_COLUMNS, "xref", path)
    pos = {c: header.index(c) for c in (idc, labc, parc, xrc) if c is not None}

    labels: dict[str, str] = {}
    xrefs: dict[str, dict[str, None]] = {}
    links: list[tuple[str, str, int]] = []
    for number, row in enumerate(reader, start=2):
        if not row or not any(row):
            continue
        if len(row) != len(header):
            skips.add(f"expected {len(header)} fields, got {len(row)}", number)
            continue
        cid = row[pos[idc]].strip()
        if not cid:
            skips.add("empty id", number)
            continue
        if prefix and ":" not in cid:
            cid = f"{prefix}:{cid}"
        label = row[pos[labc]].strip() if labc else ""
        if labels.get(cid, label) != label:
            skips.add(
                f"duplicate id {cid} with two labels, {labels[cid]!r} and {label!r}; kept the first", number
            )
        labels.setdefault(cid, label)
        if xrc:
            refs = xrefs.setdefault(cid, {})
            refs.update(dict.fromkeys(x.strip() for x in row[pos[xrc]].split("|") if x.strip()))
        parent = row[pos[parc]].strip() if parc else ""
        if parent:
            links.append((cid, parent, number))

    if not labels:
        raise InputError("no rows under the header", path)
    by_label: dict[str, str] = {}
    for cid, label in labels.items():
        by_label.setdefault(label, cid)
    if parent_by == "auto":
        as_ids = sum(1 for _, p, _ in links if p in labels or (prefix and f"{prefix}:{p}" in labels))
        parent_by = "id" if as_ids * 2 >= len(links) else "label"

    graph = nx.DiGraph()
    for cid, label in labels.items():
        source = cid.split(":", 1)[0] if ":" in cid else path.stem
        graph.add_node(
            cid,
            label=label,
            synonyms=[],
            definition=None,
            xrefs=list(xrefs.get(cid, ())),
            tree_numbers=[],
            semantic_types=[],
            source=source,
            obsolete=False,
            replaced_by=[],
        )
    missing: set[str] = set()
    edges = []
    for cid, parent, number in links:
        if parent_by == "label":
            target = by_label.get(parent)
        else:
            target = f"{prefix}:{parent}" if prefix and ":" not in parent else parent
            target = target if target in labels else None
        if target is None:
            if parent not in missing:
                missing.add(parent)
                skips.note(
                    f"parent {parent!r} is not a concept of this table; {cid} and its siblings become roots",
                    number,
                )
            continue
        edges.append((cid, target))
    graph.add_edges_from(edges, relation="is_a")
    graph.graph["sources"] = [source_record(path, "tsv", licence=licence)]
    graph.graph["skipped"] = skips.result()
    return ConceptGraph(graph)
