"""FSDP for an unlearning run: whether to shard, loading onto the ranks, sharding and gathering the model.

The tensor-level helpers (FSDP2 units, shards of a flat index) are :mod:`unlearn.sharding`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import nn

from ontology.common.errors import ConfigError

log = logging.getLogger(__name__)


def dtype_of(cfg: Any) -> torch.dtype:
    """The torch dtype of ``model.dtype``."""
    return torch.bfloat16 if cfg.model.dtype == "bfloat16" else torch.float32


def wants_fsdp(cfg: Any, accelerator: Any) -> bool:
    """True when the run shards its parameters: ``train.fsdp``, or launched with an FSDP config, on more
    than one process. Raises a config error with LoRA or DP."""
    from accelerate.utils import DistributedType

    t = cfg.train
    launched = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true", "yes")  # also on CPU
    if not (t.fsdp or launched or accelerator.distributed_type == DistributedType.FSDP):
        return False
    if t.lora.enabled or t.dp.enabled:
        raise ConfigError("train.fsdp cannot be combined with train.lora or train.dp (use DDP for those)")
    if accelerator.num_processes == 1:
        log.info("train.fsdp: a single process, nothing to shard")
        return False
    return True


def load_for_run(cfg: Any, sharded: bool, is_main: bool) -> tuple[Any, Any]:
    """``(model, tokenizer)``. Sharded, only rank 0 reads the weights (on CPU); the other ranks build an empty
    skeleton and receive their shards from it in :func:`shard`, so no rank but 0 holds the full model."""
    from unlearn.models import load_model, load_tokenizer, prepare
    from unlearn.sharding import empty_model

    if sharded and not is_main:
        return empty_model(prepare(cfg.model.name), dtype_of(cfg)), load_tokenizer(cfg.model.name)
    return load_model(cfg.model.name, dtype=dtype_of(cfg))


def shard(
    model: nn.Module, others: list[nn.Module], candidates: dict[str, nn.Parameter], device: Any
) -> dict[str, nn.Parameter]:
    """Shard ``model`` (and ``others``, e.g. RMU's frozen copy) with FSDP2, filled from rank 0's weights;
    return the candidates again, now the sharded parameters of the same names."""
    from unlearn.sharding import shard_model

    for m in [model, *others]:
        shard_model(m, device)
    params = dict(model.named_parameters())
    return {name: params[name] for name in candidates}


def unshard(model: nn.Module, cfg: Any, is_main: bool) -> nn.Module:
    """A plain model holding the full weights of the sharded ``model`` (on the main process; a collective)."""
    from unlearn.models import load_model
    from unlearn.sharding import full_state_dict

    state = full_state_dict(model)
    if not is_main:
        return model
    plain, _ = load_model(cfg.model.name, dtype=dtype_of(cfg))
    plain.load_state_dict(state)
    return plain
