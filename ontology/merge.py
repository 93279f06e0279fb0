"""Merge several concept graphs into one, aligning concepts that cross-reference each other.

Alignment
---------
Two live (non-obsolete) concepts from *different* input graphs are linked when one lists the other's id
among its ``xrefs`` (after :func:`normalize_xref`: ``MSH:``/``MeSH:`` → ``MESH:``, ``UMLS_CUI:`` → ``UMLS:``,
``ICD10:``... left alone). Linked concepts form groups (connected components). A group that holds at most
one concept of each input graph is merged into one node; a group with two concepts of the same graph (e.g.
two DOIDs both xref'd to one MeSH descriptor) is ambiguous: nothing in it is merged and it is reported as a
``many_to_one`` conflict. The same id in several graphs is always the same node.

The surviving node
------------------
The id of the concept from the earliest graph in the argument order survives (pass MeSH first to keep MeSH
ids). The other ids are kept in its ``xrefs`` and in the extra attribute ``aliases``; their edges are
redirected to it; labels that differ from the survivor's become ``EXACT`` synonyms (and a ``label``
conflict when they also differ after :func:`ontology.normalize.normalize`). Synonyms, xrefs, tree numbers
and semantic types are united; the first non-empty definition is kept.

Graph data: ``sources`` and ``skipped`` are concatenated; ``merge_conflicts`` lists dicts with ``type``
(``many_to_one``, ``label`` or ``self_loop``) and the ids involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import networkx as nx

from ontology.graph import ConceptGraph, node_attrs
from ontology.normalize import normalize

#: Xref prefixes (upper-cased) that name the same namespace as a graph's CURIE prefix.
PREFIX_ALIASES = {"MSH": "MESH", "MESH": "MESH", "UMLS_CUI": "UMLS", "UMLS": "UMLS", "ICD10CM": "ICD10CM"}


def normalize_xref(xref: str) -> str:
    """An xref as a CURIE comparable with node ids.

    Examples
    --------
    >>> normalize_xref("MSH:D003920"), normalize_xref("MeSH:D003920"), normalize_xref("UMLS_CUI:C0011849")
    ('MESH:D003920', 'MESH:D003920', 'UMLS:C0011849')
    """
    prefix, sep, local = xref.strip().partition(":")
    if not sep:
        return xref.strip()
    return f"{PREFIX_ALIASES.get(prefix.upper(), prefix)}:{local.strip()}"


def _union(a: list[Any], b: list[Any]) -> list[Any]:
    """``a`` followed by the items of ``b`` not already there, in order."""
    out = list(a)
    seen = set(a)
    for x in b:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def merge_graphs(graphs: Sequence[ConceptGraph]) -> ConceptGraph:
    """One graph from several; see the module docstring for the alignment and survivor rules."""
    owner: dict[str, int] = {}  # node id -> index of the first graph that has it
    for i, cg in enumerate(graphs):
        for cid in cg.graph.nodes:
            owner.setdefault(cid, i)
    links = nx.Graph()
    for i, cg in enumerate(graphs):
        for cid, d in cg.graph.nodes(data=True):
            if d.get("obsolete"):
                continue
            for x in d.get("xrefs") or ():
                target = normalize_xref(x)
                j = owner.get(target)
                if j is None or j == i or target == cid:
                    continue
                if graphs[j].graph.nodes[target].get("obsolete"):
                    continue
                links.add_edge((i, cid), (j, target))
    conflicts: list[dict[str, Any]] = []
    survivor: dict[str, str] = {}
    for comp in nx.connected_components(links):
        members = sorted(comp)
        per_graph: dict[int, list[str]] = defaultdict(list)
        for i, cid in members:
            per_graph[i].append(cid)
        if any(len(ids) > 1 for ids in per_graph.values()):
            conflicts.append(
                {
                    "type": "many_to_one",
                    "ids": sorted({cid for _, cid in members}),
                    "detail": "xrefs are not one-to-one",
                }
            )
            continue
        keep = members[0][1]
        for _, cid in members[1:]:
            if cid != keep:
                survivor[cid] = keep
    out = ConceptGraph()
    g = out.graph
    for cg in graphs:
        for cid, d in cg.graph.nodes(data=True):
            target = survivor.get(cid, cid)
            if target not in g:
                g.add_node(target, **node_attrs())
            _absorb(
                g.nodes[target], d, alias=cid if cid != target else None, conflicts=conflicts, node=target
            )
        for a, b, data in cg.graph.edges(data=True):
            ta, tb = survivor.get(a, a), survivor.get(b, b)
            if ta == tb:
                conflicts.append(
                    {"type": "self_loop", "ids": [a, b], "detail": f"merging makes {a} is_a {b} a loop"}
                )
                continue
            if not g.has_edge(ta, tb):
                g.add_edge(ta, tb, **data)
        g.graph["sources"] = g.graph["sources"] + list(cg.sources)
        g.graph["skipped"] = g.graph["skipped"] + list(cg.skipped)
        for key, value in cg.graph.graph.items():
            if key not in ("sources", "skipped", "merge_conflicts"):
                g.graph.setdefault(key, value)
        conflicts.extend(cg.graph.graph.get("merge_conflicts", []))
    g.graph["merge_conflicts"] = conflicts
    return out


def _absorb(
    into: dict[str, Any], d: dict[str, Any], *, alias: str | None, conflicts: list[dict[str, Any]], node: str
) -> None:
    """Fold the attributes ``d`` of one input concept into the output node's ``into``."""
    label = d.get("label") or ""
    if not into["label"]:
        into.update({k: v for k, v in d.items() if k not in into or not into[k]})
        into["label"] = label
        into["source"] = into["source"] or d.get("source", "")
    elif label and label != into["label"]:
        into["synonyms"] = _union(into["synonyms"], [(label, "EXACT")])
        if normalize(label) != normalize(into["label"]):
            conflicts.append(
                {
                    "type": "label",
                    "ids": [node] + ([alias] if alias else []),
                    "labels": [into["label"], label],
                }
            )
    for key in ("synonyms", "xrefs", "tree_numbers", "semantic_types", "replaced_by"):
        into[key] = _union(
            list(into.get(key) or []), [tuple(s) if key == "synonyms" else s for s in d.get(key) or ()]
        )
    into["definition"] = into.get("definition") or d.get("definition")
    if d.get("declared") is not False and "declared" in into and into["declared"] is False:
        del into["declared"]
    if alias:
        into["aliases"] = _union(list(into.get("aliases") or []), [alias])
        into["xrefs"] = _union(into["xrefs"], [alias])
