"""SimNPO: length-normalised, reference-free NPO, with NLL on the retain sequences."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Method, TokenTerm


class SimNPO(TokenTerm):
    """:func:`unlearn.losses.simnpo_loss`: temperature ``beta``, margin ``gamma``."""

    name = "simnpo"

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        lengths = (weights > 0).sum(-1)
        return losses.simnpo_loss(losses.sequence_logprob(logp, weights), lengths, method.beta, method.gamma)


TERMS = (SimNPO,)
METHOD = Method(
    name="simnpo",
    description="SimNPO: length-normalised, reference-free NPO + retain NLL",
    forget="simnpo",
    retain="nll",
    options={"beta": 2.5},
)
