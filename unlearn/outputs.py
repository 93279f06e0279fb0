"""What an unlearning run leaves behind, all written atomically into ``output.dir``.

- ``model/``: the unlearned model (safetensors) and tokenizer; in LoRA mode ``adapter/`` holds the PEFT
  adapter and ``model/`` the merged copy (when ``train.lora.merge``); the adapter's ``base_model_name_or_path``
  is the registry name or a path relative to ``adapter/`` (:func:`base_model_reference`), never the cache path;
- ``patch/``: the sparse unlearning patch against the input weights (:mod:`unlearn.patch`), which
  ``medunlearn unlearn apply-patch`` / ``revert-patch`` apply to and revert from the original model;
- ``mask.safetensors``: the selected coordinates (saliency methods);
- ``config.resolved.yaml`` and ``manifest.json``: the config and its hash, sha256 of the input weights and data
  files, the scope, the *measured* changed-parameter count and fraction (by diffing weights), steps, wall
  time, time per phase, peak memory, ε when DP was on.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ontology.common.atomic import atomic_path, atomic_write_json
from ontology.common.config import save_resolved
from ontology.common.hashing import sha256_file
from unlearn.config import RunConfig
from unlearn.tensor_io import save_pretrained

MANIFEST = "manifest.json"


@dataclass
class RunResult:
    """What a run did and read; :func:`write_outputs` turns it into the manifest."""

    status: str  # "completed" | "early_stop" | "interrupted"
    reason: str | None
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    peak_memory_bytes: int = 0
    peak_memory_per_rank: list[int] = field(default_factory=list)  # each process, before the outputs
    selected: int = 0
    trainable_tensors: int = 0
    epsilon: dict[str, float] | None = None
    out_dir: Path | None = None
    manifest: dict[str, Any] | None = None
    is_main: bool = True
    tokenizer_hash: str = ""
    forget_records: int = 0
    forget_target_tokens: int = 0
    retain_records: int = 0
    scope: str | None = None
    device: str = ""


def input_weights(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a model directory's safetensors files, as saved (tied weights appear once)."""
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        state.update(load_file(str(f)))
    return state


def file_hashes(model_dir: str | Path) -> dict[str, str]:
    """sha256 of every safetensors file of a model directory."""
    return {f.name: sha256_file(f) for f in sorted(Path(model_dir).glob("*.safetensors"))}


def save_model(model: Any, tokenizer: Any, target: Path) -> Path:
    """``save_pretrained`` (safetensors) of model and tokenizer into ``target``, atomically."""
    with atomic_path(target, is_dir=True) as tmp:
        save_pretrained(model, tmp, safe_serialization=True)
        save_pretrained(tokenizer, tmp)
    return target


def base_model_reference(name: str, adapter_dir: Path) -> str:
    """What a PEFT adapter records as ``base_model_name_or_path``: a registry name as it is, a local model
    directory or ``.gguf`` file relative to ``adapter_dir`` (the adapter stays valid when the run directory moves
    with its model), never the absolute cache path the model was loaded from.

    Examples
    --------
    >>> base_model_reference("smollm2", Path("/runs/x/adapter"))
    'smollm2'
    """
    from unlearn.models import REGISTRY

    path = Path(name).expanduser()
    if name in REGISTRY or not path.exists():
        return name
    return os.path.relpath(path.resolve(), adapter_dir.resolve())


def _after_state(model: Any, keys: Any) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    return {k: state[k].detach().cpu() for k in keys if k in state}


def write_outputs(
    cfg: RunConfig, model: Any, tokenizer: Any, result: RunResult
) -> tuple[dict[str, Any], Any]:
    """Write model/adapter, patch, resolved config and manifest of a finished run (``cfg``: its
    :class:`~unlearn.config.RunConfig`); return the manifest and the model as saved (LoRA: merged)."""
    from unlearn.models import prepare
    from unlearn.patch import changed_parameter_count, compute_patch, save_patch
    from unlearn.selection import mask_size

    out = Path(cfg.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = prepare(cfg.model.name)
    before = input_weights(model_dir)
    lora = cfg.train.lora.enabled
    if lora:
        if cfg.output.save_model:
            ref = base_model_reference(cfg.model.name, out / "adapter")
            for peft_config in model.peft_config.values():  # adapter_config.json
                peft_config.base_model_name_or_path = ref
            base = model.get_base_model()  # the model card's base_model and base_model:adapter tag
            base.config._name_or_path = base.name_or_path = ref
            with atomic_path(out / "adapter", is_dir=True) as tmp:
                save_pretrained(model, tmp)
        model = model.merge_and_unload()
    after = _after_state(model, before)
    changed, total = changed_parameter_count(before, after)
    if cfg.output.save_model and (not lora or cfg.train.lora.merge):
        save_model(model, tokenizer, out / "model")
    if cfg.output.save_patch:
        patch = compute_patch(before, after, {"base_model": cfg.model.name, "method": cfg.method.name})
        save_patch(patch, out / "patch")
    digest = save_resolved(cfg, out)
    mask_file = out / "mask.safetensors"
    manifest: dict[str, Any] = {
        "method": cfg.method.name,
        "config": cfg.model_dump(mode="json"),
        "config_hash": digest,
        "status": result.status,
        "stop_reason": result.reason,
        "model": {
            "name": cfg.model.name,
            "dir": str(model_dir),
            "weights_sha256": file_hashes(model_dir),
            "tokenizer_hash": result.tokenizer_hash,
        },
        "data": {
            "forget": {
                "path": cfg.data.forget,
                "sha256": sha256_file(cfg.data.forget),
                "records": result.forget_records,
            },
            "forget_target_tokens": result.forget_target_tokens,
            "retain": [{"path": p, "sha256": sha256_file(p)} for p in cfg.data.retain],
            "retain_records": result.retain_records,
        },
        "scope": result.scope,
        "selected_coordinates": result.selected,
        "mask_size": mask_size(_load_mask(mask_file))
        if cfg.method.selection == "fisher" and not lora and mask_file.is_file()
        else None,
        "trainable_tensors": result.trainable_tensors,
        "changed_parameters": changed,
        "total_parameters": total,
        "changed_fraction": changed / total if total else 0.0,
        "lora_trainable_parameters": result.selected if lora else None,
        "steps": result.steps,
        "final_losses": _final_losses(result.history),
        # distance of the selected coordinates from the input model at the last step (flat path only)
        "final_drift": result.history[-1].get("drift") if result.history else None,
        "wall_seconds": result.wall_seconds,
        "seconds_by_phase": result.seconds,
        "peak_memory_bytes": result.peak_memory_bytes,
        "peak_memory_bytes_per_rank": result.peak_memory_per_rank,
        "device": result.device,
        "epsilon": result.epsilon,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": _version("transformers"),
            "accelerate": _version("accelerate"),
        },
    }
    atomic_write_json(out / MANIFEST, manifest)
    atomic_write_json(out / "history.json", result.history)
    return manifest, model


def _load_mask(path: Path) -> dict[str, torch.Tensor]:
    from unlearn.selection import load_mask

    return load_mask(path)


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _final_losses(history: list[dict[str, float]]) -> dict[str, float] | None:
    """The last step's losses, without the step number and the drift (which is a distance, not a loss)."""
    if not history:
        return None
    return {k: v for k, v in history[-1].items() if k not in ("step", "drift")}
