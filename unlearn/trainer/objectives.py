"""The loss terms of one step: the method's forget term and the keep term on a forget batch, the retain term
on a retain batch.

The forget term is the method's own (:mod:`unlearn.methods`, chosen by ``forget_loss``); keep and retain are
weighted NLLs (:data:`KEEP_TERMS`, :data:`RETAIN_TERMS`). Token weights come from the MASKS roles of
:mod:`hierarchy.masks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from hierarchy.masks import NEUTRAL, PRESERVE, TARGET
from unlearn import losses
from unlearn.methods.base import Batch, TermContext

#: keep terms on the preserve tokens of forget sequences: (token log-probs, preserve weights) -> loss
KEEP_TERMS: dict[str, Callable[[Tensor, Tensor], Tensor] | None] = {
    "none": None,
    "nll": losses.token_keep_loss,
}


def token_weights(batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Token weights aligned with :func:`losses.token_logprobs`: (valid, target-weighted, preserve, neutral)."""
    valid = (batch["labels"][:, 1:] != -100).float()
    role = batch["role"][:, 1:]
    target = batch["weight"][:, 1:] * (role == TARGET).float() * valid
    preserve = (role == PRESERVE).float() * valid
    neutral = (role == NEUTRAL).float() * valid
    return valid, target, preserve, neutral


def retain_weights(valid: Tensor, preserve: Tensor, preserve_weight: float) -> Tensor:
    """Weights of the retain NLL: 1 on every valid token, ``preserve_weight`` on preservation-critical ones.

    Examples
    --------
    >>> retain_weights(torch.tensor([[1.0, 1.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]]), 4.0)
    tensor([[1., 4., 0.]])
    """
    return valid + (preserve_weight - 1.0) * preserve * valid


def forget_weights(target: Tensor, neutral: Tensor, context_weight: float) -> Tensor:
    """Weights of the forget term: the target weights, plus ``context_weight`` on the neutral tokens (neither
    target nor preserve) of the same forget sequence.

    Examples
    --------
    >>> forget_weights(torch.tensor([[0.0, 0.5, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0, 0.0]]), 0.1)
    tensor([[0.0000, 0.5000, 0.1000, 0.0000]])
    """
    return target + context_weight * neutral


def forget_and_keep(run: Any, batch: Batch, retain: Batch | None) -> tuple[Tensor, Tensor]:
    """(forget term, keep term) on a forget batch, each with its weight (a term may also read a retain batch).

    ``run`` is a :class:`~unlearn.methods.base.TermContext` that also holds its ``forget_term``.
    """
    m = run.method
    valid, target, preserve, neutral = (w.to(run.device) for w in token_weights(batch))
    weights = forget_weights(target, neutral, m.forget_context_weight) if m.needs_targets else valid
    zero = torch.zeros((), device=run.device)
    loss, logp = run.forget_term.loss(run, batch, retain, weights)
    keep = KEEP_TERMS[m.keep_loss]
    if logp is None or keep is None:
        return m.forget_weight * loss, zero
    return m.forget_weight * loss, m.keep_weight * keep(logp, preserve)


def _retain_nll(run: TermContext, batch: Batch) -> Tensor:
    """NLL of every valid token, preservation-critical tokens weighted ``retain_preserve_weight``."""
    logp = run.token_logprobs(batch)
    valid, _, preserve, _ = token_weights(batch)
    w = retain_weights(valid, preserve, run.method.retain_preserve_weight)
    return losses.nll_loss(logp, w.to(run.device))


#: retain terms on retain sequences: (run, retain batch) -> loss
RETAIN_TERMS: dict[str, Callable[[TermContext, Batch], Tensor] | None] = {"none": None, "nll": _retain_nll}


def retain_term(run: TermContext, batch: Batch | None) -> Tensor:
    """The weighted retain term (zero without a retain batch or a retain loss)."""
    term = RETAIN_TERMS[run.method.retain_loss]
    if batch is None or term is None:
        return torch.zeros((), device=run.device)
    return run.method.retain_weight * term(run, batch)
