"""The unlearning patch: the sparse, bit-exact difference between two model states.

A patch lists, per tensor, the flat indices whose bits changed with their old and new values.
Applying it to the original state gives the unlearned one and reverting it gives the original back,
both bit for bit (values are compared as raw bits, so ``-0.0``/``0.0`` and NaN payloads count).
On disk a patch is a directory ``tensors.safetensors`` + ``manifest.json``, written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from ontology.common import InputError, MedunlearnError, atomic_path, atomic_write_json, sha256_file
from unlearn.tensor_io import save_tensors

FORMAT = "medunlearn-patch/1"
_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass
class PatchEntry:
    """Changed coordinates of one tensor: flat ``indices`` (int64), ``old`` and ``new`` values."""

    shape: tuple[int, ...]
    indices: Tensor
    old: Tensor
    new: Tensor


@dataclass
class Patch:
    """Sparse difference between two states; ``total`` counts all coordinates of the diffed tensors."""

    entries: dict[str, PatchEntry]
    total: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        """Number of changed coordinates."""
        return sum(e.indices.numel() for e in self.entries.values())


def _bits(t: Tensor) -> Tensor:
    """The raw bits of ``t`` as an integer tensor of the same element size (bools as uint8)."""
    t = t.detach().contiguous()
    if t.dtype == torch.bool:
        return t.to(torch.uint8)
    if t.dtype.is_floating_point or t.dtype.is_complex:
        return t.view(_BITS[t.element_size()])
    return t


def _unique(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop aliases (tied weights): keep the first name of each (storage, offset, shape, stride)."""
    seen: set[tuple] = set()
    out: dict[str, Tensor] = {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.device)
        if t.numel() and key in seen:
            continue
        seen.add(key)
        out[name] = t
    return out


def _as_state(model_or_state: nn.Module | Mapping[str, Tensor]) -> Mapping[str, Tensor]:
    if isinstance(model_or_state, nn.Module):
        return model_or_state.state_dict(keep_vars=True)
    return model_or_state


