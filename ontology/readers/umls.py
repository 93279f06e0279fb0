"""UMLS Metathesaurus RRF files (``MRCONSO``, ``MRREL``, ``MRSTY``, optional ``MRDEF``), streamed line by line.

Nodes are concepts ``UMLS:<CUI>``. From ``MRCONSO.RRF`` (rows filtered by language and source
vocabulary, suppressible rows dropped unless asked for): the label is the concept's preferred
name (``TS=P, STT=PF, ISPREF=Y``, else the first kept row), the other names are ``EXACT``
synonyms, and each ``SAB:CODE`` becomes an xref (``MSH`` → ``MESH:D…`` so MeSH aligns by UI).
A CUI has many rows (one per atom) but one preferred name per language: a second, different
preferred name in the language of the label is a duplicate id, noted with its line (``duplicate id
UMLS:C…``, an error for ``ontology validate`` and ``--strict``); the first stays the label and both
are names.

Direction in ``MRREL.RRF``: a row ``CUI1|…|REL|CUI2|…`` states how the *second* concept relates
to the *first* ("REL: relationship of second concept or atom to first concept or atom", UMLS
Reference Manual, MRREL). So ``CUI1 PAR CUI2`` means CUI2 is a parent of CUI1 and
``CUI1 RB CUI2`` means CUI2 has a broader meaning than CUI1; ``CHD`` and ``RN`` are the inverses.
Edges (child → parent) are therefore:

====  =================  ===================
REL   edge               ``relation`` attr
====  =================  ===================
PAR   CUI1 → CUI2        ``is_a``
CHD   CUI2 → CUI1        ``is_a``
RB    CUI1 → CUI2        ``broader``
RN    CUI2 → CUI1        ``broader``
====  =================  ===================

The column layout of every file is taken from ``MRFILES.RRF`` when present (the standard
layout otherwise). ``MRSTY.RRF`` gives ``semantic_types`` as TUIs (``T048``); the names are in
``graph.graph["semantic_type_names"]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from ontology.common.errors import InputError
from ontology.common.limits import iter_lines
from ontology.graph import ConceptGraph, gc_paused
from ontology.readers.provenance import Skips, source_record

DEFAULT_COLUMNS: dict[str, list[str]] = {
    "MRCONSO.RRF": [
        "CUI",
        "LAT",
        "TS",
        "LUI",
        "STT",
        "SUI",
        "ISPREF",
        "AUI",
        "SAUI",
        "SCUI",
        "SDUI",
        "SAB",
        "TTY",
        "CODE",
        "STR",
        "SRL",
        "SUPPRESS",
        "CVF",
    ],
    "MRREL.RRF": [
        "CUI1",
        "AUI1",
        "STYPE1",
        "REL",
        "CUI2",
        "AUI2",
        "STYPE2",
        "RELA",
        "RUI",
        "SRUI",
        "SAB",
        "SL",
        "RG",
        "DIR",
        "SUPPRESS",
        "CVF",
    ],
    "MRSTY.RRF": ["CUI", "TUI", "STN", "STY", "ATUI", "CVF"],
    "MRDEF.RRF": ["CUI", "AUI", "ATUI", "SATUI", "SAB", "DEF", "SUPPRESS", "CVF"],
}
#: REL → (child is CUI2?, relation attribute) for the relations that form the hierarchy
HIERARCHY_RELS: dict[str, tuple[bool, str]] = {
    "PAR": (False, "is_a"),
    "CHD": (True, "is_a"),
    "RB": (False, "broader"),
    "RN": (True, "broader"),
}
XREF_PREFIX = {
    "MSH": "MESH",
    "ICD10CM": "ICD10CM",
    "ICD10": "ICD10",
    "SNOMEDCT_US": "SNOMEDCT_US",
    "NCI": "NCIT",
}
LICENCE = (
    "UMLS Metathesaurus{version}: U.S. National Library of Medicine, used under the UMLS Metathesaurus "
    "License Agreement; each source vocabulary keeps its own restrictions (do not redistribute)"
)
_RELEASE = re.compile(r"(19|20)\d\dA[AB]")


def _columns(meta: Path, skips: Skips) -> dict[str, list[str]]:
    columns = {k: list(v) for k, v in DEFAULT_COLUMNS.items()}
    mrfiles = meta / "MRFILES.RRF"
    if mrfiles.is_file():
        for number, fields in _rows(mrfiles, skips):
            if len(fields) >= 3 and fields[0] in columns:
                columns[fields[0]] = fields[2].split(",")
            elif len(fields) < 3:
                skips.add("MRFILES row needs FIL|DES|FMT", number)
    return columns


def _rows(path: Path, skips: Skips) -> Iterator[tuple[int, list[str]]]:
    with open(path, "rb") as fh:
        for number, raw in iter_lines(fh, path):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skips.add(f"invalid UTF-8 at byte {exc.start} of the line", number)
                continue
            line = line.rstrip("\r\n")
            if line:
                yield number, line.split("|")


def _table(path: Path, cols: list[str], skips: Skips) -> Iterator[tuple[int, dict[str, str]]]:
    n = len(cols)
    for number, fields in _rows(path, skips):
        if len(fields) == n + 1 and fields[-1] == "":
            fields.pop()  # RRF rows end with a '|'
        if len(fields) != n:
            skips.add(f"expected {n} '|'-separated fields, got {len(fields)}", number)
            continue
        yield number, dict(zip(cols, fields, strict=True))


def _xref(sab: str, code: str) -> str | None:
    if not code or code == "NOCODE":
        return None
    if ":" in code:  # HPO, GO, … already carry their prefix
        return code
    return f"{XREF_PREFIX.get(sab, sab)}:{code}"


@gc_paused()  # about twice as fast at 100k concepts
def read_umls(
    path: str | Path,
    strict: bool = False,
    languages: Sequence[str] = ("ENG",),
    sources: Sequence[str] | None = None,
    relations: Sequence[str] = ("PAR", "CHD", "RB", "RN"),
    include_suppressed: bool = False,
) -> ConceptGraph:
    """Read a UMLS ``META`` directory (or its ``MRCONSO.RRF``) into a concept graph.

    Parameters
    ----------
    path : str or Path
        The directory holding the RRF files, or ``MRCONSO.RRF`` itself (the others beside it).
    strict : bool
        Raise at the first malformed row instead of skipping and reporting it.
    languages : sequence of str
        ``LAT`` values to keep (``("ENG",)``); empty keeps all.
    sources : sequence of str, optional
        ``SAB`` values to keep for names and relations (``None`` keeps all).
    relations : sequence of str
        Which of ``PAR, CHD, RB, RN`` make hierarchy edges.
    include_suppressed : bool
        Keep names whose ``SUPPRESS`` flag is not ``N``.
    """
    path = Path(path)
    meta = path if path.is_dir() else path.parent
    mrconso = meta / "MRCONSO.RRF"
    if not mrconso.is_file():
        raise InputError("no MRCONSO.RRF here: expected a UMLS META directory", meta)
    skips = Skips(mrconso, strict)
    columns = _columns(meta, skips)
    langs = set(languages)
    sabs = set(sources) if sources is not None else None
    unknown = set(relations) - set(HIERARCHY_RELS)
    if unknown:
        raise InputError(f"unknown relations {sorted(unknown)}; choose from PAR, CHD, RB, RN", meta)

    names: dict[str, dict[str, Any]] = {}
    for number, row in _table(mrconso, columns["MRCONSO.RRF"], skips):
        if (langs and row["LAT"] not in langs) or (sabs is not None and row["SAB"] not in sabs):
            continue
        if not include_suppressed and row.get("SUPPRESS", "N") not in ("N", ""):
            continue
        entry = names.get(row["CUI"])
        if entry is None:
            entry = names[row["CUI"]] = {"label": None, "first": row["STR"], "names": {}, "xrefs": {}}
        if row["TS"] == "P" and row["STT"] == "PF" and row["ISPREF"] == "Y":
            if entry["label"] is None:
                entry["label"], entry["lat"] = row["STR"], row["LAT"]
            elif entry["lat"] == row["LAT"] and entry["label"] != row["STR"]:
                skips.note(
                    f"duplicate id UMLS:{row['CUI']}: two preferred {row['LAT']} names, {entry['label']!r} "
                    f"and {row['STR']!r}; kept the first",
                    number,
                )
        entry["names"][row["STR"]] = None
        xref = _xref(row["SAB"], row["CODE"])
        if xref:
            entry["xrefs"][xref] = None
    if not names:
        raise InputError("no concept left after the language and source filters", mrconso)

    graph = nx.DiGraph()
    for cui, entry in names.items():
        label = entry["label"] or entry["first"]
        graph.add_node(
            f"UMLS:{cui}",
            label=label,
            synonyms=[(s, "EXACT") for s in entry["names"] if s != label],
            definition=None,
            xrefs=list(entry["xrefs"]),
            tree_numbers=[],
            semantic_types=[],
            source="UMLS",
            obsolete=False,
            replaced_by=[],
        )
    names.clear()
    files = [mrconso]
    files += _read_relations(meta, columns, graph, set(relations), sabs, skips)
    files += _read_semantic_types(meta, columns, graph, skips)
    files += _read_definitions(meta, columns, graph, sabs, skips)

    release = _RELEASE.search(str(meta.resolve()))
    version = release.group(0) if release else None
    graph.graph["sources"] = [
        source_record(
            f, "umls", version=version, licence=LICENCE.format(version=f" {version}" if version else "")
        )
        for f in files
    ]
    graph.graph["skipped"] = skips.result()
    return ConceptGraph(graph)


def _read_relations(
    meta: Path,
    columns: dict[str, list[str]],
    graph: nx.DiGraph,
    wanted: set[str],
    sabs: set[str] | None,
    skips: Skips,
) -> list[Path]:
    mrrel = meta / "MRREL.RRF"
    if not mrrel.is_file() or not wanted:
        return []
    skips.path = str(mrrel)
    nodes = graph.nodes
    for _, row in _table(mrrel, columns["MRREL.RRF"], skips):
        rel = row["REL"]
        if rel not in wanted or (sabs is not None and row["SAB"] not in sabs):
            continue
        a, b = f"UMLS:{row['CUI1']}", f"UMLS:{row['CUI2']}"
        if a == b or a not in nodes or b not in nodes:
            continue
        child_is_cui2, relation = HIERARCHY_RELS[rel]
        child, parent = (b, a) if child_is_cui2 else (a, b)
        if not graph.has_edge(child, parent) or relation == "is_a":
            graph.add_edge(child, parent, relation=relation)
    return [mrrel]


def _read_semantic_types(
    meta: Path, columns: dict[str, list[str]], graph: nx.DiGraph, skips: Skips
) -> list[Path]:
    mrsty = meta / "MRSTY.RRF"
    if not mrsty.is_file():
        return []
    skips.path = str(mrsty)
    names: dict[str, str] = {}
    for _, row in _table(mrsty, columns["MRSTY.RRF"], skips):
        node = graph.nodes.get(f"UMLS:{row['CUI']}")
        if node is not None and row["TUI"] not in node["semantic_types"]:
            node["semantic_types"].append(row["TUI"])
            names[row["TUI"]] = row["STY"]
    graph.graph["semantic_type_names"] = names
    return [mrsty]


def _read_definitions(
    meta: Path, columns: dict[str, list[str]], graph: nx.DiGraph, sabs: set[str] | None, skips: Skips
) -> list[Path]:
    mrdef = meta / "MRDEF.RRF"
    if not mrdef.is_file():
        return []
    skips.path = str(mrdef)
    for _, row in _table(mrdef, columns["MRDEF.RRF"], skips):
        node = graph.nodes.get(f"UMLS:{row['CUI']}")
        if node is not None and node["definition"] is None and (sabs is None or row["SAB"] in sabs):
            node["definition"] = row["DEF"]
    return [mrdef]
