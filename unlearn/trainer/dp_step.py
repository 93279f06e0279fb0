"""The differentially private step of the flat path: per-sample gradients, clipped, summed, noised, averaged.

Each forget sample's (forget, keep) gradient and each retain sample's gradient is clipped to ``max_grad_norm``,
summed, noised with N(0, σ²C²) and averaged (:func:`unlearn.dp.private_mean`); an RDP accountant per stream
(:class:`unlearn.dp.RDPAccountant`) reports ε at ``delta``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ontology.common.errors import ConfigError
from unlearn.dp import RDPAccountant, private_mean
from unlearn.methods.base import Batch
from unlearn.trainer.objectives import forget_and_keep, retain_term


class DPStep:
    """Noise generator and accountants of a DP run, and the private micro-step.

    ``run`` (the trainer) provides ``method``, ``forget_term``, ``coords`` (the flat sink), ``device`` and
    ``backward``.
    """

    def __init__(self, cfg: Any, term: Any, device: Any, has_retain: bool) -> None:
        if term.pairs_retain:
            raise ConfigError(
                f"train.dp is not available for {term.name} (its loss couples forget and retain samples)"
            )
        self.dp = cfg.train.dp
        self.gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 17)
        self.accountants = {"forget": RDPAccountant()}
        if has_retain and cfg.method.retain_loss != "none":
            self.accountants["retain"] = RDPAccountant()

    def _per_sample(
        self, run: Any, batch: Batch, terms: Callable[[Batch], Sequence[Tensor]], size: int
    ) -> tuple[Tensor, list[Tensor]]:
        """Per-sample gradients ``[B, n_terms·size]`` (one micro-batch of 1 per sample) and the mean losses."""
        n = batch["input_ids"].shape[0]
        rows, totals = [], None
        for i in range(n):
            one = {key: v[i : i + 1] for key, v in batch.items()}
            width = int(one["attention_mask"].sum())
            one = {key: (v[:, :width] if v.dim() == 2 else v) for key, v in one.items()}
            losses_i = terms(one)
            sinks = [torch.zeros(size, device=run.device) for _ in losses_i]
            for j, (loss, sink) in enumerate(zip(losses_i, sinks, strict=True)):
                run.coords.sink = sink
                run.backward(loss, retain_graph=j + 1 < len(losses_i))
            rows.append(torch.cat(sinks))
            vals = torch.stack([loss.detach().float() for loss in losses_i])
            totals = vals if totals is None else totals + vals
        assert totals is not None
        return torch.stack(rows), list(totals / n)

    def microstep(
        self, run: Any, fb: Batch, rb: Batch | None, g_f: Tensor, g_r: Tensor, accum: int
    ) -> dict[str, float]:
        """Accumulate one micro-batch's private gradients into ``g_f`` (forget) and ``g_r`` (keep + retain)."""
        dp, size = self.dp, g_f.numel()
        rows, (f, k) = self._per_sample(run, fb, lambda b: forget_and_keep(run, b, None), size)
        noisy = private_mean(rows, dp.max_grad_norm, dp.noise_multiplier, self.gen)
        g_f += noisy[:size] / accum
        (g_f if run.method.keep_gradient == "forget" else g_r).add_(noisy[size:] / accum)
        parts = {"forget": float(f), "keep": float(k), "retain": 0.0}
        if "retain" in self.accountants and rb is not None:
            rrows, (r,) = self._per_sample(run, rb, lambda b: (retain_term(run, b),), size)
            g_r += private_mean(rrows, dp.max_grad_norm, dp.noise_multiplier, self.gen) / accum
            parts["retain"] = float(r)
        if not run.method.separate_gradients:
            g_f += g_r
            g_r.zero_()
        return parts

    def account(self, forget: tuple[int, int], retain: tuple[int, int] | None) -> None:
        """One step of each accountant; ``forget``/``retain`` are (samples per step, set size)."""
        self.accountants["forget"].step(self.dp.noise_multiplier, min(1.0, forget[0] / forget[1]))
        if "retain" in self.accountants and retain is not None:
            self.accountants["retain"].step(self.dp.noise_multiplier, min(1.0, retain[0] / retain[1]))

    def epsilon(self) -> dict[str, float]:
        """(ε per stream, δ) of the steps taken so far."""
        delta = self.dp.delta
        return {"delta": delta, **{k: a.epsilon(delta) for k, a in self.accountants.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "acc": {k: a.state_dict() for k, a in self.accountants.items()}}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is None:
            return
        self.gen.set_state(state["gen"])
        for k, a in self.accountants.items():
            a.load_state_dict(state["acc"][k])
