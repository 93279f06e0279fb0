"""Which coordinates a run may move (``method.selection``): every coordinate of the candidate tensors, or a
Fisher-saliency mask of the top ρ of all parameters (:mod:`unlearn.selection`), saved as ``mask.safetensors``
and reused when the run resumes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from unlearn import losses
from unlearn.data import BatchStream
from unlearn.methods.base import Batch
from unlearn.selection import fisher_diagonal, load_mask, saliency, save_mask, top_fraction_mask
from unlearn.sharding import full_tensor, local_part
from unlearn.trainer.objectives import forget_weights, token_weights

MASK_FILE = "mask.safetensors"


def _weighted_nll(run: Any, forget: bool) -> Callable[[Any, Batch], Tensor]:
    """NLL weighted as the forget term weighs a forget batch's tokens (``forget``), or on every valid token."""
    m = run.method

    def loss(model: Any, batch: Batch) -> Tensor:
        logits = model(
            input_ids=batch["input_ids"].to(run.device),
            attention_mask=batch["attention_mask"].to(run.device),
        ).logits
        valid, target, _, neutral = token_weights(batch)
        w = forget_weights(target, neutral, m.forget_context_weight) if forget and m.needs_targets else valid
        return losses.nll_loss(
            losses.token_logprobs(logits, batch["labels"].to(run.device)), w.to(run.device)
        )

    return loss


def fisher_mask(run: Any, candidates: dict[str, nn.Parameter]) -> dict[str, Tensor]:
    """The top-ρ saliency mask (forget Fisher over retain Fisher) over ``candidates``; saved by rank 0."""
    m, t = run.method, run.cfg.train
    mask_path = run.out / MASK_FILE
    if mask_path.is_file() and run._resuming:
        return {k: local_part(v.to(run.device), candidates[k]) for k, v in load_mask(mask_path).items()}
    total = sum(p.numel() for p in run.model.parameters())
    cand = sum(p.numel() for p in candidates.values())
    rho = min(1.0, m.rho * total / cand)  # ρ is a fraction of ALL parameters
    fs = BatchStream(run.data.forget, t.batch_size, t.seed + 11, run.pad_id)
    assert run.retain_stream is not None
    rs = BatchStream(run.data.retain, run.retain_stream.batch_size, t.seed + 12, run.pad_id)
    forget_loss = _weighted_nll(run, forget=True)
    retain_loss = _weighted_nll(run, forget=False)
    with run.timer("selection"):
        f_f = fisher_diagonal(
            run.model, (fs.next_batch() for _ in range(m.fisher_batches)), forget_loss, candidates
        )
        f_r = fisher_diagonal(
            run.model, (rs.next_batch() for _ in range(m.fisher_batches)), retain_loss, candidates
        )
        # one tensor at a time, freeing the Fisher tensors as we go: peak = two Fisher copies, not three
        scores = {name: saliency({name: f_f.pop(name)}, {name: f_r.pop(name)})[name] for name in list(f_f)}
        mask = top_fraction_mask(scores, rho, sharded=run.sharded)
        del scores
    whole = {n: full_tensor(v, candidates[n]) for n, v in mask.items()} if run.sharded else mask
    if run.accelerator.is_main_process:
        save_mask(whole, mask_path, {"rho": str(m.rho), "method": m.name})
    return mask


#: ``method.selection`` -> the mask of the coordinates that may move (``None``: every candidate coordinate)
SELECTIONS: dict[str, Callable[[Any, dict[str, nn.Parameter]], dict[str, Tensor] | None]] = {
    "none": lambda run, candidates: None,
    "fisher": fisher_mask,
}


def select_mask(run: Any, candidates: dict[str, nn.Parameter]) -> dict[str, Tensor] | None:
    """The method's selection over ``candidates`` (LoRA adapters are trained whole)."""
    if run.cfg.train.lora.enabled:
        return None
    return SELECTIONS[run.method.selection](run, candidates)
