"""Dual-strategy unlearning, baselines, evaluation.

>>> from unlearn import RunConfig, Unlearner
>>> cfg = RunConfig.model_validate({"data": {"forget": "forget.parquet"}, "method": {"name": "dual"}})
>>> Unlearner(cfg).run().manifest["changed_parameters"]           # doctest: +SKIP

The public names are imported on first use (torch, transformers), so ``import unlearn`` stays cheap;
``docs/api.md`` walks from an ontology file to an unlearned model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ontology.common.lazy import lazy_getattr

if TYPE_CHECKING:
    from unlearn.config import RunConfig, load_run_config
    from unlearn.methods import METHODS, MethodConfig
    from unlearn.models import load_model, load_tokenizer, prepare
    from unlearn.outputs import RunResult
    from unlearn.trainer import Unlearner

_LAZY = {
    "RunConfig": "unlearn.config",
    "load_run_config": "unlearn.config",
    "MethodConfig": "unlearn.methods",
    "METHODS": "unlearn.methods",
    "Unlearner": "unlearn.trainer",
    "RunResult": "unlearn.outputs",
    "load_model": "unlearn.models",
    "load_tokenizer": "unlearn.models",
    "prepare": "unlearn.models",
}

__all__ = [
    "METHODS",
    "MethodConfig",
    "RunConfig",
    "RunResult",
    "Unlearner",
    "load_model",
    "load_run_config",
    "load_tokenizer",
    "prepare",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
