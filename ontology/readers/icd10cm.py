"""ICD-10-CM tabular XML (``icd10cm-tabular-20XX.xml``, as shipped by ``simple-icd-10-cm``).

Four kinds of node, in a tree: ``chapter`` (``ICD10CM:chapter-5``, label "Mental, Behavioral and
Neurodevelopmental disorders (F01-F99)") → ``section`` (``ICD10CM:F40-F48``) → ``category``
(three-character code, ``ICD10CM:F41``) → ``code`` (``ICD10CM:F41.1``, and deeper codes under
their parent code). ``tree_numbers`` holds the code path joined by ``/``
(``5/F40-F48/F41/F41.1``); ``inclusionTerm`` notes become ``RELATED`` synonyms. A section of one
category (``B99``) gets the id ``ICD10CM:B99-B99`` so that it does not collide with the category.

A ``<diag>`` whose code an earlier one already defined is a duplicate id: it is left out, with the codes
under it, and ``duplicate id ICD10CM:…`` is noted (an error for ``ontology validate`` and ``--strict``).

``seventh_characters=True`` also creates the codes formed with a seventh-character extension
(``sevenChrDef``: ``S00.00`` + ``A`` → ``S00.00XA``, "…, initial encounter") under the leaf codes
the definition applies to. The expansion is mechanical: it also forms the few combinations that the
CMS code list leaves out (76 in the 2026 release, e.g. ``S06.1X7D``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import networkx as nx

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph, gc_paused, node_attrs
from ontology.readers.provenance import source_record
from ontology.readers.xmlsafe import check_xml

LICENCE = "ICD-10-CM: U.S. Centers for Disease Control and Prevention (NCHS) and CMS; public domain"


def _text(elem: ET.Element, tag: str) -> str:
    found = elem.find(tag)
    return " ".join((found.text or "").split()) if found is not None else ""


def _attrs(
    label: str, kind: str, path: list[str], synonyms: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    return node_attrs(
        label, synonyms=synonyms or (), tree_numbers=["/".join(path)], source="ICD10CM", kind=kind
    )


def _seventh_code(code: str, char: str) -> str:
    """``S00.00`` + ``A`` → ``S00.00XA`` (placeholder ``X`` up to six characters).

    Examples
    --------
    >>> _seventh_code("S00.00", "A"), _seventh_code("T07", "D"), _seventh_code("S72.001", "A")
    ('S00.00XA', 'T07.XXXD', 'S72.001A')
    """
    raw = code.replace(".", "").ljust(6, "X")
    return f"{raw[:3]}.{raw[3:]}{char}"


@gc_paused()  # about twice as fast at 100k concepts
def read_icd10cm(path: str | Path, strict: bool = False, seventh_characters: bool = False) -> ConceptGraph:
    """Read the ICD-10-CM tabular XML into a chapter → section → category → code tree.

    Parameters
    ----------
    path : str or Path
        The tabular XML (root ``<ICD10CM.tabular>``).
    strict : bool
        Raise on a ``<diag>`` without a ``<name>`` instead of skipping and reporting it.
    seventh_characters : bool
        Also create the codes formed with seventh-character extensions.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("empty file", path)
    check_xml(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML: {exc.msg.split(':')[0]}", path, line) from None
    if root.tag != "ICD10CM.tabular":
        raise InputError(f"root element is <{root.tag}>, expected <ICD10CM.tabular>", path)
    graph = nx.DiGraph()
    skipped: list[str] = []
    for chapter in root.iterfind("chapter"):
        number = _text(chapter, "name")
        cid = f"ICD10CM:chapter-{number}"
        graph.add_node(cid, **_attrs(_text(chapter, "desc"), "chapter", [number]))
        for section in chapter.iterfind("section"):
            sid = section.get("id", "")
            if "-" not in sid:  # a one-category section ("B99") must not share the category's id
                sid = f"{sid}-{sid}"
            snode = f"ICD10CM:{sid}"
            graph.add_node(snode, **_attrs(_text(section, "desc"), "section", [number, sid]))
            graph.add_edge(snode, cid, relation="is_a")
            for diag in section.iterfind("diag"):
                _add_diag(graph, diag, snode, [number, sid], {}, seventh_characters, strict, path, skipped)
    if graph.number_of_nodes() == 0:
        raise InputError("no <chapter> found", path)
    graph.graph["sources"] = [
        source_record(path, "icd10cm", version=_text(root, "version") or None, licence=LICENCE)
    ]
    graph.graph["skipped"] = skipped
    return ConceptGraph(graph)


def _add_diag(
    graph: nx.DiGraph,
    diag: ET.Element,
    parent: str,
    path: list[str],
    seventh: dict[str, str],
    expand: bool,
    strict: bool,
    file: Path,
    skipped: list[str],
) -> None:
    code = _text(diag, "name")
    if not code:
        message = f"<diag> under {parent} has no <name>"
        if strict:
            raise InputError(message, file)
        skipped.append(f"{file}: {message}")
        return
    node = f"ICD10CM:{code}"
    if node in graph:
        skipped.append(
            f"{file}: duplicate id {node}: a second <diag> (under {parent}); it and its codes left out"
        )
        return
    synonyms = [(" ".join((n.text or "").split()), "RELATED") for n in diag.iterfind("inclusionTerm/note")]
    label = _text(diag, "desc")
    graph.add_node(node, **_attrs(label, "category" if "." not in code else "code", [*path, code], synonyms))
    graph.add_edge(node, parent, relation="is_a")
    defs = diag.find("sevenChrDef")
    if defs is not None:
        seventh = {e.get("char", ""): " ".join((e.text or "").split()) for e in defs.iterfind("extension")}
    children = diag.findall("diag")
    for child in children:
        _add_diag(graph, child, node, [*path, code], seventh, expand, strict, file, skipped)
    if expand and seventh and not children:
        for char, meaning in seventh.items():
            ext = _seventh_code(code, char)
            graph.add_node(f"ICD10CM:{ext}", **_attrs(f"{label}, {meaning}", "code", [*path, code, ext]))
            graph.add_edge(f"ICD10CM:{ext}", node, relation="is_a")
