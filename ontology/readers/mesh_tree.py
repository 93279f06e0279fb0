"""MeSH tree files: NLM's ``MeshTree.txt`` (``Tree Number<TAB>Desc Ui<TAB>Term``) and ``mtrees`` (``Heading;TreeNumber``).

One node per descriptor (``MESH:D001829``) with all its tree numbers; its parents are the
descriptors at the parent positions (``A01.236.249`` → ``A01.236``), so a descriptor at
several positions has several parents. Top-level positions (``A01``) hang under one node
per category, ``MESHTREE:A`` … ``MESHTREE:Z``, labelled with the category name.

A descriptor has one row per position, so its UI repeats; the same UI with two different headings
(``MeshTree.txt``), or with two labels in the descriptor CSV, is a duplicate id: the first is kept and
``duplicate id MESH:D…`` noted (an error for ``ontology validate`` and ``--strict``). A tree number
that appears twice is skipped (raised in strict mode).

``mtrees`` files carry no descriptor UI: a heading gets ``MESH:<UI>`` when ``labels`` (the
descriptor CSV, see :func:`read_mesh_descriptor_csv`) knows the heading, otherwise the id
``MESHTREE:<its first tree number>``.

Newer names: ``labels=`` a MeSH descriptor CSV (``URI,scheme,label``, e.g. the 2026 list)
replaces each descriptor's label by the newer one (joined on the UI) and keeps the tree
file's heading as an ``EXACT`` synonym when it differs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import networkx as nx

from ontology.common.csvfiles import parse_csv
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph, gc_paused, node_attrs
from ontology.readers.provenance import MESH_LICENCE, Skips, read_text, source_record, year_in_name

#: The 16 MeSH tree categories (the first letter of a tree number).
MESH_CATEGORIES: dict[str, str] = {
    "A": "Anatomy",
    "B": "Organisms",
    "C": "Diseases",
    "D": "Chemicals and Drugs",
    "E": "Analytical, Diagnostic and Therapeutic Techniques, and Equipment",
    "F": "Psychiatry and Psychology",
    "G": "Phenomena and Processes",
    "H": "Disciplines and Occupations",
    "I": "Anthropology, Education, Sociology, and Social Phenomena",
    "J": "Technology, Industry, and Agriculture",
    "K": "Humanities",
    "L": "Information Science",
    "M": "Named Groups",
    "N": "Health Care",
    "V": "Publication Characteristics",
    "Z": "Geographicals",
}
_TREE_NUMBER = re.compile(r"^[A-Z]\d\d(\.\d{3})*$")
_UI = re.compile(r"^[DCQ]\d{6,9}$")


def _attrs(label: str, tree_numbers: list[str]) -> dict[str, Any]:
    return node_attrs(label, tree_numbers=tree_numbers, source="MESH")


def _rows(path: Path, text: str, skips: Skips) -> list[tuple[str, str | None, str, int]]:
    """(tree number, UI or None, heading, line) for each position in either format."""
    lines = text.split("\n")
    first = lines[0].strip()
    rows: list[tuple[str, str | None, str, int]] = []
    if "\t" in first:
        start = 2 if first.lower().startswith("tree number") else 1
        for number, line in enumerate(lines[start - 1 :], start=start):
            if not line.strip():
                continue
            parts = line.rstrip("\r").split("\t")
            if len(parts) != 3:
                skips.add(
                    f"expected 3 tab-separated fields (tree number, UI, term), got {len(parts)}", number
                )
                continue
            tn, ui, term = (p.strip() for p in parts)
            if not _TREE_NUMBER.match(tn) or not _UI.match(ui):
                skips.add(f"bad tree number {tn!r} or descriptor UI {ui!r}", number)
                continue
            rows.append((tn, ui, term, number))
    elif ";" in first:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            term, sep, tn = line.rstrip("\r").rpartition(";")
            tn = tn.strip()
            if not sep or not _TREE_NUMBER.match(tn):
                skips.add(f"expected 'Heading;TreeNumber', got {line[:60]!r}", number)
                continue
            rows.append((tn, None, term.strip(), number))
    else:
        raise InputError(
            "not a MeSH tree file: expected 'Tree Number<TAB>Desc Ui<TAB>Term' or 'Heading;TreeNumber' lines",
            path,
            1,
        )
    return rows


@gc_paused()  # about twice as fast at 100k concepts
def read_mesh_tree(path: str | Path, strict: bool = False, labels: str | Path | None = None) -> ConceptGraph:
    """Read a MeSH tree file into a descriptor DAG under the 16 category nodes.

    Parameters
    ----------
    path : str or Path
        ``MeshTree.txt`` (tab-separated with a header) or ``mtrees20XX.bin`` (``Heading;TreeNumber``).
    strict : bool
        Raise at the first malformed line instead of skipping and reporting it.
    labels : str or Path, optional
        A newer MeSH descriptor CSV whose labels replace the tree file's headings (joined on the UI).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = p.write_text("Tree Number\\tDesc Ui\\tTerm\\nF03\\tD001523\\tMental Disorders\\n"
    ...                  "F03.080\\tD001008\\tAnxiety Disorders\\n")
    >>> cg = read_mesh_tree(p)
    >>> cg.parents("MESH:D001008"), cg.parents("MESH:D001523"), cg.label("MESHTREE:F")
    (['MESH:D001523'], ['MESHTREE:F'], 'Psychiatry and Psychology')
    """
    path = Path(path)
    skips = Skips(path, strict)
    rows = _rows(path, read_text(path, skips), skips)
    newer = read_mesh_descriptor_csv(labels, strict=strict) if labels is not None else None
    by_heading: dict[str, str] = {}
    if newer is not None and rows and rows[0][1] is None:
        by_heading = {d["label"]: n for n, d in newer.graph.nodes(data=True)}

    position: dict[str, str] = {}  # tree number → node id
    heading_node: dict[str, str] = {}  # mtrees only: heading → node id
    nodes: dict[str, dict[str, Any]] = {}
    for tn, ui, term, number in rows:
        if ui is not None:
            node = f"MESH:{ui}"
        else:
            node = heading_node.setdefault(term, by_heading.get(term) or f"MESHTREE:{tn}")
        if tn in position:
            skips.add(f"tree number {tn} appears twice", number)
            continue
        position[tn] = node
        attrs = nodes.get(node)
        if attrs is None:
            nodes[node] = _attrs(term, [tn])
        else:
            attrs["tree_numbers"].append(tn)
            if attrs["label"] != term:
                skips.note(
                    f"duplicate id {node}: two headings, {attrs['label']!r} and {term!r}; kept the first",
                    number,
                )

    graph = nx.DiGraph()
    used = sorted({tn[0] for tn, *_ in rows if tn[0] in MESH_CATEGORIES})
    for letter in used:
        graph.add_node(f"MESHTREE:{letter}", **_attrs(MESH_CATEGORIES[letter], [letter]))
    graph.add_nodes_from(nodes.items())
    edges = []
    for tn, _ui, _term, number in rows:
        child = position.get(tn)
        if child is None:
            continue
        head, dot, _ = tn.rpartition(".")
        if not dot:
            if tn[0] not in MESH_CATEGORIES:
                skips.add(f"tree number {tn} is in no MeSH category", number)
                continue
            edges.append((child, f"MESHTREE:{tn[0]}"))
        elif head in position:
            edges.append((child, position[head]))
        else:
            skips.note(f"parent position {head} of {tn} is not in the file; edge dropped", number)
    graph.add_edges_from(edges, relation="is_a")

    version = year_in_name(path)
    sources = [
        source_record(path, "mesh-tree", version=version, licence=MESH_LICENCE.format(version=version or "?"))
    ]
    if newer is not None:
        _overlay_labels(graph, newer)
        sources += newer.sources
        skips.notes.extend(newer.skipped)
        skips.count += len(newer.skipped)
    graph.graph["sources"] = sources
    graph.graph["skipped"] = skips.result()
    return ConceptGraph(graph)


def _overlay_labels(graph: nx.DiGraph, newer: ConceptGraph) -> None:
    for node, data in newer.graph.nodes(data=True):
        attrs = graph.nodes.get(node)
        if attrs is None or attrs["label"] == data["label"]:
            continue
        if attrs["label"]:
            attrs["synonyms"].append((attrs["label"], "EXACT"))
        attrs["label"] = data["label"]


@gc_paused()  # about twice as fast at 100k concepts
def read_mesh_descriptor_csv(path: str | Path, strict: bool = False) -> ConceptGraph:
    """Read a MeSH descriptor list (``id,scheme,subject``: URI, ``MeSH``, label) as label-only nodes.

    The nodes (``MESH:D000001`` …) have no edges; merge them into a tree graph by UI, or pass the
    file as ``labels=`` to :func:`read_mesh_tree`.
    """
    path = Path(path)
    skips = Skips(path, strict)
    reader = parse_csv(read_text(path, skips), path)
    header = next(reader, [])
    if len(header) < 2:
        raise InputError("expected a CSV header with a descriptor URI column and a label column", path, 1)
    label_col = len(header) - 1
    graph = nx.DiGraph()
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            skips.add(f"expected {len(header)} fields, got {len(row)}", number)
            continue
        ui = row[0].rstrip("/").rsplit("/", 1)[-1]
        if not _UI.match(ui):
            skips.add(f"no MeSH UI at the end of {row[0]!r}", number)
            continue
        node, label = f"MESH:{ui}", row[label_col].strip()
        if node in graph:  # a repeated row is harmless; a second label is a second definition
            if graph.nodes[node]["label"] != label:
                first = graph.nodes[node]["label"]
                skips.note(
                    f"duplicate id {node}: two labels, {first!r} and {label!r}; kept the first", number
                )
            continue
        graph.add_node(node, **_attrs(label, []))
    version = year_in_name(path)
    graph.graph["sources"] = [
        source_record(path, "mesh-csv", version=version, licence=MESH_LICENCE.format(version=version or "?"))
    ]
    graph.graph["skipped"] = skips.result()
    return ConceptGraph(graph)
