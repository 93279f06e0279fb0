"""OBO Graphs JSON (ROBOT's and ``ontology export --format obographs``'s) into a concept graph.

``CLASS`` nodes (and nodes without a type) become concepts, their IRIs CURIEs
(:func:`ontology.readers.owl.iri_to_curie`); ``lbl``, ``meta.definition``, ``meta.synonyms``, ``meta.xrefs`` and
``meta.deprecated`` fill the usual attributes, ``basicPropertyValues`` under the predicates of
:mod:`ontology.writers.vocab` the rest. ``is_a`` edges (and ``rdfs:subClassOf``) are the hierarchy; other
edges (``part_of`` …) go to the node attribute ``relationships`` as ``(relation, target)`` pairs, as the OBO
reader does, unless ``all_edges`` (a round trip of our own export keeps every edge).

The first node with a label defines its id: a later node with another label is a duplicate id, left out and
noted (``duplicate id X …``, an error for ``ontology validate`` and ``--strict``); one with the same label or
none is a repeat and left out. A node without a label (a stub naming an imported class) is replaced by a later
one that has a label.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph, node_attrs
from ontology.readers.owl import iri_to_curie
from ontology.readers.provenance import Skips, read_text, source_record
from ontology.writers.vocab import (
    ALT_ID,
    EXTRA,
    REPLACED_BY,
    SEMANTIC_TYPE,
    SOURCE,
    SYNONYM_SCOPES,
    TREE_NUMBER,
)

IS_A = ("is_a", "http://www.w3.org/2000/01/rdf-schema#subClassOf", "rdfs:subClassOf")


def _node(n: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cid = iri_to_curie(n["id"])
    meta = n.get("meta") or {}
    props: dict[str, list[str]] = {}
    for p in meta.get("basicPropertyValues") or []:
        props.setdefault(p.get("pred", ""), []).append(p.get("val", ""))
    extra = {k[len(EXTRA) :]: json.loads(v[0]) for k, v in props.items() if k.startswith(EXTRA)}
    if "mappings" in extra:
        extra["mappings"] = [tuple(m) for m in extra["mappings"]]
    attrs = node_attrs(
        n.get("lbl") or "",
        synonyms=[
            (s["val"], SYNONYM_SCOPES.get(s.get("pred", ""), "RELATED")) for s in meta.get("synonyms") or []
        ],
        definition=(meta.get("definition") or {}).get("val"),
        xrefs=[x["val"] for x in meta.get("xrefs") or []],
        tree_numbers=props.get(TREE_NUMBER, []),
        semantic_types=props.get(SEMANTIC_TYPE, []),
        source=(props.get(SOURCE) or [cid.split(":", 1)[0] if ":" in cid else ""])[0],
        obsolete=bool(meta.get("deprecated")),
        replaced_by=[iri_to_curie(r) for r in props.get(REPLACED_BY, [])],
        **extra,
    )
    return cid, attrs


def from_obographs(data: dict[str, Any], skips: Skips, *, all_edges: bool = False) -> ConceptGraph:
    """The concept graph of an OBO Graphs document (see the module docstring); duplicates go to ``skips``."""
    cg = ConceptGraph()
    g = cg.graph
    relationships: list[tuple[str, str, str]] = []
    alt_ids: dict[str, str] = {}
    for graph in data.get("graphs") or []:
        for n in graph.get("nodes") or []:
            if n.get("type", "CLASS") == "CLASS" and n.get("id"):
                cid, attrs = _node(n)
                first = g.nodes[cid]["label"] if cid in g else ""
                if first:
                    if attrs["label"] and attrs["label"] != first:
                        skips.note(
                            f"duplicate id {cid}: two labels, {first!r} and {attrs['label']!r}; kept the first"
                        )
                    continue
                g.add_node(cid, **attrs)
                for p in (n.get("meta") or {}).get("basicPropertyValues") or []:
                    if p.get("pred") == ALT_ID:
                        alt_ids[p["val"]] = cid
        for e in graph.get("edges") or []:
            child, parent, pred = iri_to_curie(e["sub"]), iri_to_curie(e["obj"]), e.get("pred", "is_a")
            if child not in g or parent not in g:
                continue
            if pred in IS_A:
                g.add_edge(child, parent, relation="is_a")
            elif all_edges:
                g.add_edge(child, parent, relation=pred)
            else:
                relationships.append((child, pred, parent))
    for child, pred, parent in relationships:
        g.nodes[child].setdefault("relationships", []).append((iri_to_curie(pred), parent))
    g.graph["alt_ids"] = alt_ids
    cg.invalidate()
    return cg


def read_obographs(path: str | Path, strict: bool = False, all_edges: bool = False) -> ConceptGraph:
    """Read an OBO Graphs JSON file.

    Raises
    ------
    InputError
        A missing, empty or non-JSON file, or one without a ``graphs`` list.
    """
    path = Path(path)
    skips = Skips(path, strict)
    try:
        data = json.loads(read_text(path, skips))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("graphs"), list):
        raise InputError("not OBO Graphs JSON (no 'graphs' list at the top level)", path)
    cg = from_obographs(data, skips, all_edges=all_edges)
    if not len(cg):
        raise InputError("no CLASS node found: not an ontology", path)
    versions = [(gr.get("meta") or {}).get("version") for gr in data["graphs"]]
    cg.graph.graph["sources"] = [
        source_record(path, "obographs", version=next((v for v in versions if v), None))
    ]
    cg.graph.graph["skipped"] = skips.result()
    return cg
