"""``dual`` (ours): token-level NPO on target tokens, Fisher-selected coordinates, projected forget gradient.

Fisher-saliency top-ρ coordinates; token-level NPO on the target tokens of the masks, with a keep loss on the
preserve tokens of the same sequences; retain NLL weighted towards preserve tokens; the forget gradient
projected off a basis of recent retain gradients; a trust region when ``max_step_norm`` / ``max_drift`` are set.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ontology.common.errors import ConfigError
from unlearn import losses
from unlearn.methods.base import Batch, ForgetTerm, Method, TermContext, TokenTerm


class TokenNPO(TokenTerm):
    """:func:`unlearn.losses.token_forget_loss`: NPO per token against the starting model, temperature ``beta``."""

    name = "token_npo"
    needs_reference = True

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        assert ref is not None
        return losses.token_forget_loss(logp, ref, weights, method.beta)


class ReferenceKL(ForgetTerm):
    """:func:`unlearn.losses.bucket_kl` to a reference that never saw the records, on every weighted token.

    The reference is ``model.reference`` (the checkpoint before fine-tuning on the records); without one, the
    starting model's own next-token distributions with each record token taken out and the rest renormalised
    (:func:`unlearn.losses.reference_buckets` with ``exclude``). Its distributions, coarsened to the top
    ``reference_k`` tokens and a bucket for the rest, are computed once for every forget record before step 0.

    With ``reference_gap_weight``, :func:`unlearn.losses.reference_gap_loss` is added: each record token pushed
    down to the reference's log-probability. With ``data.calibration`` (comparable text neither model saw), a
    record the model finds no more familiar than that text (:func:`unlearn.losses.familiarity_side`; the level
    re-measured every ``calibration_every`` steps) leaves these terms for its NLL, which brings it back up to the
    level: Adam's momentum carries a record past the point where its forget terms stop.
    """

    name = "ref_kl"
    reads_reference_model = True
    reads_calibration = True

    def prepare_reference(self, run: TermContext) -> None:
        from unlearn.models import load_model

        cfg, k = run.cfg, run.method.reference_k
        own = cfg.model.reference is None
        if own and (run.method.reference_gap_weight > 0 or cfg.data.calibration):
            raise ConfigError(
                "method.reference_gap_weight and data.calibration compare with model.reference: give the "
                "checkpoint from before fine-tuning on the records"
            )
        model = run.model if own else load_model(cfg.model.reference)[0].to(run.device).eval()
        records = run.data.forget
        width = max(max(len(r.input_ids) for r in records.records) - 1, 1)
        n = len(records)
        self.index = torch.zeros((n, width, k), dtype=torch.long)
        self.logp = torch.zeros((n, width, k))
        self.tail = torch.zeros((n, width))
        self.label_logp = torch.zeros((n, width))
        self.reference_nll = torch.zeros(n)
        with torch.no_grad(), run.timer("reference"):
            for rows, logits, labels in _passes(run, model, records):
                shifted, target = logits[:, :-1], labels[:, 1:]
                idx, lp, tail = losses.reference_buckets(shifted, k, target.clamp_min(0) if own else None)
                t = idx.shape[1]
                self.index[rows, :t], self.logp[rows, :t], self.tail[rows, :t] = (
                    idx.cpu(),
                    lp.cpu(),
                    tail.cpu(),
                )
                label_logp = losses.token_logprobs(logits, labels)
                self.label_logp[rows, :t] = label_logp.cpu()
                self.reference_nll[rows] = losses.record_nll(label_logp, target >= 0).cpu()
            self.calibration_reference_nll = self._nll(run, model, run.data.calibration)
        if not own:
            del model
        if run.sharded:
            run.model.reshard()  # as after the NPO reference pass (unlearn.trainer.inputs.reference_logprobs)
        self.calls, self.level, self.open = 0, float("-inf"), 1.0

    @staticmethod
    def _nll(run: TermContext, model: Any, records: Any) -> Tensor:
        """Each record's mean NLL under ``model`` (:func:`unlearn.losses.record_nll`), ``[N]``."""
        out = torch.zeros(len(records))
        for rows, logits, labels in _passes(run, model, records):
            out[rows] = losses.record_nll(losses.token_logprobs(logits, labels), labels[:, 1:] >= 0).cpu()
        return out

    def _familiarity_level(self, run: TermContext) -> float:
        """Mean familiarity of the calibration records under the model now: reference NLL minus model NLL."""
        with torch.no_grad():
            now = self._nll(run, run.fmodel, run.data.calibration)
        return float((self.calibration_reference_nll - now).mean())

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        m = run.method
        logits = run.logits(batch)
        t = logits.shape[1] - 1
        rows = batch["index"]
        index, ref_logp, tail, label_logp = (
            x[rows, :t].to(run.device) for x in (self.index, self.logp, self.tail, self.label_logp)
        )
        logp = losses.token_logprobs(logits, batch["labels"].to(run.device))
        restore = None
        if len(run.data.calibration):
            if self.calls % (m.calibration_every * run.cfg.train.grad_accum) == 0:
                self.level = self._familiarity_level(run)
            self.calls += 1
            valid = (batch["labels"][:, 1:].to(run.device) >= 0).to(logp.dtype)
            side = losses.familiarity_side(
                losses.record_nll(logp.detach(), valid), self.reference_nll[rows].to(run.device), self.level
            ).unsqueeze(-1)
            self.open = float((side > 0).float().mean())
            weights, restore = weights * (side > 0), valid * (side < 0)
        loss = losses.bucket_kl(logits, index, ref_logp, tail, weights)
        if m.reference_gap_weight > 0:
            loss = loss + m.reference_gap_weight * losses.reference_gap_loss(
                logp, label_logp, weights, m.reference_gap_power
            )
        if restore is not None:
            loss = loss + losses.nll_loss(logp, restore)
        return loss, logp

    def diagnostics(self) -> dict[str, float]:
        """The calibration level and the share of the last batch's records still in the term."""
        return {"familiarity_level": self.level, "forget_open": self.open} if self.calls else {}


def _passes(run: TermContext, model: Any, records: Any) -> Any:
    """``(rows, logits [B, T, V], labels [B, T])`` of ``model`` per batch of ``records``."""
    from unlearn.data import collate

    bs = run.cfg.train.batch_size
    for start in range(0, len(records), bs):
        batch = collate([records[i] for i in range(start, min(len(records), start + bs))], run.pad_id)
        logits = model(
            input_ids=batch["input_ids"].to(run.device),
            attention_mask=batch["attention_mask"].to(run.device),
            use_cache=False,
        ).logits
        yield batch["index"], logits, batch["labels"].to(run.device)


TERMS = (TokenNPO, ReferenceKL)
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
