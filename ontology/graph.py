"""ConceptGraph: a thin typed layer over a plain ``networkx.DiGraph``.

Edges point from child to parent (the ``is_a`` direction, as in obonet): the successors
of a node are its parents. The helpers below are named for what they return so that
nobody calls ``nx.descendants`` and gets the ancestors.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from typing import Any

import networkx as nx

SYNONYM_SCOPES = ("EXACT", "RELATED", "BROAD", "NARROW")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large graph.

    Readers create hundreds of thousands of small dicts and lists and no reference cycles; the collector's
    repeated passes over them cost a third of the build time. It is restored (and not forced to run) after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def node_attrs(
    label: str = "",
    *,
    synonyms: Iterable[tuple[str, str]] = (),
    definition: str | None = None,
    xrefs: Iterable[str] = (),
    tree_numbers: Iterable[str] = (),
    semantic_types: Iterable[str] = (),
    source: str = "",
    obsolete: bool = False,
    replaced_by: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """Node attributes with every documented key present (see ``docs/architecture.md``).

    Examples
    --------
    >>> node_attrs("Anxiety Disorders", source="MESH")["synonyms"]
    []
    """
    return {
        "label": label,
        "synonyms": [(str(t), str(s)) for t, s in synonyms],
        "definition": definition,
        "xrefs": list(xrefs),
        "tree_numbers": list(tree_numbers),
        "semantic_types": list(semantic_types),
        "source": source,
        "obsolete": bool(obsolete),
        "replaced_by": list(replaced_by),
        **extra,
    }


class ConceptGraph:
    """A concept graph: nodes are CURIEs, edges go child → parent.

    Parameters
    ----------
    graph : networkx.DiGraph, optional
        Taken as is (not copied). ``graph.graph`` carries ``sources`` and ``skipped``.

    Examples
    --------
    >>> cg = ConceptGraph()
    >>> cg.add_concept("X:1", "root")
    >>> cg.add_concept("X:2", "child")
    >>> cg.add_parent("X:2", "X:1")
    >>> cg.parents("X:2"), cg.children("X:1"), cg.depth("X:2")
    (['X:1'], ['X:2'], 1)
    """

    def __init__(self, graph: nx.DiGraph | None = None) -> None:
        self.graph: nx.DiGraph = graph if graph is not None else nx.DiGraph()
        self.graph.graph.setdefault("sources", [])
        self.graph.graph.setdefault("skipped", [])
        self._depth: dict[str, int] | None = None
        self._index: Any = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_records(
        cls,
        nodes: dict[str, dict[str, Any]],
        edges: Iterable[tuple[str, str, str]],
        **graph_attrs: Any,
    ) -> ConceptGraph:
        """A graph from node attribute dicts (taken as they are) and ``(child, parent, relation)`` edges.

        Fills the ``DiGraph``'s adjacency dicts directly (``_node``, ``_succ`` = ``_adj``, ``_pred``, one
        data dict shared by both directions: what ``add_nodes_from``/``add_edges_from`` build) at about half
        their cost; readers and the Parquet cache use it for 100k-concept graphs. An edge endpoint that is
        not in ``nodes`` gets an empty attribute dict, as with ``add_edge``.

        Examples
        --------
        >>> cg = ConceptGraph.from_records({"X:1": node_attrs("a"), "X:2": node_attrs("b")}, [("X:2", "X:1", "is_a")])
        >>> cg.parents("X:2"), cg.children("X:1")
        (['X:1'], ['X:2'])
        """
        g = nx.DiGraph()
        g.graph.update(graph_attrs)
        node = dict(nodes)
        succ: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in node}
        pred: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in node}
        for a, b, relation in edges:
            for n in (a, b):
                if n not in node:
                    node[n], succ[n], pred[n] = {}, {}, {}
            data = {"relation": relation}
            succ[a][b] = data
            pred[b][a] = data
        g._node, g._succ, g._adj, g._pred = node, succ, succ, pred
        return cls(g)

    def add_concept(self, concept_id: str, label: str = "", **attrs: Any) -> None:
        """Add (or replace the attributes of) one concept."""
        self.graph.add_node(concept_id, **node_attrs(label, **attrs))
        self.invalidate()

    def add_parent(self, child: str, parent: str, relation: str = "is_a") -> None:
        """Add the edge ``child → parent``."""
        self.graph.add_edge(child, parent, relation=relation)
        self.invalidate()

    def invalidate(self) -> None:
        """Drop the cached depths and search index (call after editing ``self.graph`` directly)."""
        self._depth = None
        self._index = None

    # -- basic access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.graph

    def __iter__(self) -> Iterator[str]:
        return iter(self.graph.nodes)

    def concept(self, concept_id: str) -> dict[str, Any]:
        """All attributes of a concept, with its ``id``.

        Raises
        ------
        KeyError
            With the id, when the graph has no such concept.
        """
        if concept_id not in self.graph:
            raise KeyError(f"no concept {concept_id!r} in the graph")
        return {"id": concept_id, **self.graph.nodes[concept_id]}

    def label(self, concept_id: str) -> str:
        """The concept's label (empty string when it has none)."""
        return self.graph.nodes[concept_id].get("label") or ""

    @property
    def sources(self) -> list[dict[str, Any]]:
        """Provenance of each source file: file, format, version, sha256, licence."""
        return self.graph.graph["sources"]

    @property
    def skipped(self) -> list[str]:
        """``file:line: reason`` for every item a tolerant reader skipped."""
        return self.graph.graph["skipped"]

    # -- navigation -----------------------------------------------------------------------------
    def parents(self, concept_id: str) -> list[str]:
        """Direct parents (more general concepts)."""
        return sorted(self.graph.successors(concept_id))

    def children(self, concept_id: str) -> list[str]:
        """Direct children (more specific concepts)."""
        return sorted(self.graph.predecessors(concept_id))

    def ancestors(self, concept_id: str) -> set[str]:
        """Every more general concept reachable through parents."""
        return nx.descendants(self.graph, concept_id)

    def descendants(self, concept_id: str) -> set[str]:
        """Every more specific concept reachable through children."""
        return nx.ancestors(self.graph, concept_id)

    def roots(self) -> list[str]:
        """Concepts without parents."""
        return sorted(n for n, d in self.graph.out_degree() if d == 0)

    def leaves(self) -> list[str]:
        """Concepts without children."""
        return sorted(n for n, d in self.graph.in_degree() if d == 0)

    def depth(self, concept_id: str) -> int:
        """Shortest number of ``is_a`` steps from the concept up to a root (roots: 0)."""
        if self._depth is None:
            self._depth = self._all_depths()
        return self._depth[concept_id]

    def _all_depths(self) -> dict[str, int]:
        depth: dict[str, int] = {}
        frontier = self.roots()
        for r in frontier:
            depth[r] = 0
        level = 0
        while frontier:
            level += 1
            nxt = []
            for node in frontier:
                for child in self.graph.predecessors(node):
                    if child not in depth:
                        depth[child] = level
                        nxt.append(child)
            frontier = nxt
        # nodes only on cycles have no root: give them -1 so callers can report them
        for node in self.graph.nodes:
            depth.setdefault(node, -1)
        return depth

    def max_depth(self) -> int:
        """Largest depth of any concept (0 for an empty graph)."""
        if self._depth is None:
            self._depth = self._all_depths()
        return max(self._depth.values(), default=0)

    def subtree(self, concept_id: str) -> ConceptGraph:
        """The concept with all its descendants, as a new graph (attributes shared, not copied)."""
        nodes = self.descendants(concept_id) | {concept_id}
        sub = self.graph.subgraph(nodes).copy()
        return ConceptGraph(sub)

    def paths_to_root(self, concept_id: str) -> list[list[str]]:
        """Every path from the concept up to a root, each starting at ``concept_id``, shortest first."""
        paths: list[list[str]] = []
        stack: list[list[str]] = [[concept_id]]
        while stack:
            path = stack.pop()
            parents = list(self.graph.successors(path[-1]))
            if not parents:
                paths.append(path)
                continue
            for p in parents:
                if p not in path:  # a cycle never loops forever here
                    stack.append(path + [p])
        return sorted(paths, key=lambda p: (len(p), p))

    def search(self, text: str, *, normalized: bool = True) -> list[str]:
        """Ids of concepts whose label or synonym equals ``text``, exactly or after :func:`ontology.normalize.normalize`.

        Exact matches come first (labels before synonyms), then normalised ones; see :mod:`ontology.search`.
        The index is built on the first call and cached.
        """
        if self._index is None:
            from ontology.search import ConceptIndex

            self._index = ConceptIndex(self.graph)
        return self._index.search(text, normalized=normalized)

    def stats(self) -> dict[str, Any]:
        """Counts for reports: ``concepts, edges, roots, leaves, max_depth, obsolete, skipped, sources, by_source``.

        ``roots`` leaves out obsolete concepts (they have no parents by construction); ``sources`` is the list
        of source file names; ``by_source`` counts concepts per ``source`` prefix.
        """
        by_source: dict[str, int] = {}
        obsolete = 0
        for _, data in self.graph.nodes(data=True):
            src = data.get("source") or ""
            by_source[src] = by_source.get(src, 0) + 1
            obsolete += bool(data.get("obsolete"))
        return {
            "concepts": self.graph.number_of_nodes(),
            "edges": self.graph.number_of_edges(),
            "roots": sum(
                1 for n, d in self.graph.out_degree() if d == 0 and not self.graph.nodes[n].get("obsolete")
            ),
            "leaves": sum(1 for _, d in self.graph.in_degree() if d == 0),
            "max_depth": self.max_depth(),
            "obsolete": obsolete,
            "skipped": len(self.skipped),
            "sources": [s.get("file") for s in self.sources],
            "by_source": dict(sorted(by_source.items())),
        }

    def lowest_common_ancestors(self, a: str, b: str) -> set[str]:
        """Common ancestors (a concept counts as its own) that have no descendant also in common."""
        common = (self.ancestors(a) | {a}) & (self.ancestors(b) | {b})
        return {c for c in common if not (self.descendants(c) & common)}
