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
redirected to it; labels that differ from the survivor's become synonyms with the scope the mapping supports
(:func:`mapping_scope`), and a ``label`` conflict when they also differ after
:func:`ontology.normalize.normalize`. Synonyms, xrefs, tree numbers and semantic types are united; the first
non-empty definition is kept.

Synonym scopes across a mapping
-------------------------------
An xref says that two concepts correspond, not that they are the same: DO's ``disease of mental health`` is
xref'd to MeSH *Mental Disorders*. A joined label is ``EXACT`` only when the mapping is exact: a
``skos:exactMatch`` declared by either side (OBO ``property_value``, read into ``mappings``) or a label that
normalises to the target's label or one of its ``EXACT`` synonyms. ``broadMatch``/``narrowMatch`` give
``NARROW``/``BROAD`` (the joined label names a narrower/broader concept); a plain xref, ``closeMatch`` or
``relatedMatch`` gives ``RELATED``. Under a non-exact mapping the joined concept's own ``EXACT`` synonyms take
the mapping's scope; its other synonyms keep theirs.

Joining synonyms only
---------------------
:func:`join_synonyms` adds the labels and synonyms of another graph's concepts to the concepts they xref,
with the same scopes, without creating any concept or edge: the way to use DO's vocabulary on a MeSH graph
(several DO terms may name one MeSH descriptor; a merge refuses such groups, a join adds each).

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


#: scope of a joined label on the target for each SKOS predicate "joined predicate target"
MAPPING_SCOPES = {
    "exactMatch": "EXACT",
    "closeMatch": "RELATED",
    "relatedMatch": "RELATED",
    "broadMatch": "NARROW",
    "narrowMatch": "BROAD",
}
_INVERSE = {"broadMatch": "narrowMatch", "narrowMatch": "broadMatch"}


def mapping_scope(joined: dict[str, Any], joined_id: str, target: dict[str, Any], target_id: str) -> str:
    """The scope of ``joined``'s label as a synonym of ``target`` (see "Synonym scopes across a mapping").

    Examples
    --------
    >>> mental = {"label": "Mental Disorders", "synonyms": []}
    >>> mapping_scope({"label": "disease of mental health"}, "DOID:150", mental, "MESH:D001523")
    'RELATED'
    >>> mapping_scope({"label": "mental disorder"}, "DOID:150", mental, "MESH:D001523")
    'EXACT'
    >>> mapping_scope({"label": "x", "mappings": [("broadMatch", "MSH:D001523")]}, "X:1", mental, "MESH:D001523")
    'NARROW'
    """
    for predicate, other in joined.get("mappings") or ():
        if normalize_xref(other) == target_id and predicate in MAPPING_SCOPES:
            return MAPPING_SCOPES[predicate]
    for predicate, other in target.get("mappings") or ():
        if normalize_xref(other) == joined_id and predicate in MAPPING_SCOPES:
            return MAPPING_SCOPES[_INVERSE.get(predicate, predicate)]
    names = {normalize(target.get("label") or "")}
    names.update(normalize(t) for t, sc in target.get("synonyms") or () if sc == "EXACT")
    return "EXACT" if normalize(joined.get("label") or "") in names else "RELATED"


def _joined_synonyms(joined: dict[str, Any], scope: str) -> list[tuple[str, str]]:
    """``joined``'s label and synonyms as synonyms of a target it maps to with ``scope``."""
    out = [(joined["label"], scope)] if joined.get("label") else []
    for text, sc in joined.get("synonyms") or ():
        out.append((text, scope if sc == "EXACT" and scope != "EXACT" else sc))
    return out


def join_synonyms(cg: ConceptGraph, other: ConceptGraph) -> dict[str, Any]:
    """Add the labels and synonyms of ``other``'s concepts to the concepts of ``cg`` they xref (in place).

    No concept or edge is added; each target also gets the joined id among its ``xrefs``. Returns (and appends
    to ``graph.graph["synonym_sources"]``) ``files, concepts, joined, targets, synonyms_added, by_scope,
    unknown_targets``; ``other``'s sources are appended to ``sources``.
    """
    joined = targets = added = unknown = 0
    by_scope: dict[str, int] = defaultdict(int)
    touched: set[str] = set()
    for sid, d in other.graph.nodes(data=True):
        if d.get("obsolete") or not d.get("label"):
            continue
        hits = [t for t in dict.fromkeys(normalize_xref(x) for x in d.get("xrefs") or ()) if t != sid]
        known = [t for t in hits if t in cg.graph and not cg.graph.nodes[t].get("obsolete")]
        unknown += len(hits) - len(known)
        joined += bool(known)
        for tid in known:
            into = cg.graph.nodes[tid]
            scope = mapping_scope(d, sid, into, tid)
            before = len(into.get("synonyms") or ())
            new = [
                s for s in _joined_synonyms(d, scope) if normalize(s[0]) != normalize(into.get("label") or "")
            ]
            into["synonyms"] = _union(list(into.get("synonyms") or []), new)
            into["xrefs"] = _union(list(into.get("xrefs") or []), [sid])
            added += len(into["synonyms"]) - before
            by_scope[scope] += 1
            touched.add(tid)
            targets += 1
    cg.invalidate()
    summary = {
        "files": [s.get("file") for s in other.sources],
        "concepts": other.graph.number_of_nodes(),
        "joined": joined,
        "targets": len(touched),
        "mappings": targets,
        "synonyms_added": added,
        "by_scope": dict(by_scope),
        "unknown_targets": unknown,
    }
    cg.graph.graph["sources"] = [*cg.sources, *other.sources]
    cg.graph.graph["skipped"] = [*cg.skipped, *other.skipped]
    cg.graph.graph["synonym_sources"] = [*cg.graph.graph.get("synonym_sources", []), summary]
    return summary


def _absorb(
    into: dict[str, Any], d: dict[str, Any], *, alias: str | None, conflicts: list[dict[str, Any]], node: str
) -> None:
    """Fold the attributes ``d`` of one input concept into the output node's ``into``."""
    label = d.get("label") or ""
    scope = "EXACT"
    if not into["label"]:
        into.update({k: v for k, v in d.items() if k not in into or not into[k]})
        into["label"] = label
        into["source"] = into["source"] or d.get("source", "")
    elif label:
        # the same id in several graphs is the same concept; an aliased one gets the scope its mapping supports
        scope = mapping_scope(d, alias, into, node) if alias else "EXACT"
        if label != into["label"]:
            into["synonyms"] = _union(into["synonyms"], [(label, scope)])
        if normalize(label) != normalize(into["label"]):
            conflicts.append(
                {
                    "type": "label",
                    "ids": [node] + ([alias] if alias else []),
                    "labels": [into["label"], label],
                }
            )
    own = [(str(t), str(sc)) for t, sc in _joined_synonyms({**d, "label": ""}, scope)]
    into["synonyms"] = _union(list(into.get("synonyms") or []), own)
    for key in ("xrefs", "tree_numbers", "semantic_types", "replaced_by"):
        into[key] = _union(list(into.get(key) or []), list(d.get(key) or ()))
    into["definition"] = into.get("definition") or d.get("definition")
    if d.get("declared") is not False and "declared" in into and into["declared"] is False:
        del into["declared"]
    if alias:
        into["aliases"] = _union(list(into.get("aliases") or []), [alias])
        into["xrefs"] = _union(into["xrefs"], [alias])
