"""NPO: negative preference optimisation on sequence log-probability ratios to the starting model."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Method, TokenTerm


class SequenceNPO(TokenTerm):
    """:func:`unlearn.losses.npo_loss` of the weighted sequence log-probabilities, temperature ``beta``."""

    name = "npo"
    needs_reference = True

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        assert ref is not None
        seq, ref_seq = losses.sequence_logprob(logp, weights), losses.sequence_logprob(ref, weights)
        return losses.npo_loss(seq, ref_seq, method.beta)


TERMS = (SequenceNPO,)
METHOD = Method(
    name="npo",
    description="negative preference optimisation (sequence log-probability ratios to the starting model)",
    forget="npo",
)
