"""Roles and weights on a hand-made graph; every expected role is written by hand."""

from __future__ import annotations

import pytest

from hierarchy.levels import Hierarchy, build_hierarchy
from hierarchy.masks import NEUTRAL, PRESERVE, TARGET
from hierarchy.roles import ConceptRole, RoleWeights, assign_roles, role_counts
from hierarchy.scope import Scope
from ontology.common.config import validate_config
from ontology.common.errors import ConfigError
from ontology.graph import ConceptGraph

# E (L1) ← E04 (L2) ← E04.210 (L3) ← appendectomy (L4) ← laparoscopic appendectomy (L4, depth 4)
#                  ← E04.100 (L3) ← E04.100.x (L4)
# F (L1) ← F03 (L2) ← F03.080 (L3)
# old (obsolete, under E04)
EDGES = [
    ("E04", "E"),
    ("E04.210", "E04"),
    ("appendectomy", "E04.210"),
    ("lap_appendectomy", "appendectomy"),
    ("E04.100", "E04"),
    ("E04.100.x", "E04.100"),
    ("F03", "F"),
    ("F03.080", "F03"),
    ("old", "E04"),
]


@pytest.fixture
def hier() -> Hierarchy:
    cg = ConceptGraph()
    for node in {n for e in EDGES for n in e}:
        cg.add_concept(f"X:{node}", node, obsolete=node == "old")
    for child, parent in EDGES:
        cg.add_parent(f"X:{child}", f"X:{parent}")
    return build_hierarchy(cg)


def roles_by_name(hier: Hierarchy, scope: Scope, weights: RoleWeights | None = None) -> dict[str, tuple]:
    return {cid[2:]: tuple(r) for cid, r in assign_roles(hier, scope, weights).items()}


def test_default_roles_for_e04(hier: Hierarchy) -> None:
    roles = roles_by_name(hier, Scope.parse(["X:E04"], hier))
    assert roles == {
        "E": (PRESERVE, 1, 1.0),
        "E04": (PRESERVE, 2, 1.0),  # conflict: in scope but an L2 foundation → preserve
        "E04.210": (TARGET, 3, 0.5),
        "appendectomy": (TARGET, 4, 1.0),
        "lap_appendectomy": (TARGET, 4, 1.0),
        "E04.100": (TARGET, 3, 0.5),
        "E04.100.x": (TARGET, 4, 1.0),
        "F": (PRESERVE, 1, 1.0),
        "F03": (PRESERVE, 2, 1.0),
        "F03.080": (PRESERVE, 3, 1.0),  # outside the scope
        "old": (NEUTRAL, 0, 0.0),  # no level (obsolete), although in scope
    }


def test_keep_shields_ancestors(hier: Hierarchy) -> None:
    scope = Scope.parse(["X:E04"], hier, keep=["X:appendectomy"])
    roles = roles_by_name(hier, scope)
    assert roles["appendectomy"] == (PRESERVE, 4, 1.0)
    assert roles["lap_appendectomy"] == (PRESERVE, 4, 1.0)  # kept subtree
    assert roles["E04.210"] == (PRESERVE, 3, 1.0)  # in scope, but an ancestor of kept material
    assert roles["E04.100"] == (TARGET, 3, 0.5)  # a sibling branch stays a target


def test_scope_at_l3_and_l4(hier: Hierarchy) -> None:
    roles = roles_by_name(hier, Scope.parse(["X:appendectomy", "X:F03.080"], hier))
    targets = {k for k, r in roles.items() if r[0] == TARGET}
    assert targets == {"appendectomy", "lap_appendectomy", "F03.080"}
    assert roles["E04.210"] == (PRESERVE, 3, 1.0)


def test_custom_weights_make_l2_a_target(hier: Hierarchy) -> None:
    weights = RoleWeights(target={2: 0.25, 3: 0.75, 4: 1.0}, preserve={1: 1.0, 2: 0.5, 3: 0.2, 4: 0.1})
    roles = roles_by_name(hier, Scope.parse(["X:E04"], hier), weights)
    assert roles["E04"] == (TARGET, 2, 0.25)
    assert roles["E04.210"] == (TARGET, 3, 0.75)
    assert roles["F03"] == (PRESERVE, 2, 0.5)
    assert roles["F03.080"] == (PRESERVE, 3, 0.2)


def test_one_role_each_and_targets_inside_scope(hier: Hierarchy) -> None:
    scope = Scope.parse(["X:E"], hier)
    roles = assign_roles(hier, scope)
    assert set(roles) == set(hier.levels)
    assert all(isinstance(r, ConceptRole) and r.role in (NEUTRAL, PRESERVE, TARGET) for r in roles.values())
    assert {c for c, r in roles.items() if r.role == TARGET} <= scope.concepts
    assert all(r.level in (3, 4) for r in roles.values() if r.role == TARGET)
    counts = role_counts(roles)
    assert counts["target"] == {"total": 5, "L0": 0, "L1": 0, "L2": 0, "L3": 2, "L4": 3}
    assert counts["preserve"]["total"] == 5 and counts["neutral"]["total"] == 1


def test_weights_validation() -> None:
    with pytest.raises(ConfigError, match="target: Value error, level must be 1-4"):
        validate_config({"target": {5: 1.0}}, RoleWeights, source="w.yaml")
    with pytest.raises(ConfigError, match="must be >= 0"):
        validate_config({"preserve": {1: -1}}, RoleWeights, source="w.yaml")
    with pytest.raises(ConfigError, match="w.yaml: bogus: unknown key"):
        validate_config({"bogus": 1}, RoleWeights, source="w.yaml")
