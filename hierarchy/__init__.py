"""Four-level concept hierarchy, tagging and token masks.

>>> import hierarchy
>>> hier = hierarchy.build_hierarchy(graph)                     # doctest: +SKIP
>>> nlp = hierarchy.build_nlp(hier, scope=["E04"])                # doctest: +SKIP
>>> spans = list(hierarchy.tag_texts(nlp, texts))                 # doctest: +SKIP

The tagging names (spaCy, scispaCy) are imported on first use, so ``import hierarchy`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hierarchy.levels import Hierarchy, HierarchyConfig, build_hierarchy
from hierarchy.masks import NEUTRAL, PRESERVE, TARGET, read_masks, write_masks
from hierarchy.roles import ConceptRole, RoleWeights, assign_roles
from hierarchy.scope import Scope
from hierarchy.store import open_hierarchy, read_hierarchy, write_hierarchy
from ontology.common.lazy import lazy_getattr

if TYPE_CHECKING:
    from hierarchy.corpus import read_spans, tag_corpus
    from hierarchy.lexicon import TaggingRules
    from hierarchy.tagger import build_nlp, tag_text, tag_texts

_LAZY = {
    "build_nlp": "hierarchy.tagger",
    "tag_text": "hierarchy.tagger",
    "tag_texts": "hierarchy.tagger",
    "tag_corpus": "hierarchy.corpus",
    "read_spans": "hierarchy.corpus",
    "TaggingRules": "hierarchy.lexicon",
}

__all__ = [
    "NEUTRAL",
    "PRESERVE",
    "TARGET",
    "ConceptRole",
    "Hierarchy",
    "HierarchyConfig",
    "RoleWeights",
    "Scope",
    "TaggingRules",
    "assign_roles",
    "build_hierarchy",
    "build_nlp",
    "open_hierarchy",
    "read_hierarchy",
    "read_masks",
    "read_spans",
    "tag_corpus",
    "tag_text",
    "tag_texts",
    "write_hierarchy",
    "write_masks",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
