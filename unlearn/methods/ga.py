"""GA: gradient ascent on every token of the forget sequences."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Method, TokenTerm


class GradientAscent(TokenTerm):
    """Minus the weighted NLL of the forget tokens (:func:`unlearn.losses.ga_loss`)."""

    name = "ga"

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        return losses.ga_loss(logp, weights)


TERMS = (GradientAscent,)
METHOD = Method(name="ga", description="gradient ascent on every forget token", forget="ga")
