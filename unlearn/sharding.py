"""Parameter sharding with FSDP2 (``torch.distributed.fsdp.fully_shard``) for ``train.fsdp``.

Each decoder layer, then the whole model, becomes one FSDP unit: every parameter is a ``DTensor`` split
by rows (``Shard(0)``) over the ranks, gathered for a layer's forward and backward only; gradients
arrive already averaged over the ranks and sharded the same way. The trainer works on the rank's rows
(:func:`local`): its masks, flat vectors and optimiser state are shards too, and every inner product of
the projection is summed across ranks (:func:`unlearn.projection.distributed_sum`), so no full gradient
is ever gathered. For plain (unsharded) tensors the tensor helpers return their input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ontology.common.errors import ConfigError


def local(t: Tensor) -> Tensor:
    """This rank's rows of a sharded tensor (``DTensor.to_local``); a plain tensor itself.

    Examples
    --------
    >>> local(torch.ones(2)).tolist()
    [1.0, 1.0]
    """
    sharded: Any = t
    return sharded.to_local() if is_sharded(t) else t


def is_sharded(t: Tensor) -> bool:
    """Whether ``t`` is a ``DTensor`` (a parameter or gradient of a sharded model)."""
    return callable(getattr(t, "to_local", None))


def _decoder_layers(model: nn.Module) -> list[nn.Module]:
    names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise ConfigError(
            f"train.fsdp: {type(model).__name__} names no decoder-layer class (_no_split_modules), "
            "so its FSDP units cannot be chosen"
        )
    return layers


def empty_model(directory: str | Path, dtype: torch.dtype) -> Any:
    """The architecture of the model in ``directory`` on the meta device: no memory, no weights read."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(directory, local_files_only=True, trust_remote_code=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=False)
    return model.eval()


def shard_model(model: nn.Module, device: torch.device) -> Any:
    """Shard ``model`` in place over all ranks, filled with rank 0's weights; return the device mesh.

    One FSDP unit per decoder layer plus the root. Rank 0 holds the weights (on CPU); the other ranks may pass
    an empty skeleton (:func:`empty_model`): their shards are allocated on ``device`` and receive rank 0's
    values, so only rank 0 ever holds the whole model. A collective on every rank.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError(
            "train.fsdp needs several processes: start the run with torchrun or accelerate launch"
        )
    source = model.state_dict() if dist.get_rank() == 0 else {}
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for layer in _decoder_layers(model):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    if any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        model.to_empty(device=device)
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    set_model_state_dict(model, source, options=options)
    with torch.no_grad():
        for buffer in model.buffers():  # not in the state dict when non-persistent (e.g. rotary frequencies)
            dist.broadcast(buffer.data, src=0)
    return mesh


def local_part(full: Tensor, like: Tensor) -> Tensor:
    """This rank's rows of ``full``, sharded like the parameter ``like`` (no communication)."""
    if not is_sharded(like):
        return full
    from torch.distributed.tensor import distribute_tensor

    dt: Any = like
    return distribute_tensor(full, dt.device_mesh, dt.placements, src_data_rank=None).to_local()


def full_tensor(part: Tensor, like: Tensor) -> Tensor:
    """The whole tensor from every rank's ``part`` (sharded like ``like``); a collective on every rank."""
    if not is_sharded(like):
        return part
    from torch.distributed.tensor import DTensor

    dt: Any = like
    whole = DTensor.from_local(part, dt.device_mesh, dt.placements, shape=dt.shape, stride=dt.stride())
    return whole.full_tensor()


def all_gather(t: Tensor) -> list[Tensor]:
    """Every rank's ``t`` (same shape on all ranks), in rank order; ``[t]`` without a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return [t]
    out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t.contiguous())
    return out


def full_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The unsharded state dict on CPU, on rank 0 (empty elsewhere); a collective on every rank."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {name: t for name, t in state.items() if isinstance(t, Tensor)}
