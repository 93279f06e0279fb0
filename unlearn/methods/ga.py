"""GA: gradient ascent on every token of the forget sequences."""

from __future__ import annotations

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Batch, ForgetTerm, Method, TermContext


class GradientAscent(ForgetTerm):
    """Minus the weighted NLL of the forget tokens (:func:`unlearn.losses.ga_loss`)."""

    name = "ga"

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        logp = run.token_logprobs(batch)
        return losses.ga_loss(logp, weights), logp


TERMS = (GradientAscent,)
METHOD = Method(name="ga", description="gradient ascent on every forget token", forget="ga")
