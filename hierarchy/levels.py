"""Fold a :class:`~ontology.graph.ConceptGraph` into the four-level medical concept hierarchy.

Every concept gets a level — 1 domain, 2 category, 3 concept, 4 specific — and the path from a
root that justifies it, or level 0 with the reason it has none (obsolete, no label, on an
``is_a`` cycle, not under any root, no tree number, not in the mapping table). See
``docs/hierarchy.md`` and :mod:`hierarchy.rules` for the rules per source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from hierarchy.rules import (
    cycle_nodes,
    depth_level,
    graph_positions,
    icd10cm_level,
    mesh_level,
    mesh_position,
    read_mapping,
    rule_for,
    tree_depth,
    tree_index,
    tree_numbers_of,
)
from ontology.common.config import StrictModel
from ontology.common.errors import InputError
from ontology.common.hashing import config_hash
from ontology.graph import ConceptGraph

LEVEL_NAMES = {1: "domain", 2: "category", 3: "concept", 4: "specific"}

RuleName = Literal["auto", "mesh", "icd10cm", "depth", "mapping"]
MultiParent = Literal["shallowest", "deepest"]
Starts = tuple[int, int, int, int]


class HierarchyConfig(StrictModel):
    """Options of :func:`build_hierarchy` (also the YAML config of ``hierarchy build --config``).

    Attributes
    ----------
    rule : {"auto", "mesh", "icd10cm", "depth", "mapping"}
        ``auto`` picks a rule per concept from its ``source``, tree numbers and ``kind``.
    multi_parent : {"shallowest", "deepest"}
        Which position a concept with several parents (or several tree numbers) takes.
    depth_starts : tuple of 4 ints
        Depth from the root at which L1, L2, L3 and L4 start for the ``depth`` rule; shallower
        concepts are folded into L1. ``(1, 2, 3, 4)`` folds a very generic root into L1.
    depth_starts_by_source : dict
        Per-source override of ``depth_starts``, keyed by the node attribute ``source`` (e.g. ``DOID``).
    roots : list of str, optional
        Roots for the graph rules; concepts not below one get level 0. Default: every graph root.
    mapping : str, optional
        A CSV/TSV ``id,level`` file whose entries override the rule's level.
    """

    rule: RuleName = "auto"
    multi_parent: MultiParent = "shallowest"
    depth_starts: Starts = (0, 1, 2, 3)
    depth_starts_by_source: dict[str, Starts] = {}
    roots: list[str] | None = None
    mapping: str | None = None

    @field_validator("depth_starts")
    @classmethod
    def _ordered(cls, v: Starts) -> Starts:
        if min(v) < 0 or list(v) != sorted(v):
            raise ValueError("depth_starts must be non-negative and non-decreasing")
        return v

    @field_validator("depth_starts_by_source")
    @classmethod
    def _ordered_each(cls, v: dict[str, Starts]) -> dict[str, Starts]:
        for source, starts in v.items():
            cls._ordered(starts)
            if not source:
                raise ValueError("empty source name")
        return v


@dataclass
class Hierarchy:
    """Levels, justifying paths and reasons for every concept of a graph.

    Attributes
    ----------
    graph : ConceptGraph
        The graph the levels were computed on.
    levels : dict[str, int]
        ``id → level`` (0 = no level).
    paths : dict[str, list[str]]
        ``id → path`` from a root down to the concept (empty when the level is 0 for lack of one).
    reasons : dict[str, str]
        ``id → why it has no level`` (only for level 0).
    rules : dict[str, str]
        ``id → rule that set the level``.
    options : dict
        The resolved :class:`HierarchyConfig` as a dict.
    """

    graph: ConceptGraph
    levels: dict[str, int]
    paths: dict[str, list[str]]
    reasons: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.levels)

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.levels

    def level(self, concept_id: str) -> int:
        """Level 1–4, or 0 when the concept has none or is not in the hierarchy."""
        return self.levels.get(concept_id, 0)

    def path(self, concept_id: str) -> list[str]:
        """Path from a root down to the concept (``[]`` when unknown)."""
        return list(self.paths.get(concept_id, []))

    def reason(self, concept_id: str) -> str:
        """Why the concept has no level (``""`` when it has one)."""
        if concept_id not in self.levels:
            return "not in the graph"
        return self.reasons.get(concept_id, "")

    def label(self, concept_id: str) -> str:
        """The concept's label."""
        return self.graph.label(concept_id) if concept_id in self.graph else ""

    def at_level(self, level: int) -> list[str]:
        """Sorted ids of the concepts at ``level``."""
        return sorted(c for c, lv in self.levels.items() if lv == level)

    def stats(self) -> dict[str, Any]:
        """Concepts per level ``L1``…``L4``, ``unleveled`` count, and the reasons with their counts."""
        counts = Counter(self.levels.values())
        reasons = Counter(self.reasons[c] for c, lv in self.levels.items() if lv == 0)
        return {
            "concepts": len(self.levels),
            **{f"L{k}": counts.get(k, 0) for k in range(1, 5)},
            "unleveled": counts.get(0, 0),
            "unleveled_reasons": dict(reasons.most_common()),
            "rules": dict(Counter(self.rules.values()).most_common()),
        }