def _check_pair(before: Mapping[str, Tensor], after: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``before`` without the names that alias an earlier tensor in either state (tied weights)."""
    unique_after = _unique(after)
    b = {n: t for n, t in _unique(before).items() if n in unique_after or n not in after}
    missing = [n for n in b if n not in after]
    if missing:
        raise MedunlearnError(
            f"states differ in tensors: {missing[0]!r} is missing after ({len(missing)} in all)"
        )
    for name, t in b.items():
        u = after[name]
        if t.shape != u.shape or t.dtype != u.dtype:
            raise MedunlearnError(
                f"tensor {name!r} changed shape or dtype: {tuple(t.shape)} {t.dtype} -> {tuple(u.shape)} {u.dtype}"
            )
    return b


def changed_parameter_count(before: Mapping[str, Tensor], after: Mapping[str, Tensor]) -> tuple[int, int]:
    """``(changed, total)`` coordinates between two states, compared bit for bit.

    A name that shares storage with an earlier one in either state (tied weights, e.g. ``lm_head.weight``
    and ``model.embed_tokens.weight``) is counted once.
    """
    b = _check_pair(before, after)
    changed = sum(int((_bits(t) != _bits(after[n].to(t.device))).sum()) for n, t in b.items())
    return changed, sum(t.numel() for t in b.values())


@torch.no_grad()
def compute_patch(
    before: Mapping[str, Tensor], after: Mapping[str, Tensor], metadata: Mapping[str, Any] | None = None
) -> Patch:
    """Diff two states (``state_dict()``s or ``named_parameters()`` dicts) into a :class:`Patch` on CPU.

    Examples
    --------
    >>> p = compute_patch({"w": torch.tensor([1.0, 2.0, 3.0])}, {"w": torch.tensor([1.0, 5.0, 3.0])})
    >>> p.changed, p.total, p.entries["w"].indices.tolist(), p.entries["w"].new.tolist()
    (1, 3, [1], [5.0])
    """
    b = _check_pair(before, after)
    entries: dict[str, PatchEntry] = {}
    for name, t in b.items():
        u = after[name].to(t.device)
        idx = (_bits(t) != _bits(u)).reshape(-1).nonzero().squeeze(1)
        if idx.numel():
            entries[name] = PatchEntry(
                shape=tuple(t.shape),
                indices=idx.cpu(),
                old=t.detach().reshape(-1)[idx].cpu(),
                new=u.detach().reshape(-1)[idx].cpu(),
            )
    return Patch(entries=entries, total=sum(t.numel() for t in b.values()), metadata=dict(metadata or {}))


@torch.no_grad()
def _write(model_or_state: nn.Module | Mapping[str, Tensor], patch: Patch, forward: bool) -> None:
    state = _as_state(model_or_state)
    expect_attr, write_attr = ("old", "new") if forward else ("new", "old")
    for name, e in patch.entries.items():
        if name not in state:
            raise MedunlearnError(f"patch does not fit this model: no tensor {name!r}")
        t = state[name]
        if tuple(t.shape) != e.shape or t.dtype != e.old.dtype:
            raise MedunlearnError(
                f"patch does not fit tensor {name!r}: {tuple(t.shape)} {t.dtype} vs {e.shape} {e.old.dtype}"
            )
        current = t.detach().reshape(-1)[e.indices.to(t.device)]
        wrong = int((_bits(current) != _bits(getattr(e, expect_attr).to(t.device))).sum())
        if wrong:
            state_word = "original" if forward else "patched"
            raise MedunlearnError(
                f"this model is not the {state_word} one: tensor {name!r} differs from the patch at {wrong} coordinates"
            )
    for name, e in patch.entries.items():
        t = state[name].data if isinstance(state[name], nn.Parameter) else state[name]
        flat = t.view(-1) if t.is_contiguous() else None
        values = getattr(e, write_attr).to(t.device)
        if flat is not None:
            flat[e.indices.to(t.device)] = values
        else:
            tmp = t.reshape(-1).clone()
            tmp[e.indices.to(t.device)] = values
            t.copy_(tmp.view(t.shape))


def apply_patch(model_or_state: nn.Module | Mapping[str, Tensor], patch: Patch) -> None:
    """Write the patch's new values in place; every patched coordinate must hold its old value first."""
    _write(model_or_state, patch, forward=True)


def revert_patch(model_or_state: nn.Module | Mapping[str, Tensor], patch: Patch) -> None:
    """Write the patch's old values back in place; every patched coordinate must hold its new value first."""
    _write(model_or_state, patch, forward=False)


def save_patch(patch: Patch, path: str | Path) -> Path:
    """Write ``patch`` to the directory ``path`` (``tensors.safetensors`` + ``manifest.json``), atomically."""
    tensors: dict[str, Tensor] = {}
    for name, e in patch.entries.items():
        tensors[f"{name}::indices"] = e.indices.contiguous()
        tensors[f"{name}::old"] = e.old.contiguous()
        tensors[f"{name}::new"] = e.new.contiguous()
    with atomic_path(path, is_dir=True) as tmp:
        save_tensors(tensors, tmp / "tensors.safetensors")
        manifest = {
            "format": FORMAT,
            "changed": patch.changed,
            "total": patch.total,
            "tensors": {
                n: {"shape": list(e.shape), "dtype": str(e.old.dtype), "changed": e.indices.numel()}
                for n, e in patch.entries.items()
            },
            "tensors_sha256": sha256_file(tmp / "tensors.safetensors"),
            "metadata": patch.metadata,
        }
        atomic_write_json(tmp / "manifest.json", manifest)
    return Path(path)


def load_patch(path: str | Path) -> Patch:
    """Read a patch written by :func:`save_patch`, checking the tensors against the manifest.

    Raises
    ------
    InputError
        One line naming the file: not a patch directory, a manifest of another format or shape, tensors that
        do not match its sha256, or entries whose indices, values or dtypes do not fit the manifest.
    """
    path = Path(path)
    manifest_path, tensors_path = path / "manifest.json", path / "tensors.safetensors"
    if not manifest_path.is_file() or not tensors_path.is_file():
        raise InputError("not a patch directory (needs manifest.json and tensors.safetensors)", path=path)
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except json.JSONDecodeError as err:
        raise InputError(f"bad JSON: {err.msg}", path=manifest_path, line=err.lineno) from None
    except ValueError as err:  # not UTF-8
        raise InputError(f"bad JSON: {err}", path=manifest_path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputError(f"unknown patch format {found!r} (expected {FORMAT})", path=manifest_path)
    listed, total = manifest.get("tensors"), manifest.get("total")
    if not isinstance(listed, dict) or type(total) is not int or total < 0:
        raise InputError("manifest needs 'tensors' (a mapping) and 'total' (an integer)", path=manifest_path)
    if sha256_file(tensors_path) != manifest.get("tensors_sha256"):
        raise InputError(
            "tensors do not match the manifest's sha256 (corrupted or edited patch)", path=tensors_path
        )
    try:
        raw = load_file(str(tensors_path))
    except (SafetensorError, OSError) as err:
        raise InputError(f"unreadable safetensors ({err})", path=tensors_path) from None
    entries: dict[str, PatchEntry] = {}
    for name, info in listed.items():
        try:
            entries[name] = _entry(name, info, raw)
        except KeyError as err:
            raise InputError(
                f"tensor {err.args[0]!r} listed in the manifest is missing", path=tensors_path
            ) from None
        except ValueError as err:
            raise InputError(f"tensor {name!r}: {err}", path=manifest_path) from None
    metadata = manifest.get("metadata")
    return Patch(entries=entries, total=total, metadata=dict(metadata) if isinstance(metadata, dict) else {})


def _entry(name: str, info: Any, raw: Mapping[str, Tensor]) -> PatchEntry:
    """One manifest entry with its tensors, checked: shape, dtype, equal lengths, increasing indices in range."""
    shape = info.get("shape") if isinstance(info, dict) else None
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("'shape' must be a list of non-negative integers")
    indices, old, new = raw[f"{name}::indices"], raw[f"{name}::old"], raw[f"{name}::new"]
    if indices.dtype != torch.int64 or any(t.dim() != 1 for t in (indices, old, new)):
        raise ValueError("indices (int64), old and new values must be flat vectors")
    if (
        not len(indices) == len(old) == len(new)
        or old.dtype != new.dtype
        or str(old.dtype) != info.get("dtype")
    ):
        raise ValueError(
            f"indices, old and new values differ in length or dtype from the manifest's {info.get('dtype')}"
        )
    size = math.prod(shape)
    if len(indices) and (
        int(indices[0]) < 0 or int(indices[-1]) >= size or bool((indices[1:] <= indices[:-1]).any())
    ):
        raise ValueError(
            f"indices must increase strictly within 0..{size - 1} (the tensor's {size} coordinates)"
        )
    return PatchEntry(shape=tuple(shape), indices=indices, old=old, new=new)
