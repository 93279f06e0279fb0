"""RMU: representation misdirection — steer a layer's activations on forget text towards a random direction,
keep those on retain text where a frozen copy of the model has them."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from unlearn import losses
from unlearn.methods.base import Batch, ForgetTerm, Method, TermContext


class RMU(ForgetTerm):
    """:func:`unlearn.losses.rmu_loss` at decoder layer ``rmu_layer``: forget activations towards ``c·u``
    (``rmu_coeff``), retain activations towards the frozen copy's (weight ``rmu_alpha``)."""

    name = "rmu"
    pairs_retain = True

    def setup(self, run: TermContext) -> None:
        m, n_layers = run.method, _layer_count(run.model)
        self.layer = m.rmu_layer % n_layers if n_layers else 0
        self.frozen = copy.deepcopy(run.model).eval().requires_grad_(False)
        gen = torch.Generator().manual_seed(run.cfg.train.seed + 7)
        self.control = losses.rmu_control_vector(run.model.config.hidden_size, m.rmu_coeff, gen).to(
            run.device
        )

    def default_include(self, run: TermContext) -> list[str] | None:
        """The MLPs of the ``rmu_update_layers`` layers up to ``rmu_layer``."""
        layer = run.method.rmu_layer % _layer_count(run.model)
        lo = max(0, layer - run.method.rmu_update_layers + 1)
        return [rf"layers\.{i}\.mlp\." for i in range(lo, layer + 1)]

    def extra_models(self) -> list[nn.Module]:
        return [self.frozen]

    def _hidden(self, run: TermContext, model: Any, batch: Batch) -> Tensor:
        out = model(
            input_ids=batch["input_ids"].to(run.device),
            attention_mask=batch["attention_mask"].to(run.device),
            output_hidden_states=True,
            use_cache=False,
        )
        return out.hidden_states[self.layer + 1]

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        assert retain is not None
        with run.timer("forward"):
            h_f = self._hidden(run, run.fmodel, batch)
            h_r = self._hidden(run, run.fmodel, retain)
            with torch.no_grad():
                h_r0 = self._hidden(run, self.frozen, retain)
        loss = losses.rmu_loss(
            h_f, self.control, h_r, h_r0, run.method.rmu_alpha,
            forget_mask=batch["attention_mask"].to(run.device), retain_mask=retain["attention_mask"].to(run.device),
        )  # fmt: skip
        return loss, None


def _layer_count(model: Any) -> int:
    return int(getattr(model.config, "num_hidden_layers", 0))


TERMS = (RMU,)
METHOD = Method(
    name="rmu",
    description="representation misdirection: steer a layer's forget activations to a random direction, keep "
    "retain ones",
    forget="rmu",
)
