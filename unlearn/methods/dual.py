"""``dual`` (ours): token-level NPO on target tokens, Fisher-selected coordinates, projected forget gradient.

Fisher-saliency top-ρ coordinates; token-level NPO on the target tokens of the masks, with a keep loss on the
preserve tokens of the same sequences; retain NLL weighted towards preserve tokens; the forget gradient
projected off a basis of recent retain gradients; a trust region when ``max_step_norm`` / ``max_drift`` are set.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

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
    """

    name = "ref_kl"
    reads_reference_model = True

    def prepare_reference(self, run: TermContext) -> None:
        from unlearn.data import collate
        from unlearn.models import load_model

        cfg, k = run.cfg, run.method.reference_k
        own = cfg.model.reference is None
        model = run.model if own else load_model(cfg.model.reference)[0].to(run.device).eval()
        records = run.data.forget
        width = max(len(r.input_ids) for r in records.records) - 1
        n = len(records)
        self.index = torch.zeros((n, max(width, 1), k), dtype=torch.long)
        self.logp = torch.zeros((n, max(width, 1), k))
        self.tail = torch.zeros((n, max(width, 1)))
        bs = cfg.train.batch_size
        with torch.no_grad(), run.timer("reference"):
            for start in range(0, n, bs):
                batch = collate([records[i] for i in range(start, min(n, start + bs))], run.pad_id)
                logits = model(
                    input_ids=batch["input_ids"].to(run.device),
                    attention_mask=batch["attention_mask"].to(run.device),
                    use_cache=False,
                ).logits[:, :-1]
                labels = batch["labels"][:, 1:].clamp_min(0).to(run.device)
                idx, lp, tail = losses.reference_buckets(logits, k, labels if own else None)
                t = idx.shape[1]
                rows = batch["index"]
                self.index[rows, :t], self.logp[rows, :t], self.tail[rows, :t] = (
                    idx.cpu(),
                    lp.cpu(),
                    tail.cpu(),
                )
        if not own:
            del model
        if run.sharded:
            run.model.reshard()  # as after the NPO reference pass (unlearn.trainer.inputs.reference_logprobs)

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        logits = run.logits(batch)
        t = logits.shape[1] - 1
        rows = batch["index"]
        index, logp, tail = (x[rows, :t].to(run.device) for x in (self.index, self.logp, self.tail))
        loss = losses.bucket_kl(logits, index, logp, tail, weights)
        return loss, losses.token_logprobs(logits, batch["labels"].to(run.device))


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
