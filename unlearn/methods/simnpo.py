"""SimNPO: length-normalised, reference-free NPO, with NLL on the retain sequences."""

from __future__ import annotations

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Batch, ForgetTerm, Method, TermContext


class SimNPO(ForgetTerm):
    """:func:`unlearn.losses.simnpo_loss`: temperature ``beta``, margin ``gamma``."""

    name = "simnpo"

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        logp = run.token_logprobs(batch)
        m = run.method
        return losses.simnpo_loss(
            losses.sequence_logprob(logp, weights), (weights > 0).sum(-1), m.beta, m.gamma
        ), logp


TERMS = (SimNPO,)
METHOD = Method(
    name="simnpo",
    description="SimNPO: length-normalised, reference-free NPO + retain NLL",
    forget="simnpo",
    retain="nll",
    options={"beta": 2.5},
)
