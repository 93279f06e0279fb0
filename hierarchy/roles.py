"""Concept roles for a forget scope: target, preserve or neutral, with a per-level weight.

Rules, applied in this order to every concept of the hierarchy (``docs/hierarchy.md``):

1. level 0 (no level: obsolete, no label, unreachable) → **neutral**, weight 0;
2. outside the scope (including subtrees carved out with ``keep``) → **preserve**, weight ``preserve[level]``;
3. inside the scope at a level without a target weight (L1/L2 by default: the *foundations*)
   → **preserve** — a foundation is never forgotten, even when the scope root is itself one
   (``E04`` *Surgical Procedures, Operative* is L2, so it is kept while its L3/L4 descendants are targets);
4. inside the scope and an ancestor of a kept concept → **preserve** (a mention of it is also about
   material we keep);
5. otherwise → **target**, weight ``target[level]``.

A concept therefore has exactly one role. Default weights (the method note fixes L4 full and L3
partial; the rest is our choice):

======  ==============  ================
level   target weight   preserve weight
======  ==============  ================
L1      — (foundation)  1.0
L2      — (foundation)  1.0
L3      0.5             1.0
L4      1.0             1.0
======  ==============  ================
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from pydantic import field_validator

from hierarchy.levels import Hierarchy
from hierarchy.masks import NEUTRAL, PRESERVE, ROLE_NAMES, TARGET
from hierarchy.scope import Scope
from ontology.common.config import StrictModel


class ConceptRole(NamedTuple):
    """Role (:data:`hierarchy.masks.NEUTRAL`, ``PRESERVE`` or ``TARGET``), level (0–4) and loss weight of one
    concept."""

    role: int
    level: int
    weight: float


class RoleWeights(StrictModel):
    """Per-level weights. A level missing from ``target`` is a foundation: preserved even in scope.

    Examples
    --------
    >>> RoleWeights().target, RoleWeights().preserve
    ({3: 0.5, 4: 1.0}, {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0})
    """

    target: dict[int, float] = {3: 0.5, 4: 1.0}
    preserve: dict[int, float] = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}

    @field_validator("target", "preserve")
    @classmethod
    def _levels(cls, v: dict[int, float]) -> dict[int, float]:
        for level, weight in v.items():
            if level not in (1, 2, 3, 4):
                raise ValueError(f"level must be 1-4, got {level}")
            if not weight >= 0:
                raise ValueError(f"weight of level {level} must be >= 0, got {weight}")
        return v


def assign_roles(hier: Hierarchy, scope: Scope, weights: RoleWeights | None = None) -> dict[str, ConceptRole]:
    """Role, level and weight for every concept of ``hier`` under ``scope`` (rules in the module doc).

    Examples
    --------
    >>> from ontology.graph import ConceptGraph
    >>> from hierarchy.levels import build_hierarchy
    >>> cg = ConceptGraph()
    >>> for cid in "abcde":
    ...     cg.add_concept(f"X:{cid}", cid)
    >>> for child, parent in ["ba", "cb", "dc", "eb"]:
    ...     cg.add_parent(f"X:{child}", f"X:{parent}")
    >>> h = build_hierarchy(cg)
    >>> roles = assign_roles(h, Scope.parse(["X:b"], h))
    >>> [tuple(roles[f"X:{c}"]) for c in "abcd"]
    [(1, 1, 1.0), (1, 2, 1.0), (2, 3, 0.5), (2, 4, 1.0)]
    """
    weights = weights or RoleWeights()
    shielded: set[str] = set()
    for ids in scope.kept_roots.values():
        for cid in ids:
            shielded |= hier.graph.ancestors(cid)
    roles: dict[str, ConceptRole] = {}
    for cid, level in hier.levels.items():
        if level == 0:
            roles[cid] = ConceptRole(NEUTRAL, 0, 0.0)
        elif cid in scope.concepts and level in weights.target and cid not in shielded:
            roles[cid] = ConceptRole(TARGET, level, float(weights.target[level]))
        else:
            roles[cid] = ConceptRole(PRESERVE, level, float(weights.preserve.get(level, 0.0)))
    return roles


def role_counts(roles: dict[str, ConceptRole]) -> dict[str, Any]:
    """Concepts per role and, within each role, per level (``{"target": {"total": n, "L3": …}}``)."""
    out: dict[str, Any] = {}
    for code, name in ROLE_NAMES.items():
        by_level = Counter(r.level for r in roles.values() if r.role == code)
        out[name] = {"total": sum(by_level.values()), **{f"L{k}": by_level.get(k, 0) for k in range(0, 5)}}
    return out
