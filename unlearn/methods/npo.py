"""NPO: negative preference optimisation on sequence log-probability ratios to the starting model."""

from __future__ import annotations

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Batch, ForgetTerm, Method, TermContext


class SequenceNPO(ForgetTerm):
    """:func:`unlearn.losses.npo_loss` of the weighted sequence log-probabilities, temperature ``beta``."""

    name = "npo"
    needs_reference = True

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        logp = run.token_logprobs(batch)
        ref = run.reference_logprobs(batch, logp)
        seq, ref_seq = losses.sequence_logprob(logp, weights), losses.sequence_logprob(ref, weights)
        return losses.npo_loss(seq, ref_seq, run.method.beta), logp


TERMS = (SequenceNPO,)
METHOD = Method(
    name="npo",
    description="negative preference optimisation (sequence log-probability ratios to the starting model)",
    forget="npo",
)
