"""Level rules: one per source. Each turns a concept into ``(level, path)`` or ``(0, reason)``.

Levels run from 1 (domain) to 4 (specific); anything deeper than L4 is folded into L4.
A path is read from the root down to the concept, e.g. ``["MESHTREE:F", "MESH:D001523", "MESH:D001008"]``
for *Anxiety Disorders* (``F`` → ``F03`` → ``F03.080``).

Rules
-----
``mesh``
    Tree-number depth: the category letter (``MESHTREE:F``) is L1, a tree number with one segment
    (``F03``) L2, two segments (``F03.080``) L3, three or more L4.
``icd10cm``
    The node attribute ``kind``: chapter L1, section L2, category L3, any code below a category L4.
``depth``
    Distance from a root through ``is_a`` edges, cut at configurable start depths
    (``depth_starts``, default ``(0, 1, 2, 3)``: a root is L1, its children L2, grandchildren L3,
    deeper L4). Concepts above the first start depth are folded into L1.
``mapping``
    An explicit table ``id → level`` read from a CSV/TSV file.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph

RULES = ("auto", "mesh", "icd10cm", "depth", "mapping")
ICD_KIND_LEVEL = {"chapter": 1, "section": 2, "block": 2, "category": 3}
ICD_CODE_KINDS = {"code", "subcategory", "extension"}
MESH_SOURCES = {"MESH", "MESHTREE"}
_TREE_NUMBER = re.compile(r"^[A-Z](\d{2}(\.\d{3})*)?$")

Positions = dict[str, tuple[int, list[str]]]
"""``id → (depth, path from the root)`` for every concept reached from a root."""


def is_tree_number(text: str) -> bool:
    """True for a MeSH tree number such as ``F``, ``F03`` or ``F03.080.725``.

    Examples
    --------
    >>> is_tree_number("F03.080"), is_tree_number("F3.08"), is_tree_number("E")
    (True, False, True)
    """
    return bool(_TREE_NUMBER.match(text))


def tree_depth(tree_number: str) -> int:
    """Depth of a tree position below its category letter (the letter itself: 0).

    Examples
    --------
    >>> [tree_depth(t) for t in ("F", "F03", "F03.080", "F03.080.725")]
    [0, 1, 2, 3]
    """
    return 0 if len(tree_number) == 1 else tree_number.count(".") + 1


def mesh_level(tree_number: str) -> int:
    """Level of one MeSH tree position: letter L1, one segment L2, two L3, deeper L4.

    Examples
    --------
    >>> [mesh_level(t) for t in ("F", "F03", "F03.080", "F03.080.725", "F03.080.725.100")]
    [1, 2, 3, 4, 4]
    """
    return min(tree_depth(tree_number) + 1, 4)


def tree_numbers_of(concept_id: str, attrs: Mapping[str, Any]) -> list[str]:
    """A concept's MeSH tree numbers; a ``MESHTREE:X`` category node counts as tree number ``X``."""
    numbers = [t for t in attrs.get("tree_numbers") or [] if is_tree_number(t)]
    if not numbers and concept_id.startswith("MESHTREE:"):
        tail = concept_id.split(":", 1)[1]
        if is_tree_number(tail):
            numbers = [tail]
    return numbers


def tree_index(cg: ConceptGraph) -> dict[str, str]:
    """``tree number → concept id`` over every MeSH node of the graph."""
    index: dict[str, str] = {}
    for node, attrs in cg.graph.nodes(data=True):
        for t in tree_numbers_of(node, attrs):
            index.setdefault(t, node)
    return index


def mesh_position(tree_number: str, index: Mapping[str, str]) -> list[str]:
    """The path (root first) of one tree position, through the nodes the graph has.

    Examples
    --------
    >>> idx = {"F": "MESHTREE:F", "F03": "MESH:D001523", "F03.080": "MESH:D001008"}
    >>> mesh_position("F03.080", idx)
    ['MESHTREE:F', 'MESH:D001523', 'MESH:D001008']
    """
    parts = tree_number.split(".")
    prefixes = [tree_number[0]] if len(tree_number) > 1 else []
    prefixes += [".".join(parts[: i + 1]) for i in range(len(parts))]
    return [index[p] for p in prefixes if p in index]


