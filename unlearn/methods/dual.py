"""``dual`` (ours): token-level NPO on target tokens, Fisher-selected coordinates, projected forget gradient.

Fisher-saliency top-ρ coordinates; token-level NPO on the target tokens of the masks, with a keep loss on the
preserve tokens of the same sequences; retain NLL weighted towards preserve tokens; the forget gradient
projected off a basis of recent retain gradients; a trust region when ``max_step_norm`` / ``max_drift`` are set.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from unlearn import losses
from unlearn.methods.base import Method, TokenTerm


class TokenNPO(TokenTerm):
    """:func:`unlearn.losses.token_forget_loss`: NPO per token against the starting model, temperature ``beta``."""

    name = "token_npo"
    needs_reference = True

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        assert ref is not None
        return losses.token_forget_loss(logp, ref, weights, method.beta)


TERMS = (TokenNPO,)
METHOD = Method(
    name="dual",
    description="ours: Fisher-saliency top-rho coordinates, token-level NPO on target tokens, keep loss on "
    "preserve tokens, retain NLL weighted towards preserve tokens, forget gradient projected off a basis of "
    "recent retain gradients, trust region when max_step_norm / max_drift are set",
    forget="token_npo",
    retain="nll",
    selection="fisher",
    projection="basis",
    forget_tokens="target",
    keep="nll",
    options={
        "retain_preserve_weight": 10.0,
        "beta": 1.0,  # per token: saturates a few nats below the reference (β = 0.1 acts as plain GA)
    },
)