def build_hierarchy(
    cg: ConceptGraph,
    rule: RuleName = "auto",
    multi_parent: MultiParent = "shallowest",
    mapping: str | Path | Mapping[str, int] | None = None,
    *,
    depth_starts: Starts = (0, 1, 2, 3),
    depth_starts_by_source: Mapping[str, Starts] | None = None,
    roots: list[str] | None = None,
) -> Hierarchy:
    """Give every concept of ``cg`` a level 1–4 (or 0 with a reason) and its justifying path.

    Parameters
    ----------
    cg : ConceptGraph
        Edges child → parent.
    rule : str
        ``auto`` (per concept: MeSH tree numbers, ICD-10-CM ``kind``, else depth), or one rule for all.
    multi_parent : {"shallowest", "deepest"}
        Position taken by a concept with several parents or tree numbers.
    mapping : path or dict, optional
        ``id → level`` overrides; with ``rule="mapping"`` the only source of levels.
    depth_starts, depth_starts_by_source, roots
        See :class:`HierarchyConfig`.

    Examples
    --------
    >>> cg = ConceptGraph()
    >>> for cid in "abcde":
    ...     cg.add_concept(f"X:{cid}", cid)
    >>> for child, parent in ["ba", "cb", "dc", "ed"]:
    ...     cg.add_parent(f"X:{child}", f"X:{parent}")
    >>> h = build_hierarchy(cg)
    >>> [h.level(f"X:{c}") for c in "abcde"], h.path("X:c")
    ([1, 2, 3, 4, 4], ['X:a', 'X:b', 'X:c'])
    """
    cfg = HierarchyConfig(
        rule=rule,
        multi_parent=multi_parent,
        depth_starts=depth_starts,
        depth_starts_by_source=dict(depth_starts_by_source or {}),
        roots=roots,
        mapping=str(mapping) if isinstance(mapping, str | Path) else None,
    )
    table: dict[str, int] = {}
    if isinstance(mapping, str | Path):
        table = read_mapping(mapping)
    elif mapping is not None:
        table = {str(k): int(v) for k, v in mapping.items()}
    unknown = sorted(set(table) - set(cg.graph.nodes))
    if unknown:
        raise InputError(
            f"{len(unknown)} mapped id(s) not in the graph, e.g. {', '.join(unknown[:3])}", path=cfg.mapping
        )
    if rule == "mapping" and not table:
        raise InputError("rule 'mapping' needs a mapping table (--mapping FILE)")
    for r in roots or []:
        if r not in cg:
            raise InputError(f"root {r!r} is not in the graph")

    deepest = multi_parent == "deepest"
    cycles = cycle_nodes(cg)
    positions = graph_positions(cg, roots or cg.roots(), deepest=deepest, exclude=cycles)
    index = tree_index(cg) if rule in ("auto", "mesh") else {}
    unreachable = "not under any configured root" if roots else "reachable only through an is_a cycle"

    levels: dict[str, int] = {}
    paths: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    used: dict[str, str] = {}
    for node, attrs in cg.graph.nodes(data=True):
        level, path, why = 0, positions.get(node, (0, []))[1], ""
        chosen = rule if rule != "auto" else rule_for(node, attrs)
        if attrs.get("obsolete"):
            why = "obsolete"
        elif not (attrs.get("label") or "").strip():
            why = "no label"
        elif node in table:
            chosen, level = "mapping", table[node]
            why = "" if level else "mapped to level 0"
        elif chosen == "mapping":
            why = "not in the mapping table"
        elif chosen == "mesh":
            numbers = tree_numbers_of(node, attrs)
            if numbers:
                sign = -1 if deepest else 1
                pick = min(numbers, key=lambda t: (sign * tree_depth(t), t))
                level, path = mesh_level(pick), mesh_position(pick, index)
            else:
                why = "no MeSH tree number"
        elif node in cycles:
            why = "on an is_a cycle"
        elif node not in positions:
            why = unreachable
        elif chosen == "icd10cm":
            level = icd10cm_level(attrs.get("kind"))
            why = "" if level else f"unknown ICD-10-CM kind {attrs.get('kind')!r}"
        else:
            starts = cfg.depth_starts_by_source.get(str(attrs.get("source") or ""), cfg.depth_starts)
            level = depth_level(positions[node][0], starts)
        levels[node] = level
        paths[node] = list(path)
        used[node] = chosen
        if not level:
            reasons[node] = why
    options = cfg.model_dump(mode="json")
    if table:
        options["mapping_hash"] = config_hash(table)  # a dict mapping has no file name to record
    return Hierarchy(cg, levels, paths, reasons, used, options)
