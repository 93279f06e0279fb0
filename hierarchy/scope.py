"""Forget scopes: concept ids, labels, MeSH tree numbers or subtree roots → a set of concepts.

An item names a subtree root; the scope holds every root and all its descendants. Items resolve,
in this order: an exact concept id (``MESH:D001008``), a MeSH tree number (``F03.080``, ``E``),
a bare MeSH UI (``D001008``), a label, then an exact synonym (both compared after
:func:`ontology.normalize.normalize`, so ``anxiety disorder`` finds *Anxiety Disorders*). A label
shared by several concepts selects all of them. ``keep`` items carve subtrees out of the scope.

An item ``@FILE`` stands for the items of a scope file (:func:`read_scope_file`: one item per line, ``#``
comments), such as the one ``medunlearn hierarchy scope suggest`` writes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hierarchy.levels import Hierarchy
from hierarchy.rules import is_tree_number, tree_index
from ontology.common.errors import InputError
from ontology.normalize import normalize


class _Resolver:
    """Lazy indexes over one hierarchy's graph (tree numbers, labels, synonyms)."""

    def __init__(self, hier: Hierarchy) -> None:
        self.hier = hier
        self._tree: dict[str, str] | None = None
        self._labels: dict[str, list[str]] | None = None
        self._synonyms: dict[str, list[str]] | None = None

    def _build_text_index(self) -> None:
        labels: dict[str, list[str]] = {}
        synonyms: dict[str, list[str]] = {}
        for node, attrs in self.hier.graph.graph.nodes(data=True):
            if attrs.get("label"):
                labels.setdefault(normalize(attrs["label"]), []).append(node)
            for text, scope in attrs.get("synonyms") or []:
                if scope == "EXACT" and text:
                    synonyms.setdefault(normalize(text), []).append(node)
        self._labels, self._synonyms = labels, synonyms

    def resolve(self, item: str) -> list[str]:
        """Concept ids an item names (``[]`` when none)."""
        graph = self.hier.graph
        if item in graph:
            return [item]
        if is_tree_number(item):
            if self._tree is None:
                self._tree = tree_index(graph)
            if item in self._tree:
                return [self._tree[item]]
        if f"MESH:{item}" in graph:
            return [f"MESH:{item}"]
        if self._labels is None:
            self._build_text_index()
        assert self._labels is not None and self._synonyms is not None
        key = normalize(item)
        return sorted(self._labels.get(key) or self._synonyms.get(key) or [])

    def suggest(self, item: str, n: int = 5) -> list[str]:
        """Up to ``n`` near labels, each as ``'label' (id)``."""
        if self._labels is None:
            self._build_text_index()
        assert self._labels is not None
        close = difflib.get_close_matches(normalize(item), list(self._labels), n=n, cutoff=0.6)
        return [f"{self.hier.label(self._labels[k][0])!r} ({self._labels[k][0]})" for k in close]


