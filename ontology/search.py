"""Concept lookup by label and synonym, exact or normalised (:func:`ontology.normalize.normalize`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx

from ontology.normalize import normalize

#: Rank of a match: labels first, then exact synonyms, then the other scopes.
_RANK = {"LABEL": 0, "EXACT": 1, "RELATED": 2, "NARROW": 3, "BROAD": 4}


class ConceptIndex:
    """Label and synonym index of a concept graph (``networkx.DiGraph`` with the documented node attributes).

    Obsolete concepts are indexed last (after every live match of the same rank).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> g.add_node("X:1", label="Anxiety Disorders", synonyms=[("anxiety", "BROAD")])
    >>> g.add_node("X:2", label="anxiety", synonyms=[])
    >>> idx = ConceptIndex(g)
    >>> idx.search("anxiety"), idx.search("anxiety-disorder"), idx.search("anxiety-disorder", normalized=False)
    (['X:2', 'X:1'], ['X:1'], [])
    """

    def __init__(self, graph: nx.DiGraph) -> None:
        exact: dict[str, list[tuple[int, bool, str]]] = defaultdict(list)
        norm: dict[str, list[tuple[int, bool, str]]] = defaultdict(list)
        for cid, data in graph.nodes(data=True):
            obsolete = bool(data.get("obsolete"))
            names: list[tuple[str, str]] = [(data.get("label") or "", "LABEL")]
            names.extend(data.get("synonyms") or ())
            for text, scope in names:
                if not text:
                    continue
                entry = (_RANK.get(scope, 5), obsolete, cid)
                exact[text].append(entry)
                norm[normalize(text)].append(entry)
        self._exact = dict(exact)
        self._norm = dict(norm)

    @staticmethod
    def _ordered(entries: list[tuple[int, bool, str]]) -> list[str]:
        seen: dict[str, Any] = {}
        for _, _, cid in sorted(entries, key=lambda e: (e[1], e[0], e[2])):
            seen.setdefault(cid, None)
        return list(seen)

    def search(self, text: str, *, normalized: bool = True) -> list[str]:
        """Ids matching ``text``: exact matches first, then (if ``normalized``) normalised matches."""
        hits = self._ordered(self._exact.get(text, []))
        if normalized:
            for cid in self._ordered(self._norm.get(normalize(text), [])):
                if cid not in hits:
                    hits.append(cid)
        return hits
