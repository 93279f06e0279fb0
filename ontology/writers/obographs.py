"""A concept graph as OBO Graphs JSON (https://github.com/geneontology/obographs), which ``ontology build``
reads back (:mod:`ontology.readers.obographs`).

Node ids are IRIs (:func:`ontology.prefixes.expand`); label, definition, synonyms (``pred``
``hasExactSynonym`` …), xrefs and ``deprecated`` go where the format puts them; tree numbers, semantic types,
source and replacement terms are ``basicPropertyValues`` under standard predicates
(:mod:`ontology.writers.vocab`), medunlearn's own attributes JSON under ``urn:medunlearn:attribute:NAME``.
Edges carry ``is_a`` (or the edge's relation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ontology.common.atomic import atomic_write_text
from ontology.graph import ConceptGraph
from ontology.prefixes import expand
from ontology.writers.vocab import (
    ALT_ID,
    EXTRA,
    REPLACED_BY,
    SEMANTIC_TYPE,
    SOURCE,
    SYNONYM_PREDICATES,
    TREE_NUMBER,
)

#: node attributes with a place of their own in OBO Graphs (the rest are ``urn:medunlearn:attribute:`` values)
STANDARD_KEYS = frozenset(
    {
        "label",
        "synonyms",
        "definition",
        "source",
        "obsolete",
        "xrefs",
        "tree_numbers",
        "semantic_types",
        "replaced_by",
    }
)


def to_obographs(cg: ConceptGraph) -> dict[str, Any]:
    """The OBO Graphs JSON document of ``cg``."""
    alt_ids: dict[str, list[str]] = {}
    for alt, primary in (cg.graph.graph.get("alt_ids") or {}).items():
        alt_ids.setdefault(primary, []).append(alt)
    nodes = []
    for cid, d in cg.graph.nodes(data=True):
        meta: dict[str, Any] = {}
        if d.get("definition"):
            meta["definition"] = {"val": d["definition"]}
        if d.get("synonyms"):
            meta["synonyms"] = [
                {"pred": SYNONYM_PREDICATES.get(s, "hasRelatedSynonym"), "val": t} for t, s in d["synonyms"]
            ]
        if d.get("xrefs"):
            meta["xrefs"] = [{"val": x} for x in d["xrefs"]]
        if d.get("obsolete"):
            meta["deprecated"] = True
        props = [{"pred": SOURCE, "val": d.get("source") or ""}]
        props += [{"pred": TREE_NUMBER, "val": t} for t in d.get("tree_numbers") or []]
        props += [{"pred": SEMANTIC_TYPE, "val": t} for t in d.get("semantic_types") or []]
        props += [{"pred": REPLACED_BY, "val": t} for t in d.get("replaced_by") or []]
        props += [{"pred": ALT_ID, "val": a} for a in alt_ids.get(cid, ())]
        props += [
            {"pred": EXTRA + k, "val": json.dumps(v, ensure_ascii=False, default=list)}
            for k, v in d.items()
            if k not in STANDARD_KEYS
        ]
        meta["basicPropertyValues"] = props
        nodes.append({"id": expand(cid), "lbl": d.get("label") or "", "type": "CLASS", "meta": meta})
    edges = [
        {"sub": expand(a), "pred": rel, "obj": expand(b)}
        for a, b, rel in cg.graph.edges(data="relation", default="is_a")
    ]
    versions = [s.get("version") for s in cg.sources if s.get("version")]
    graph_meta = {"version": versions[0]} if versions else {}
    return {"graphs": [{"id": "medunlearn", "meta": graph_meta, "nodes": nodes, "edges": edges}]}


def write_obographs(cg: ConceptGraph, path: str | Path) -> Path:
    """Write ``cg`` as OBO Graphs JSON (atomically)."""
    return atomic_write_text(Path(path), json.dumps(to_obographs(cg), ensure_ascii=False))