def read_scope_file(path: str | Path) -> list[str]:
    """The items of a scope file: one per line, whatever follows ``#`` ignored, blank lines skipped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scope.txt"
    >>> _ = p.write_text("# suggested\\nE04  # Surgical Procedures, Operative\\n\\nNeoplasms\\n")
    >>> read_scope_file(p)
    ['E04', 'Neoplasms']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("scope file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"unreadable scope file: {exc}", path) from None
    items = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    items = [it for it in items if it]
    if not items:
        raise InputError("scope file names no item (one id, tree number or label per line)", path)
    return items


def expand_files(items: Iterable[str]) -> list[str]:
    """``items`` with every ``@FILE`` replaced by the items of that scope file."""
    out: list[str] = []
    for item in items:
        item = item.strip()
        out.extend(read_scope_file(item[1:]) if item.startswith("@") else [item])
    return out


def split_items(text: str, hier: Hierarchy) -> list[str]:
    """Split a comma-separated scope string, re-joining pieces that form a label with commas.

    ``"E04,Surgical Procedures, Operative"`` gives ``["E04", "Surgical Procedures, Operative"]`` when
    that label exists (longest join first); ``@FILE`` pieces give the items of a scope file.
    """
    pieces = [p.strip() for p in text.split(",")]
    resolver = _Resolver(hier)
    items: list[str] = []
    i = 0
    while i < len(pieces):
        if pieces[i].startswith("@"):
            items.extend(read_scope_file(pieces[i][1:]))
            i += 1
            continue
        for j in range(len(pieces), i, -1):
            joined = ", ".join(pieces[i:j])
            if j == i + 1 or resolver.resolve(joined):
                items.append(joined)
                i = j
                break
    return [it for it in items if it]


@dataclass(frozen=True)
class Scope:
    """A resolved forget scope.

    Attributes
    ----------
    roots : dict[str, list[str]]
        Each scope item and the concept ids it resolved to.
    concepts : frozenset[str]
        Every in-scope concept: the roots and their descendants, minus the kept subtrees.
    kept_roots : dict[str, list[str]]
        Each ``keep`` item and its concept ids.
    kept : frozenset[str]
        Concepts carved out of the scope by ``keep`` (roots and descendants that were in scope).
    """

    roots: dict[str, list[str]]
    concepts: frozenset[str]
    kept_roots: dict[str, list[str]] = field(default_factory=dict)
    kept: frozenset[str] = frozenset()

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.concepts

    def __len__(self) -> int:
        return len(self.concepts)

    @property
    def root_ids(self) -> list[str]:
        """Sorted ids of the subtree roots."""
        return sorted({c for ids in self.roots.values() for c in ids})

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: items, their ids, sizes."""
        return {
            "items": self.roots,
            "keep": self.kept_roots,
            "concepts": len(self.concepts),
            "kept": len(self.kept),
        }

    @classmethod
    def parse(
        cls, items: str | Sequence[str], hier: Hierarchy, keep: str | Sequence[str] | Iterable[str] = ()
    ) -> Scope:
        """Resolve scope items (and ``keep`` items) against ``hier``.

        Parameters
        ----------
        items : str or list of str
            Concept ids, MeSH tree numbers, labels or synonyms; a string is split on commas.
        hier : Hierarchy
            Supplies the graph.
        keep : str or list of str
            Subtrees to carve out of the scope (they stay preserved).

        Raises
        ------
        InputError
            For an empty scope or an item that names no concept (with near labels as suggestions).

        Examples
        --------
        >>> from ontology.graph import ConceptGraph
        >>> from hierarchy.levels import build_hierarchy
        >>> cg = ConceptGraph()
        >>> cg.add_concept("X:1", "Mental Disorders"); cg.add_concept("X:2", "Anxiety Disorders")
        >>> cg.add_parent("X:2", "X:1")
        >>> sorted(Scope.parse(["mental disorder"], build_hierarchy(cg)).concepts)
        ['X:1', 'X:2']
        """
        scope_items = split_items(items, hier) if isinstance(items, str) else expand_files(items)
        keep_items = split_items(keep, hier) if isinstance(keep, str) else expand_files(keep)
        scope_items = [s for s in scope_items if s]
        if not scope_items:
            raise InputError("empty scope: give at least one concept id, tree number or label")
        resolver = _Resolver(hier)
        roots = {item: _resolve_or_fail(resolver, item, "scope") for item in scope_items}
        kept_roots = {item: _resolve_or_fail(resolver, item, "keep") for item in keep_items if item}
        graph = hier.graph
        inside = _closure(graph, roots)
        carved = _closure(graph, kept_roots)
        return cls(roots, frozenset(inside - carved), kept_roots, frozenset(inside & carved))


def _resolve_or_fail(resolver: _Resolver, item: str, what: str) -> list[str]:
    ids = resolver.resolve(item)
    if ids:
        return ids
    hint = resolver.suggest(item)
    msg = f"{what} item {item!r} is not a concept id, tree number or label in the graph"
    raise InputError(msg + (f"; did you mean {', '.join(hint)}?" if hint else ""))


def _closure(graph: Any, roots: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for ids in roots.values():
        for cid in ids:
            if cid not in out:
                out.add(cid)
                out |= graph.descendants(cid)
    return out
