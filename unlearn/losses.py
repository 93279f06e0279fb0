"""Unlearning losses as pure functions of log-probabilities, token weights and reference values.

Conventions
-----------
- ``logp`` is the ``[B, T-1]`` output of :func:`token_logprobs`: position ``t`` holds
  ``log p(labels[:, t+1] | prefix)``; positions whose label is ``-100`` hold 0.
- Token ``weights`` are aligned with ``logp`` (weights of ``labels[:, 1:]``), non-negative;
  a weight of 0 removes the token. Weighted means divide by ``Σ w`` and are 0 (not NaN) when ``Σ w = 0``.
- Every loss is *minimised*. Forget losses (GA, NPO, SimNPO, token forget) decrease as the model's
  likelihood of the forget tokens decreases.
- NPO-type losses use log-probability ratios ``log π_θ - log π_ref`` (never raw logits).

The formulas and defaults are listed in ``docs/method-choices.md`` ("Loss and update formulas").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100
DEFAULT_NPO_BETA = 0.1
DEFAULT_SIMNPO_BETA = 2.5


def _check_beta(beta: float) -> None:
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (got {beta})")


def _weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """``Σ w·v / Σ w``; 0 when ``Σ w = 0`` (no NaN, and zero gradient)."""
    if values.shape != weights.shape:
        raise ValueError(f"weights of shape {tuple(weights.shape)} do not match values {tuple(values.shape)}")
    weights = weights.to(values.dtype)
    weighted = torch.where(weights != 0, values * weights, torch.zeros_like(values))
    return weighted.sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


def token_logprobs(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Log-probability of each next token.

    ``logits[:, :-1]`` predicts ``labels[:, 1:]``; computed as ``gather(logits) - logsumexp(logits)``,
    which keeps no ``[B, T, V]`` log-softmax alive for the backward pass. Half-precision logits are
    upcast to float32.

    Parameters
    ----------
    logits : Tensor
        ``[B, T, V]`` model outputs.
    labels : Tensor
        ``[B, T]`` token ids, ``ignore_index`` where no loss is taken.

    Returns
    -------
    Tensor
        ``[B, T-1]`` log-probabilities, 0 at ignored positions.

    Examples
    --------
    >>> logits = torch.zeros(1, 2, 4)
    >>> token_logprobs(logits, torch.tensor([[0, 3]]))  # uniform over 4 tokens
    tensor([[-1.3863]])
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not match")
    shifted = logits[:, :-1]
    if shifted.dtype in (torch.float16, torch.bfloat16):
        shifted = shifted.float()
    target = labels[:, 1:]
    valid = target != ignore_index
    safe = target.masked_fill(~valid, 0).unsqueeze(-1)
    picked = shifted.gather(-1, safe).squeeze(-1)
    logp = picked - torch.logsumexp(shifted, dim=-1)
    return logp.masked_fill(~valid, 0.0)


def sequence_logprob(logp: Tensor, weights: Tensor | None = None) -> Tensor:
    """Per-sequence log-likelihood ``Σ_t w_t·logp_t`` (``w = 1`` when ``weights`` is None), shape ``[B]``."""
    if weights is None:
        return logp.sum(dim=-1)
    return (logp * weights.to(logp.dtype)).sum(dim=-1)


def nll_loss(logp: Tensor, weights: Tensor) -> Tensor:
    """Weighted negative log-likelihood ``-Σ w·logp / Σ w`` (0 when ``Σ w = 0``).

    Examples
    --------
    >>> nll_loss(torch.log(torch.tensor([[0.5, 0.25]])), torch.tensor([[1.0, 1.0]]))
    tensor(1.0397)
    """
    return -_weighted_mean(logp, weights)


def ga_loss(logp: Tensor, weights: Tensor) -> Tensor:
    """Gradient ascent on the forget tokens, as a loss to minimise: ``Σ w·logp / Σ w = -nll``."""
    return _weighted_mean(logp, weights)


def npo_loss(logp_seq: Tensor, ref_logp_seq: Tensor, beta: float = DEFAULT_NPO_BETA) -> Tensor:
    """Sequence-level NPO: ``(2/β)·mean_i log(1 + (π_θ/π_ref)^β)``.

    Computed as ``(2/β)·softplus(β·(log π_θ - log π_ref))`` from sequence log-probabilities
    (``Σ_t logp``), never from raw logits. Its gradient is ``2σ(β·r)·∇log π_θ``, which tends to
    the gradient-ascent gradient ``∇ log π_θ`` as ``β → 0``.

    Examples
    --------
    >>> npo_loss(torch.tensor([-2.0]), torch.tensor([-2.0]), beta=1.0)  # (2/1)·log 2
    tensor(1.3863)
    """
    _check_beta(beta)
    ratio = logp_seq - ref_logp_seq.detach()
    return (2.0 / beta) * F.softplus(beta * ratio).mean()


def simnpo_loss(
    logp_seq: Tensor, lengths: Tensor, beta: float = DEFAULT_SIMNPO_BETA, gamma: float = 0.0
) -> Tensor:
    """SimNPO (reference-free, length-normalised): ``-(2/β)·mean_i logσ(-β·logp_i/|y_i| - γ)``.

    Sequences of length 0 are counted as length 1 (their ``logp`` is 0).
    """
    _check_beta(beta)
    length = lengths.to(logp_seq.dtype).clamp_min(1.0)
    return -(2.0 / beta) * F.logsigmoid(-beta * logp_seq / length - gamma).mean()


def _align(logits: Tensor, weights: Tensor) -> Tensor:
    """Drop the last position of ``logits`` when ``weights`` is aligned with next-token predictions."""
    if logits.shape[:2] == weights.shape:
        return logits
    if logits.shape[1] == weights.shape[1] + 1 and logits.shape[0] == weights.shape[0]:
        return logits[:, :-1]
    raise ValueError(f"logits {tuple(logits.shape)} and weights {tuple(weights.shape)} do not align")


def kl_to_reference(logits: Tensor, ref_logits: Tensor, weights: Tensor) -> Tensor:
    """Token-level ``KL(p_ref ‖ p_θ) = Σ_v p_ref·(log p_ref - log p_θ)``, weighted mean over positions.

    ``weights`` may have the shape of ``logits[..., 0]`` or be aligned with :func:`token_logprobs`
    (one position shorter), in which case the last position of the logits is dropped.
    The reference is detached.
    """
    logits = _align(logits, weights)
    ref_logits = _align(ref_logits, weights).detach()
    logq = torch.log_softmax(logits.float(), dim=-1)
    logp_ref = torch.log_softmax(ref_logits.float(), dim=-1)
    kl = (logp_ref.exp() * (logp_ref - logq)).sum(dim=-1)
    return _weighted_mean(kl, weights)


def reference_buckets(
    ref_logits: Tensor, k: int, exclude: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """A reference's next-token distributions, coarsened to its ``k`` most likely tokens and one bucket for the
    rest of the vocabulary: ``(index [.., k], log-probabilities [.., k], log tail mass [..])``.

    With ``exclude`` (a token id per position, ``[..]``), that token's probability is taken out and the rest
    renormalised, and the token becomes a bucket of its own with probability 0 (log-probability ``-inf``) in
    place of the ``k``-th token: a reference that never says the excluded token.

    Examples
    --------
    >>> idx, lp, tail = reference_buckets(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), 1)
    >>> idx.tolist(), lp.exp().tolist(), round(float(tail.exp()[0]), 4)
    ([[0]], [[0.5]], 0.5)
    >>> idx, lp, tail = reference_buckets(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), 2, torch.tensor([0]))
    >>> idx.tolist(), [round(float(v), 4) for v in lp.exp()[0]], round(float(tail.exp()[0]), 4)
    ([[1, 0]], [0.6, 0.0], 0.4)
    """
    logp = torch.log_softmax(ref_logits.float(), dim=-1)
    if exclude is not None:
        gone = logp.gather(-1, exclude.unsqueeze(-1)).squeeze(-1)
        logp = logp.scatter(-1, exclude.unsqueeze(-1), float("-inf")) - torch.log1p(
            -gone.exp().clamp_max(1 - 1e-6)
        ).unsqueeze(-1)
        top_lp, top_idx = logp.topk(k - 1, dim=-1)
        top_idx = torch.cat([top_idx, exclude.unsqueeze(-1)], dim=-1)
        top_lp = torch.cat([top_lp, torch.full_like(top_lp[..., :1], float("-inf"))], dim=-1)
    else:
        top_lp, top_idx = logp.topk(k, dim=-1)
    rest = logp.scatter(-1, top_idx, float("-inf"))
    return top_idx, top_lp, torch.logsumexp(rest, dim=-1)


def bucket_kl(
    logits: Tensor, ref_index: Tensor, ref_logp: Tensor, ref_tail: Tensor, weights: Tensor
) -> Tensor:
    """``KL(p_ref ‖ p_θ)`` between two next-token distributions coarsened to the same buckets (the reference's
    tokens ``ref_index`` and one bucket for the rest, :func:`reference_buckets`), weighted mean over positions.

    Non-negative and 0 exactly when the model gives every bucket the reference's mass: a forget objective that
    stops at the reference instead of pushing the record's tokens down without bound. ``logits`` ``[B, T, V]``
    (or one position shorter); the reference arrays are aligned with ``weights`` ``[B, T-1]``.

    Examples
    --------
    >>> ref = reference_buckets(torch.log(torch.tensor([[[0.5, 0.3, 0.2]]])), 1)
    >>> bucket_kl(torch.log(torch.tensor([[[0.5, 0.25, 0.25]]])), *ref, torch.ones(1, 1))  # same buckets
    tensor(0.)
    >>> round(float(bucket_kl(torch.zeros(1, 1, 3), *ref, torch.ones(1, 1))), 4)  # 0.5 ln(1.5) + 0.5 ln(0.75)
    0.0589
    """
    logits = _align(logits, weights).float()
    lse = torch.logsumexp(logits, dim=-1)
    logq = logits.gather(-1, ref_index) - lse.unsqueeze(-1)
    q_tail = torch.logsumexp(logits.scatter(-1, ref_index, float("-inf")), dim=-1) - lse
    p, r = ref_logp.exp(), ref_tail.exp()
    head = torch.where(p > 0, p * (ref_logp - logq), torch.zeros_like(p)).sum(-1)
    tail = torch.where(r > 0, r * (ref_tail - q_tail), torch.zeros_like(r))
    return _weighted_mean(head + tail, weights)


def reference_gap_loss(logp: Tensor, reference_logp: Tensor, weights: Tensor, power: float = 1.0) -> Tensor:
    """Weighted mean of ``max(0, log p_θ(x_t) − log p_ref(x_t))^power / power`` over the record's own tokens.

    Pushes each token the model finds likelier than the reference down to the reference's log-probability and
    no further (a zero gradient below it): the record-token pressure that :func:`bucket_kl` lacks, since a
    forward KL charges a model that still puts half its mass on a memorised token only about ``ln 2``. With
    ``power`` above 1 a token's push grows with its gap (``gap^(power−1)``), so the tokens only this record
    taught, far above the reference, move first and the template it shares with unseen records moves less.

    Examples
    --------
    >>> reference_gap_loss(torch.tensor([[-0.5, -5.0]]), torch.tensor([[-2.5, -3.0]]), torch.ones(1, 2))
    tensor(1.)
    >>> reference_gap_loss(torch.tensor([[-0.5, -1.0]]), torch.tensor([[-2.5, -2.0]]), torch.ones(1, 2), 2.0)
    tensor(1.2500)
    """
    return _weighted_mean((logp - reference_logp).clamp_min(0.0).pow(power) / power, weights)


def record_nll(logp: Tensor, valid: Tensor) -> Tensor:
    """Mean negative log-likelihood of each record over its ``valid`` positions, ``[B]`` (the LOSS attack's
    statistic); 0 for a record without one.

    Examples
    --------
    >>> record_nll(torch.tensor([[-1.0, -3.0, 0.0], [-2.0, 0.0, 0.0]]), torch.tensor([[1, 1, 0], [1, 0, 0]]))
    tensor([2., 2.])
    """
    valid = valid.to(logp.dtype)
    return -(logp * valid).sum(-1) / valid.sum(-1).clamp_min(1.0)


def familiarity_side(model_nll: Tensor, reference_nll: Tensor, level: float) -> Tensor:
    """+1 for each record the model still finds more familiar than never-seen comparable text, −1 for the others.

    A record's familiarity is how far the model's loss on it lies below the reference's,
    ``reference_nll - model_nll`` (the reference-calibrated membership score); ``level`` is the mean familiarity
    of calibration text (comparable records that neither model saw). A record above it is still told apart from
    unseen text (forget it further); one at or below it has gone past (bring it back up to the level).

    Examples
    --------
    >>> familiarity_side(torch.tensor([0.5, 2.0, 3.0]), torch.tensor([4.0, 4.0, 4.0]), 1.5)
    tensor([ 1.,  1., -1.])
    """
    return torch.where(reference_nll - model_nll > level, 1.0, -1.0).to(model_nll.dtype)


def rmu_control_vector(hidden_size: int, coeff: float, generator: torch.Generator | None = None) -> Tensor:
    """``c·u`` with ``u`` a unit vector drawn uniformly from ``[0, 1)^d`` then normalised (as in RMU)."""
    u = torch.rand(hidden_size, generator=generator)
    return coeff * u / u.norm()


def _masked_mse(h: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
    per_token = (h.float() - target.float()).pow(2).mean(dim=-1)
    if mask is None:
        return per_token.mean()
    return _weighted_mean(per_token, mask.to(per_token.dtype))


def rmu_loss(
    h_forget: Tensor,
    h_forget_target: Tensor,
    h_retain: Tensor,
    h_retain_frozen: Tensor,
    alpha: float,
    forget_mask: Tensor | None = None,
    retain_mask: Tensor | None = None,
) -> Tensor:
    """RMU: ``MSE(h_f, c·u) + α·MSE(h_r, h_r^frozen)`` on one layer's activations ``[B, T, d]``.

    MSE is the mean over the hidden dimension, then over tokens (weighted by the optional
    ``[B, T]`` masks, which drop padding). ``h_forget_target`` (``c·u``, shape ``[d]`` or
    ``[B, T, d]``) broadcasts; the frozen activations are detached.
    """
    target = h_forget_target.to(h_forget.device).expand_as(h_forget)
    forget = _masked_mse(h_forget, target, forget_mask)
    retain = _masked_mse(h_retain, h_retain_frozen.detach(), retain_mask)
    return forget + alpha * retain


def token_forget_loss(
    logp: Tensor, ref_logp: Tensor, weights: Tensor, beta: float = DEFAULT_NPO_BETA
) -> Tensor:
    """Token-level NPO on target tokens: ``Σ_t w_t·(2/β)·softplus(β·(logp_t - ref_logp_t)) / Σ w``.

    Bounded below by 0 per token and saturating once ``p_θ ≪ p_ref``, unlike gradient ascent.

    Examples
    --------
    >>> token_forget_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), beta=2.0)
    tensor(0.6931)
    """
    _check_beta(beta)
    per_token = (2.0 / beta) * F.softplus(beta * (logp - ref_logp.detach()))
    return _weighted_mean(per_token, weights)


def token_keep_loss(
    logp: Tensor,
    weights: Tensor,
    logits: Tensor | None = None,
    ref_logits: Tensor | None = None,
    kind: str = "nll",
) -> Tensor:
    """Keep term on preservation-critical tokens of the same sequence.

    ``kind="nll"``: :func:`nll_loss` of ``logp``; ``kind="kl"``: :func:`kl_to_reference` of the
    logits against the frozen reference's logits, both weighted by ``weights``.
    """
    if kind == "nll":
        return nll_loss(logp, weights)
    if kind == "kl":
        if logits is None or ref_logits is None:
            raise ValueError("token_keep_loss(kind='kl') needs logits and ref_logits")
        return kl_to_reference(logits, ref_logits, weights)
    raise ValueError(f"unknown keep loss kind {kind!r}; expected 'nll' or 'kl'")
