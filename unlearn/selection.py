"""Parameter selection: diagonal empirical Fisher, saliency, top-ρ masks with per-tensor thresholds.

The top-ρ mask over all coordinates is found without a global sort: the threshold comes either from a
streaming merge of per-tensor ``topk`` (``method="kthvalue"``, memory ``O(k)``) or from repeated
per-tensor histograms (``method="histogram"``, memory ``O(bins)``, a few passes over the scores);
each tensor is then masked with ``scores > t`` plus a deterministic share of the ties ``scores == t``,
so exactly ``k = max(1, round(ρ·N))`` coordinates are selected. With ``sharded=True`` (FSDP, see
:mod:`unlearn.sharding`) each rank passes its rows of every tensor: the ranks exchange their local top-k
candidates (``O(k)`` numbers each), the count above the threshold and, per tensor, their tie counts, and
select exactly what the unsharded call would.

Masks confine an optimizer to the selected coordinates in two ways: :func:`mask_gradients` zeroes the
gradient outside the mask (enough for SGD, and for Adam/AdamW with ``weight_decay=0`` started from a
fresh state), and :func:`enforce_mask` resets unselected coordinates to their starting values after
each step (exact for any optimizer, including weight decay and stale moments).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor, nn

from ontology.common import InputError, MedunlearnError, atomic_path
from unlearn.projection import distributed_sum
from unlearn.sharding import all_gather, local
from unlearn.tensor_io import save_tensors

DEFAULT_RHO = 1e-3
_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")
_HIST_BINS = 1024
_HIST_ROUNDS = 8
_EXACT_LIMIT = 1 << 22


class SelectionError(MedunlearnError, ValueError):
    """A selection that cannot be made: ρ outside (0, 1], no parameter matched, NaN scores."""


def select_parameters(
    model: nn.Module,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    layers: Iterable[int] | None = None,
) -> dict[str, nn.Parameter]:
    """Named parameters passing the filters, in model order (tied weights once).

    Parameters
    ----------
    include, exclude : iterable of str, optional
        Regular expressions searched in the parameter name; a parameter is kept if it matches one
        ``include`` pattern (all when None) and no ``exclude`` pattern.
    layers : iterable of int, optional
        Keep only parameters of these decoder layers (names containing ``layers.<i>.``); parameters
        outside the layer stack (embeddings, final norm, head) are then dropped.
    """
    try:
        inc = [re.compile(p) for p in include] if include is not None else None
        exc = [re.compile(p) for p in exclude or ()]
    except re.error as err:
        raise SelectionError(f"bad parameter filter pattern {err.pattern!r}: {err}") from None
    wanted = set(layers) if layers is not None else None
    out: dict[str, nn.Parameter] = {}
    for name, param in model.named_parameters():
        if inc is not None and not any(p.search(name) for p in inc):
            continue
        if any(p.search(name) for p in exc):
            continue
        if wanted is not None:
            m = _LAYER_RE.search(name)
            if m is None or int(m.group(1)) not in wanted:
                continue
        out[name] = param
    if not out:
        raise SelectionError(
            f"no parameter matches include={include!r} exclude={exclude!r} layers={layers!r}"
        )
    return out


def fisher_diagonal(
    model: nn.Module,
    batches: Iterable[Any],
    loss_fn: Callable[[nn.Module, Any], Tensor],
    params: Mapping[str, nn.Parameter],
) -> dict[str, Tensor]:
    """Diagonal empirical Fisher ``F_i = mean_b (∂L_b/∂θ_i)²`` over ``batches``, in float32.

    Each batch contributes its squared gradient; pass one-sample batches for the per-sample empirical
    Fisher. Only ``params`` receive gradients (others are frozen for the duration, so the backward
    pass stops early), the model is put in eval mode (no dropout) and both are restored afterwards.
    Gradients are cleared on return. For a sharded model the result holds this rank's rows.
    """
    if not params:
        raise SelectionError("fisher_diagonal: no parameters to score")
    chosen = {id(p) for p in params.values()}
    saved_flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    fisher = {name: torch.zeros_like(local(p), dtype=torch.float32) for name, p in params.items()}
    n = 0
    try:
        for p, _ in saved_flags:
            p.requires_grad_(id(p) in chosen)
            p.grad = None
        model.eval()
        for batch in batches:
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise SelectionError(f"fisher_diagonal: non-finite loss {loss.item()} on batch {n}")
            loss.backward()
            for name, p in params.items():
                if p.grad is not None:
                    g = local(p.grad).float()
                    fisher[name].addcmul_(g, g)
                    p.grad = None
            n += 1
    finally:
        for p, flag in saved_flags:
            p.requires_grad_(flag)
            p.grad = None
        model.train(was_training)
    if n == 0:
        raise SelectionError("fisher_diagonal: no batches (empty data set?)")
    for f in fisher.values():
        f.div_(n)
    return fisher


def saliency(
    f_forget: Mapping[str, Tensor], f_retain: Mapping[str, Tensor], eps: float = 1e-8
) -> dict[str, Tensor]:
    """Saliency ratio ``s_i = F_forget,i / (F_retain,i + ε)`` per tensor.

    Examples
    --------
    >>> saliency({"w": torch.tensor([2.0, 0.0])}, {"w": torch.tensor([1.0, 0.0])}, eps=1.0)["w"]
    tensor([1., 0.])
    """
    if set(f_forget) != set(f_retain):
        raise SelectionError(
            f"forget and retain Fisher cover different tensors: {sorted(set(f_forget) ^ set(f_retain))[:3]}"
        )
    return {name: f_forget[name] / (f_retain[name] + eps) for name in f_forget}


def _target_count(rho: float, total: int) -> int:
    if not (isinstance(rho, int | float) and 0 < rho <= 1):
        raise SelectionError(f"rho (fraction of coordinates to update) must be in (0, 1]; got {rho!r}")
    if total == 0:
        raise SelectionError("no coordinates to select from")
    return min(total, max(1, round(rho * total)))


def _threshold_kthvalue(scores: Mapping[str, Tensor], k: int, sharded: bool = False) -> Tensor:
    """The k-th largest score, by a streaming merge of per-tensor top-k (memory ``O(k)``).

    Sharded, each rank's k best (padded with ``-inf``) are gathered and merged once more.
    """
    best: Tensor | None = None
    for s in scores.values():
        flat = s.detach().reshape(-1)
        top = torch.topk(flat, min(k, flat.numel()), sorted=False).values
        if best is not None:
            merged = torch.cat([best, top.to(best.device, best.dtype)])
            top = torch.topk(merged, min(k, merged.numel()), sorted=False).values
        best = top
    assert best is not None
    if sharded:
        padded = torch.full((k,), -math.inf, dtype=best.dtype, device=best.device)
        padded[: best.numel()] = best
        best = torch.topk(torch.cat(all_gather(padded)), k, sorted=False).values
    return best.min()


def _in_range(s: Tensor, lo: float, hi: float, hi_inclusive: bool, dtype: torch.dtype) -> Tensor:
    v = s.detach().reshape(-1).to(dtype)
    keep = (v >= lo) & ((v <= hi) if hi_inclusive else (v < hi))
    return v[keep]


def _threshold_histogram(scores: Mapping[str, Tensor], k: int) -> Tensor:
    """The k-th largest score from refined histograms (memory ``O(bins)`` besides one tensor at a time).

    Each round splits ``[lo, hi]`` into equal bins, counts the scores per bin tensor by tensor (on the
    tensor's device; only the counts travel) and keeps the bin holding the k-th largest score; once that
    bin holds few scores they are gathered and ranked. Scores are compared in float32 (float64 if any
    tensor is float64), so bin edges are representable scores.
    """
    dtype = torch.float64 if any(s.dtype == torch.float64 for s in scores.values()) else torch.float32
    lo = min(float(s.min().to(dtype)) for s in scores.values())
    hi = max(float(s.max().to(dtype)) for s in scores.values())
    hi_inclusive = True
    above = 0  # scores above the current range
    for _ in range(_HIST_ROUNDS):
        if lo == hi:
            return torch.tensor(lo, dtype=dtype)
        edges = torch.linspace(lo, hi, _HIST_BINS + 1, dtype=torch.float64).to(dtype)
        counts = torch.zeros(_HIST_BINS, dtype=torch.int64)
        for s in scores.values():
            vals = _in_range(s, lo, hi, hi_inclusive, dtype)
            idx = (torch.bucketize(vals, edges.to(vals.device), right=True) - 1).clamp_(0, _HIST_BINS - 1)
            counts += torch.bincount(idx, minlength=_HIST_BINS).cpu()
        from_top = above + counts.flip(0).cumsum(0)  # from_top[j]: scores in the top j+1 bins or above
        j = int(torch.searchsorted(from_top, torch.tensor([k]))[0])
        b = _HIST_BINS - 1 - j
        if j > 0:
            above = int(from_top[j - 1])
        hi_inclusive = hi_inclusive and b == _HIST_BINS - 1
        lo, hi = float(edges[b]), float(edges[b + 1])
        if int(counts[b]) <= _EXACT_LIMIT:
            break
    if lo == hi:
        return torch.tensor(lo, dtype=dtype)
    vals = torch.cat([_in_range(s, lo, hi, hi_inclusive, dtype).cpu() for s in scores.values()])
    return torch.topk(vals, k - above).values.min()


def top_fraction_mask(
    scores: Mapping[str, Tensor], rho: float = DEFAULT_RHO, method: str = "kthvalue", sharded: bool = False
) -> dict[str, Tensor]:
    """Boolean masks selecting the top ``ρ`` of all coordinates of ``scores``, without a global sort.

    Exactly ``k = max(1, round(ρ·N))`` coordinates are selected (``N`` the total count): every score
    above the threshold ``t`` (the k-th largest score) and, among the ties ``== t``, the first ones in
    tensor order then flat index order.

    Parameters
    ----------
    scores : mapping of str to Tensor
        Per-tensor scores (e.g. :func:`saliency`); higher is selected first.
    rho : float
        Fraction in (0, 1].
    method : {"kthvalue", "histogram"}
        How the threshold is found (see the module docstring); both give the same mask.
    sharded : bool
        ``scores`` hold this rank's rows of each tensor (row blocks in rank order, as FSDP shards them);
        the mask returned is this rank's rows of the unsharded mask. Only ``method="kthvalue"``.

    Examples
    --------
    >>> m = top_fraction_mask({"a": torch.tensor([3.0, 1.0]), "b": torch.tensor([2.0, 0.0])}, rho=0.5)
    >>> m["a"].tolist(), m["b"].tolist()
    ([True, False], [True, False])
    """
    device = next(iter(scores.values())).device if scores else torch.device("cpu")

    def global_sum(n: int) -> int:
        return int(distributed_sum(torch.tensor([n], dtype=torch.int64, device=device))[0]) if sharded else n

    k = _target_count(rho, global_sum(sum(s.numel() for s in scores.values())))
    for name, s in scores.items():
        if torch.isnan(s).any():
            raise SelectionError(f"scores of {name} contain NaN")
    if method == "kthvalue":
        t = _threshold_kthvalue(scores, k, sharded)
    elif method == "histogram" and not sharded:
        t = _threshold_histogram(scores, k)
    else:
        raise SelectionError(f"unknown selection method {method!r} (sharded: only 'kthvalue')")
    ties_left = k - global_sum(sum(int((s > t.to(s.device)).sum()) for s in scores.values()))
    masks: dict[str, Tensor] = {}
    for name, s in scores.items():
        tv = t.to(s.device)
        mask = s > tv
        if ties_left > 0:
            tie = s == tv
            # ties are taken in flat order; sharded, the ranks before this one come first
            counts = [int(c) for c in all_gather(tie.sum().reshape(1))] if sharded else [int(tie.sum())]
            me = torch.distributed.get_rank() if sharded else 0
            mine = max(0, min(counts[me], ties_left - sum(counts[:me])))
            rank = tie.reshape(-1).cumsum(0).reshape(s.shape)
            mask |= tie & (rank <= mine)
            ties_left -= min(ties_left, sum(counts))
        masks[name] = mask
    return masks


def mask_size(mask: Mapping[str, Tensor]) -> int:
    """Number of selected coordinates."""
    return int(sum(int(m.sum()) for m in mask.values()))


def mask_gradients(params: Mapping[str, nn.Parameter], mask: Mapping[str, Tensor]) -> None:
    """Zero the gradient outside the mask, in place (parameters without a gradient are skipped)."""
    for name, p in params.items():
        if p.grad is not None:
            p.grad.mul_(mask[name].to(p.grad.dtype))


@torch.no_grad()
def enforce_mask(
    params: Mapping[str, nn.Parameter], mask: Mapping[str, Tensor], initial: Mapping[str, Tensor]
) -> None:
    """Reset every unselected coordinate to its value in ``initial``, in place (bit-exact)."""
    for name, p in params.items():
        p.copy_(torch.where(mask[name], p, initial[name].to(p.device, p.dtype)))


def save_mask(
    mask: Mapping[str, Tensor], path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write boolean masks to a safetensors file, atomically, as the flat indices of selected coordinates.

    Sparse storage keeps the file at about 8 bytes per selected coordinate (1 MB for 0.1% of SmolLM2's
    135M parameters instead of 135 MB of booleans); tensor shapes go in the header with ``metadata``.
    """
    tensors = {
        name: m.detach().to("cpu", torch.bool).reshape(-1).nonzero().reshape(-1).contiguous()
        for name, m in mask.items()
    }
    meta = {
        "selected": str(sum(t.numel() for t in tensors.values())),
        "total": str(sum(m.numel() for m in mask.values())),
        "shapes": json.dumps({name: list(m.shape) for name, m in mask.items()}),
    }
    meta.update(metadata or {})
    with atomic_path(path) as tmp:
        save_tensors(tensors, tmp, metadata=meta)
    return Path(path)


def load_mask(path: str | Path) -> dict[str, Tensor]:
    """Read masks written by :func:`save_mask` (boolean tensors on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("mask file not found", path=path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            indices = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError) as err:
        raise InputError(f"not a safetensors mask file ({err})", path=path) from None
    if "shapes" not in header:
        raise InputError("not a mask file: its header records no tensor shapes", path=path)
    shapes = json.loads(header["shapes"])
    masks = {}
    for name, idx in indices.items():
        if idx.dtype != torch.int64 or name not in shapes:
            raise InputError(f"tensor {name} is not a list of selected indices", path=path)
        flat = torch.zeros(math.prod(shapes[name]), dtype=torch.bool)
        flat[idx] = True
        masks[name] = flat.view(shapes[name])
    return masks
