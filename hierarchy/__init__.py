"""Four-level concept hierarchy, tagging and token masks."""

from hierarchy.levels import Hierarchy, HierarchyConfig, build_hierarchy
from hierarchy.masks import NEUTRAL, PRESERVE, TARGET
from hierarchy.roles import ConceptRole, RoleWeights, assign_roles
from hierarchy.scope import Scope
from hierarchy.store import read_hierarchy, write_hierarchy

__all__ = [
    "NEUTRAL",
    "PRESERVE",
    "TARGET",
    "ConceptRole",
    "Hierarchy",
    "HierarchyConfig",
    "RoleWeights",
    "Scope",
    "assign_roles",
    "build_hierarchy",
    "read_hierarchy",
    "write_hierarchy",
]