def rule_for(concept_id: str, attrs: Mapping[str, Any]) -> str:
    """The rule ``auto`` picks for one concept from its ``source``, tree numbers and ``kind``.

    Examples
    --------
    >>> rule_for("MESH:D001008", {"source": "MESH", "tree_numbers": ["F03.080"]})
    'mesh'
    >>> rule_for("ICD10CM:F41", {"source": "ICD10CM", "kind": "category"})
    'icd10cm'
    >>> rule_for("DOID:2030", {"source": "DOID"})
    'depth'
    """
    source = str(attrs.get("source") or concept_id.split(":", 1)[0]).upper()
    if source in MESH_SOURCES or concept_id.startswith(("MESH:", "MESHTREE:")):
        return "mesh"
    kind = str(attrs.get("kind") or "").lower()
    if kind in ICD_KIND_LEVEL or kind in ICD_CODE_KINDS:
        return "icd10cm"
    return "depth"


def icd10cm_level(kind: str | None) -> int:
    """Level of an ICD-10-CM node from its ``kind``; 0 when the kind is unknown.

    Examples
    --------
    >>> [icd10cm_level(k) for k in ("chapter", "section", "category", "code", None)]
    [1, 2, 3, 4, 0]
    """
    kind = (kind or "").lower()
    if kind in ICD_KIND_LEVEL:
        return ICD_KIND_LEVEL[kind]
    return 4 if kind in ICD_CODE_KINDS else 0


def depth_level(depth: int, starts: Sequence[int]) -> int:
    """Level for a depth from the root, given the depth at which each of L1…L4 starts.

    Examples
    --------
    >>> [depth_level(d, (0, 1, 2, 3)) for d in range(6)]
    [1, 2, 3, 4, 4, 4]
    >>> [depth_level(d, (1, 2, 3, 4)) for d in range(6)]
    [1, 1, 2, 3, 4, 4]
    """
    level = 1
    for k, start in enumerate(starts, start=1):
        if depth >= start:
            level = k
    return level


def cycle_nodes(cg: ConceptGraph) -> set[str]:
    """Concepts that lie on an ``is_a`` cycle (including self-loops)."""
    nodes: set[str] = set()
    for comp in nx.strongly_connected_components(cg.graph):
        if len(comp) > 1:
            nodes |= comp
    nodes |= {n for n in cg.graph.nodes if cg.graph.has_edge(n, n)}
    return nodes


def graph_positions(
    cg: ConceptGraph, roots: Iterable[str], *, deepest: bool = False, exclude: set[str] | None = None
) -> Positions:
    """Shallowest (or deepest) position of every concept below ``roots``, skipping ``exclude``.

    Shallowest is a breadth-first search from the roots; deepest is the longest path, computed in
    topological order (``exclude`` must contain every cycle node for that).
    """
    exclude = exclude or set()
    g = cg.graph
    pos: Positions = {r: (0, [r]) for r in roots if r in g and r not in exclude}
    if not deepest:
        queue = deque(pos)
        while queue:
            node = queue.popleft()
            depth, path = pos[node]
            for child in sorted(g.predecessors(node)):
                if child not in pos and child not in exclude:
                    pos[child] = (depth + 1, path + [child])
                    queue.append(child)
        return pos
    reach: set[str] = set(pos)
    stack = list(pos)
    while stack:
        node = stack.pop()
        for child in g.predecessors(node):
            if child not in reach and child not in exclude:
                reach.add(child)
                stack.append(child)
    sub = g.subgraph(reach)
    best: dict[str, tuple[int, str | None]] = {r: (0, None) for r in pos}
    for node in reversed(list(nx.lexicographical_topological_sort(sub))):  # parents before children
        if node not in best:
            continue
        depth = best[node][0]
        for child in sub.predecessors(node):
            if child not in best or best[child][0] < depth + 1:
                best[child] = (depth + 1, node)
    out: Positions = {}
    for node, (depth, _) in best.items():
        path = [node]
        while (up := best[path[-1]][1]) is not None:
            path.append(up)
        out[node] = (depth, path[::-1])
    return out


def read_mapping(path: str | Path) -> dict[str, int]:
    """Read an ``id,level`` table (CSV or TSV, optional header) into ``{id: level}``.

    Levels must be integers 0–4 (0 = explicitly no level). Bad rows raise :class:`InputError`
    naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("mapping file not found", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})", path=path) from None
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    mapping: dict[str, int] = {}
    for lineno, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise InputError(f"expected two columns id{delimiter}level, got {row!r}", path=path, line=lineno)
        cid, raw = row[0].strip(), row[1].strip()
        if lineno == 1 and not raw.isdigit():
            continue  # header
        if raw not in {"0", "1", "2", "3", "4"}:
            raise InputError(f"level of {cid!r} must be an integer 0-4, got {raw!r}", path=path, line=lineno)
        if cid in mapping and mapping[cid] != int(raw):
            raise InputError(f"{cid!r} is mapped twice, to {mapping[cid]} and {raw}", path=path, line=lineno)
        mapping[cid] = int(raw)
    if not mapping:
        raise InputError("mapping table has no rows", path=path)
    return mapping
