"""Geometric constraint on the selected coordinates: retain-gradient basis, PCGrad/GRU, trust region.

All vectors are flat 1-D tensors over the selected coordinates (see :func:`gather_masked`). Under
sharding (FSDP, one shard of each vector per rank) every inner product is a sum of local inner
products: each function takes an optional ``all_reduce`` callable that sums a tensor across ranks
and returns it (:func:`distributed_sum` does this with ``torch.distributed``). Full gradients are
never gathered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

AllReduce = Callable[[Tensor], Tensor]
DEFAULT_BASIS_SIZE = 8
_DEPENDENT_TOL = 1e-6


def _identity(t: Tensor) -> Tensor:
    return t


def distributed_sum(t: Tensor) -> Tensor:
    """Sum ``t`` over all ranks with ``torch.distributed`` (identity when not initialised)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def dot(a: Tensor, b: Tensor, all_reduce: AllReduce | None = None) -> Tensor:
    """Inner product of two (possibly sharded) flat vectors, as a 0-dim tensor."""
    return (all_reduce or _identity)(torch.dot(a.reshape(-1), b.reshape(-1)).reshape(1))[0]


def gather_masked(grads: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
    """Concatenate ``grads[name][mask[name]]`` in the mask's key order into one flat vector.

    Examples
    --------
    >>> gather_masked({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0])},
    ...               {"a": torch.tensor([False, True]), "b": torch.tensor([True])})
    tensor([2., 3.])
    """
    return torch.cat([grads[name][m] for name, m in mask.items()])


def scatter_masked(vec: Tensor, mask: Mapping[str, Tensor], like: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of :func:`gather_masked`: tensors shaped like ``like``, zero outside the mask."""
    out: dict[str, Tensor] = {}
    offset = 0
    for name, m in mask.items():
        t = torch.zeros_like(like[name])
        n = int(m.sum())
        t[m] = vec[offset : offset + n].to(t.dtype)
        offset += n
        out[name] = t
    if offset != vec.numel():
        raise ValueError(f"vector has {vec.numel()} entries but the mask selects {offset}")
    return out


class RetainBasis:
    """Orthonormal basis of the last ``k`` retain gradients; projects them out of forget gradients.

    Vectors are orthonormalised by modified Gram–Schmidt applied twice ("twice is enough"), with
    every inner product reduced through ``all_reduce`` so each rank may hold only its shard. A new
    vector nearly inside the current span (relative residual below ``1e-6``) adds no direction. When
    more than ``k`` vectors have been added the oldest is dropped and the basis rebuilt.

    Parameters
    ----------
    k : int
        Number of recent retain gradients kept (the trainer refreshes them every ``K`` steps).
    all_reduce : callable, optional
        Sums a tensor across ranks; None for unsharded vectors.

    Examples
    --------
    >>> b = RetainBasis(k=2)
    >>> b.add(torch.tensor([1.0, 0.0, 0.0]))
    >>> b.project_out(torch.tensor([3.0, 4.0, 5.0]))
    tensor([0., 4., 5.])
    """

    def __init__(self, k: int = DEFAULT_BASIS_SIZE, all_reduce: AllReduce | None = None) -> None:
        if k < 1:
            raise ValueError(f"basis size k must be >= 1 (got {k})")
        self.k = k
        self.all_reduce: AllReduce = all_reduce or _identity
        self._recent: deque[Tensor] = deque(maxlen=k)
        self.basis: Tensor | None = None  # [r, D] orthonormal rows, r <= k

    def __len__(self) -> int:
        return 0 if self.basis is None else self.basis.shape[0]

    def reset(self) -> None:
        """Forget every stored gradient."""
        self._recent.clear()
        self.basis = None

    def _coeffs(self, g: Tensor) -> Tensor:
        assert self.basis is not None
        return self.all_reduce(self.basis @ g)

    def _orthonormal_append(self, g: Tensor) -> None:
        v = g.detach().reshape(-1).float().clone()
        norm0 = dot(v, v, self.all_reduce).sqrt()
        if norm0 == 0:
            return
        if self.basis is not None:
            for _ in range(2):
                v -= self.basis.T @ self._coeffs(v)
        norm = dot(v, v, self.all_reduce).sqrt()
        if norm <= _DEPENDENT_TOL * norm0:
            return
        row = (v / norm).unsqueeze(0)
        self.basis = row if self.basis is None else torch.cat([self.basis, row])

    def add(self, g: Tensor) -> None:
        """Store one retain gradient (flat) and update the basis."""
        full = len(self._recent) == self.k
        self._recent.append(g.detach().reshape(-1).float().clone())
        if full:
            self.basis = None
            for v in self._recent:
                self._orthonormal_append(v)
        else:
            self._orthonormal_append(self._recent[-1])

    def project_out(self, g: Tensor) -> Tensor:
        """``g - U Uᵀ g``: the component of ``g`` orthogonal to the stored retain gradients."""
        if self.basis is None:
            return g
        flat = g.reshape(-1)
        coeffs = self._coeffs(flat.float())
        return (flat - (self.basis.T @ coeffs).to(flat.dtype)).reshape(g.shape)

    def state_dict(self) -> dict[str, Tensor]:
        """Stored gradients, oldest first, for checkpoints (the basis is rebuilt on load)."""
        return {"recent": torch.stack(list(self._recent))} if self._recent else {}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore from :meth:`state_dict`."""
        self.reset()
        for v in state.get("recent", ()):
            self.add(v)


def _conflict_projection(g: Tensor, ref: Tensor, all_reduce: AllReduce | None) -> Tensor:
    d = dot(g, ref, all_reduce)
    if d >= 0:
        return g
    nn_ = dot(ref, ref, all_reduce)
    return g - (d / nn_).to(g.dtype) * ref


def pcgrad(g_forget: Tensor, g_retain: Tensor, all_reduce: AllReduce | None = None) -> Tensor:
    """PCGrad for the forget gradient: if ``g_f·g_r < 0`` return ``g_f - (g_f·g_r/|g_r|²)·g_r``, else ``g_f``.

    Examples
    --------
    >>> pcgrad(torch.tensor([1.0, -1.0]), torch.tensor([0.0, 1.0]))
    tensor([1., 0.])
    """
    return _conflict_projection(g_forget, g_retain, all_reduce)


def ema_update(ema: Tensor | None, g: Tensor, decay: float = 0.9) -> Tensor:
    """Exponential moving average ``decay·ema + (1-decay)·g`` (``g`` itself when ``ema`` is None)."""
    if ema is None:
        return g.detach().clone()
    return decay * ema + (1.0 - decay) * g.detach()


def gru_project(g_forget: Tensor, g_retain_ema: Tensor, all_reduce: AllReduce | None = None) -> Tensor:
    """GRU (Wang et al. 2025): PCGrad's rule against a moving average of retain gradients.

    ``g_retain_ema`` is kept by the caller with :func:`ema_update`; with a single retain gradient this
    is exactly :func:`pcgrad`.
    """
    return _conflict_projection(g_forget, g_retain_ema, all_reduce)


def clip_step(delta: Tensor, max_norm: float, all_reduce: AllReduce | None = None) -> Tensor:
    """Trust region on one step: ``δ·min(1, r/‖δ‖)`` (L2 over the selected coordinates).

    Examples
    --------
    >>> clip_step(torch.tensor([3.0, 4.0]), 1.0)
    tensor([0.6000, 0.8000])
    """
    if max_norm <= 0:
        raise ValueError(f"trust-region radius must be > 0 (got {max_norm})")
    norm = dot(delta, delta, all_reduce).sqrt()
    if norm <= max_norm:
        return delta
    return delta * (max_norm / norm).to(delta.dtype)


def clip_drift(
    current: Tensor, initial: Tensor, max_norm: float, all_reduce: AllReduce | None = None
) -> Tensor:
    """Trust region on the total drift: ``θ₀ + clip_step(θ - θ₀, r)``.

    Examples
    --------
    >>> clip_drift(torch.tensor([4.0, 4.0]), torch.tensor([1.0, 0.0]), 2.5)
    tensor([2.5000, 2.0000])
    """
    drift = current - initial
    clipped = clip_step(drift, max_norm, all_reduce)
    return current if clipped is drift else initial + clipped


# ------------------------------------------------------------------------------------------ per method
class GradientProjection:
    """How a step combines the forget gradient with the retain gradient (``method.projection: none``: the
    forget gradient alone; the retain gradient is then already in it). Subclasses keep their state in
    checkpoints under the keys ``basis`` and ``gru_ema``."""

    def combine(self, step: int, g_forget: Tensor, g_retain: Tensor) -> Tensor:
        return g_forget

    def state_dict(self) -> dict[str, object]:
        return {"basis": None, "gru_ema": None}

    def load_state_dict(self, state: Mapping[str, object], device: torch.device | str) -> None:
        """Restore the state of :meth:`state_dict` onto ``device``."""


class BasisProjection(GradientProjection):
    """``basis``: the forget gradient projected off the last ``basis_k`` retain gradients (added to the basis
    every ``refresh_every`` steps), plus the retain gradient."""

    def __init__(self, k: int, refresh_every: int, all_reduce: AllReduce | None) -> None:
        self.basis = RetainBasis(k, all_reduce)
        self.refresh_every = refresh_every

    def combine(self, step: int, g_forget: Tensor, g_retain: Tensor) -> Tensor:
        if step % self.refresh_every == 0:
            self.basis.add(g_retain)
        return self.basis.project_out(g_forget) + g_retain

    def state_dict(self) -> dict[str, object]:
        return {"basis": self.basis.state_dict(), "gru_ema": None}

    def load_state_dict(self, state: Mapping[str, object], device: torch.device | str) -> None:
        saved = state["basis"]
        assert isinstance(saved, Mapping)
        self.basis.load_state_dict({k: v.to(device) for k, v in saved.items()})


class GRUProjection(GradientProjection):
    """``gru``: the forget gradient projected off an EMA of the retain gradient when they conflict."""

    def __init__(self, all_reduce: AllReduce | None) -> None:
        self.all_reduce = all_reduce
        self.ema: Tensor | None = None

    def combine(self, step: int, g_forget: Tensor, g_retain: Tensor) -> Tensor:
        self.ema = ema_update(self.ema, g_retain)
        return gru_project(g_forget, self.ema, self.all_reduce) + g_retain

    def state_dict(self) -> dict[str, object]:
        return {"basis": None, "gru_ema": self.ema}

    def load_state_dict(self, state: Mapping[str, object], device: torch.device | str) -> None:
        ema = state["gru_ema"]
        self.ema = None if ema is None else ema.to(device)  # type: ignore[attr-defined]


class PCGradProjection(GradientProjection):
    """``pcgrad``: the forget gradient projected off the retain gradient when they conflict."""

    def __init__(self, all_reduce: AllReduce | None) -> None:
        self.all_reduce = all_reduce

    def combine(self, step: int, g_forget: Tensor, g_retain: Tensor) -> Tensor:
        return pcgrad(g_forget, g_retain, self.all_reduce) + g_retain


#: ``method.projection`` -> (method config, all-reduce) -> its projection
PROJECTIONS: dict[str, Callable[[Any, AllReduce | None], GradientProjection]] = {
    "none": lambda method, all_reduce: GradientProjection(),
    "basis": lambda method, all_reduce: BasisProjection(method.basis_k, method.refresh_every, all_reduce),
    "gru": lambda method, all_reduce: GRUProjection(all_reduce),
    "pcgrad": lambda method, all_reduce: PCGradProjection(all_reduce),
}


def make_projection(method: Any, all_reduce: AllReduce | None = None) -> GradientProjection:
    """The projection a method config names (``method.projection``)."""
    return PROJECTIONS[method.projection](method, all_reduce)
