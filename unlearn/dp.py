"""Differential privacy for the unlearning update: per-sample clipping, Gaussian noise, RDP accountant.

The accountant computes the Rényi DP of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar and
Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", Sec. 3.3: integer orders by
the binomial expansion, fractional orders by the two-sided series with erfc terms) and converts it to
(ε, δ) with the bound of Balle et al. 2020 (Theorem 21 of arXiv:1905.09982), as TF Privacy / dp_accounting
and Opacus do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy import special
from torch import Tensor

DEFAULT_ORDERS: tuple[float, ...] = (
    tuple(1 + x / 10.0 for x in range(1, 100))
    + tuple(float(a) for a in range(12, 64))
    + (128.0, 256.0, 512.0)
)


def clip_per_sample(per_sample_grads: Tensor, max_norm: float) -> Tensor:
    """Scale each row ``g_i`` to ``g_i·min(1, C/‖g_i‖)`` (rows of ``[B, D]``).

    Examples
    --------
    >>> clip_per_sample(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 1.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    if max_norm <= 0:
        raise ValueError(f"clipping norm must be > 0 (got {max_norm})")
    flat = per_sample_grads.reshape(per_sample_grads.shape[0], -1)
    norms = flat.norm(dim=1)
    scale = (max_norm / norms.clamp_min(torch.finfo(norms.dtype).tiny)).clamp(max=1.0)
    return per_sample_grads * scale.reshape(-1, *([1] * (per_sample_grads.dim() - 1)))


def add_noise(
    sum_grad: Tensor, sigma: float, max_norm: float, generator: torch.Generator | None = None
) -> Tensor:
    """``Σ_i clip(g_i) + N(0, (σ·C)²·I)``; the generator must live on ``sum_grad``'s device."""
    if sigma < 0:
        raise ValueError(f"noise multiplier must be >= 0 (got {sigma})")
    noise = torch.randn(sum_grad.shape, generator=generator, device=sum_grad.device, dtype=sum_grad.dtype)
    return sum_grad + (sigma * max_norm) * noise


def private_mean(
    per_sample_grads: Tensor,
    max_norm: float,
    sigma: float,
    generator: torch.Generator | None = None,
    expected_batch_size: int | None = None,
) -> Tensor:
    """DP-SGD gradient: ``(Σ_i clip(g_i) + N(0, σ²C²)) / B``.

    ``B`` is ``expected_batch_size`` under Poisson sampling (``q·N``), else the number of rows.
    """
    summed = clip_per_sample(per_sample_grads, max_norm).sum(dim=0)
    denom = expected_batch_size or per_sample_grads.shape[0]
    return add_noise(summed, sigma, max_norm, generator) / denom


def _log_binom(n: float, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    """``log A_α = log Σ_i C(α,i) q^i (1-q)^(α-i) exp((i²-i)/(2σ²))`` for integer α."""
    i = np.arange(alpha + 1, dtype=np.float64)
    terms = (
        _log_binom(float(alpha), i)
        + i * math.log(q)
        + (alpha - i) * math.log1p(-q)
        + (i * i - i) / (2 * sigma**2)
    )
    return float(special.logsumexp(terms))


def _log_erfc(x: float) -> float:
    return math.log(2.0) + float(special.log_ndtr(-x * math.sqrt(2.0)))


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    """``log A_α`` for fractional α: two series split at ``z₀ = σ² log(1/q - 1) + 1/2`` (Mironov et al.
    2019, Sec. 3.3), summed in log space with signs until the terms drop below ``e^-30``."""
    z0 = sigma**2 * math.log(1.0 / q - 1.0) + 0.5
    parts: list[float] = []
    signs: list[float] = []
    i = 0
    while True:
        coef = special.binom(alpha, i)
        log_coef = math.log(abs(coef))
        j = alpha - i
        log_s0 = (
            log_coef
            + i * math.log(q)
            + j * math.log1p(-q)
            + (i * i - i) / (2 * sigma**2)
            + math.log(0.5)
            + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
        )
        log_s1 = (
            log_coef
            + j * math.log(q)
            + i * math.log1p(-q)
            + (j * j - j) / (2 * sigma**2)
            + math.log(0.5)
            + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        )
        sign = 1.0 if coef > 0 else -1.0
        parts += [log_s0, log_s1]
        signs += [sign, sign]
        i += 1
        if max(log_s0, log_s1) < -30:
            break
    value, result_sign = special.logsumexp(parts, b=signs, return_sign=True)
    if result_sign <= 0:
        raise ArithmeticError(f"RDP series did not converge (q={q}, sigma={sigma}, alpha={alpha})")
    return float(value)


def rdp_sampled_gaussian(q: float, sigma: float, alpha: float) -> float:
    """RDP ``ε(α)`` of one step of the Poisson-subsampled Gaussian mechanism (sensitivity 1).

    Examples
    --------
    >>> round(rdp_sampled_gaussian(1.0, 2.0, 3.0), 6)  # no subsampling: α/(2σ²)
    0.375
    """
    if not 0 <= q <= 1:
        raise ValueError(f"sample rate must be in [0, 1] (got {q})")
    if alpha <= 1:
        raise ValueError(f"RDP order must be > 1 (got {alpha})")
    if q == 0:
        return 0.0
    if sigma == 0 or math.isinf(alpha):
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma**2)
    log_a = _log_a_int(q, sigma, int(alpha)) if float(alpha).is_integer() else _log_a_frac(q, sigma, alpha)
    return log_a / (alpha - 1)


def eps_from_rdp(
    orders: Sequence[float], rdp: Sequence[float] | np.ndarray, delta: float
) -> tuple[float, float]:
    """Smallest ``ε`` over the orders of ``ε(α) + log((α-1)/α) - (log δ + log α)/(α-1)`` and its order."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1) (got {delta})")
    a = np.asarray(orders, dtype=np.float64)
    r = np.asarray(rdp, dtype=np.float64)
    eps = r - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    eps = np.where(np.isnan(eps), np.inf, eps)
    best = int(np.argmin(eps))
    return max(0.0, float(eps[best])), float(a[best])


class RDPAccountant:
    """Privacy accountant for DP-SGD with Poisson sampling (Rényi DP, composed over steps).

    Examples
    --------
    >>> acc = RDPAccountant()
    >>> acc.step(noise_multiplier=1.1, sample_rate=0.01, steps=10_000)
    >>> round(acc.epsilon(1e-5), 2)
    5.63
    """

    def __init__(self, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        self.orders = tuple(float(a) for a in orders)
        self.history: list[tuple[float, float, int]] = []

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record ``steps`` steps at this noise multiplier ``σ`` and sample rate ``q``."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0 (got {steps})")
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            sigma, q, n = self.history.pop()
            self.history.append((sigma, q, n + steps))
        else:
            self.history.append((noise_multiplier, sample_rate, steps))

    @property
    def steps(self) -> int:
        """Number of steps recorded."""
        return sum(n for _, _, n in self.history)

    def rdp(self) -> np.ndarray:
        """Total RDP at each order."""
        total = np.zeros(len(self.orders))
        for sigma, q, n in self.history:
            total += n * np.array([rdp_sampled_gaussian(q, sigma, a) for a in self.orders])
        return total

    def epsilon_and_order(self, delta: float) -> tuple[float, float]:
        """``(ε, best order)`` for the recorded steps at this δ (``ε = 0`` before any step)."""
        if not self.history:
            return 0.0, float("nan")
        return eps_from_rdp(self.orders, self.rdp(), delta)

    def epsilon(self, delta: float) -> float:
        """``ε`` of the run so far at this ``δ``."""
        return self.epsilon_and_order(delta)[0]

    def state_dict(self) -> dict[str, list]:
        """Plain-data state for checkpoints."""
        return {"orders": list(self.orders), "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, list]) -> None:
        """Restore from :meth:`state_dict`."""
        self.orders = tuple(float(a) for a in state["orders"])
        self.history = [(float(s), float(q), int(n)) for s, q, n in state["history"]]
