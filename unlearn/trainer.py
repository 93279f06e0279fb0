"""The one unlearning loop: every method of :mod:`unlearn.methods` runs here, on ``accelerate``.

Two update paths share the loop:

- **dense**: every trainable coordinate moves; one backward of ``forget + keep + retain`` per micro-batch and a
  ``torch.optim`` optimiser (the plain baselines ``ga``, ``graddiff``, ``npo``, ``simnpo``, ``rmu``);
- **flat**: only the selected coordinates (a saliency mask, or all coordinates of the trainable tensors) move.
  Gradient hooks copy each tensor's selected gradient entries into a flat vector as soon as the backward
  pass produces them and free the full gradient; forget and retain gradients are kept apart so the forget
  gradient can be projected off the retain basis; a small Adam on the flat vector makes the step, which is
  clipped (trust region) and written back into exactly the selected coordinates. Unselected coordinates and
  their optimiser moments never exist, so they cannot move. Tensors with no selected coordinate get
  ``requires_grad=False``: the backward pass stops at the lowest selected layer.

Checkpoints hold the selected values (or the trainable tensors), the optimiser, the projection basis, the
batch-stream and RNG states and the step; a run resumed from one ends bit-identical to an uninterrupted run.

Several processes: the flat path averages its flat vectors across ranks (replicated model), or, with
``train.fsdp``, runs on sharded parameters (:mod:`unlearn.sharding`): every method then takes the flat
path, each rank holding its rows of the selected coordinates, and the projection sums its inner products
across ranks instead of gathering gradients.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hierarchy.masks import NEUTRAL, PRESERVE, TARGET, masks_metadata
from ontology.common.atomic import atomic_path, atomic_write_json, replace_directory
from ontology.common.errors import ConfigError, InputError, MedunlearnError
from ontology.common.progress import bar
from unlearn import losses
from unlearn.config import RunConfig
from unlearn.data import BatchStream, TokenDataset, collate, load_records
from unlearn.methods import FORGET_TERMS
from unlearn.projection import distributed_sum
from unlearn.selection import fisher_diagonal, saliency, save_mask, select_parameters, top_fraction_mask
from unlearn.sharding import full_tensor, local, local_part

log = logging.getLogger(__name__)

#: keep terms on the preserve tokens of forget sequences: (token log-probs, preserve weights) -> loss
KEEP_TERMS = {"none": None, "nll": losses.token_keep_loss}

CHECKPOINTS = "checkpoints"
MASK_FILE = "mask.safetensors"


# ----------------------------------------------------------------------------------------------- helpers
class Timer:
    """Accumulated wall time per phase (CUDA-synchronised when a GPU is in use)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            if self.cuda:
                torch.cuda.synchronize()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory of this process: CUDA allocator peak on a GPU, else the peak resident set size."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class FlatOptimizer:
    """Adam (or SGD) on one flat vector of selected coordinates; returns the step instead of applying it."""

    def __init__(
        self, size: int, lr: float, kind: str, betas: tuple[float, float], eps: float, device: Any
    ) -> None:
        self.lr, self.kind, self.betas, self.eps = lr, kind, betas, eps
        self.t = 0
        self.device = device
        self.m = torch.zeros(size, device=device) if kind == "adam" else None
        self.v = torch.zeros(size, device=device) if kind == "adam" else None

    def step(self, grad: Tensor) -> Tensor:
        """The update ``Δθ`` for the gradient ``grad`` (to be added to the parameters)."""
        self.t += 1
        if self.kind == "sgd":
            return -self.lr * grad
        b1, b2 = self.betas
        assert self.m is not None and self.v is not None
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        return -self.lr * m_hat / (v_hat.sqrt() + self.eps)

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "m": self.m, "v": self.v}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state["t"])
        self.m, self.v = (None if x is None else x.to(self.device) for x in (state["m"], state["v"]))


@dataclass
class Slot:
    """One trainable tensor in the flat vector: its selected flat indices and its offset."""

    name: str
    param: nn.Parameter
    index: Tensor | None  # None: every coordinate
    offset: int
    size: int


@dataclass
class RunResult:
    """What a run did; :mod:`unlearn.outputs` turns it into the manifest."""

    status: str  # "completed" | "early_stop" | "interrupted"
    reason: str | None
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    peak_memory_bytes: int = 0
    peak_memory_per_rank: list[int] = field(default_factory=list)  # each process, before the outputs
    selected: int = 0
    trainable_tensors: int = 0
    epsilon: dict[str, float] | None = None
    out_dir: Path | None = None
    manifest: dict[str, Any] | None = None
    is_main: bool = True


def retain_over_budget(losses: Sequence[float], budget: float, window: int) -> tuple[float, float] | None:
    """``(recent, baseline)`` when the mean of the last ``window`` retain losses exceeds ``budget`` times the
    mean of the first ``window`` (the baseline); ``None`` while within budget or before the baseline is full.

    Means over a window, not single batches, so that one hard retain batch does not stop a healthy run.

    Examples
    --------
    >>> retain_over_budget([1.0, 1.2, 1.4, 2.0], budget=1.5, window=2)  # (1.4 + 2.0) / 2 > 1.5 * 1.1
    (1.7, 1.1)
    >>> retain_over_budget([1.0, 2.0], budget=1.5, window=2) is None  # the baseline itself
    True
    """
    if len(losses) <= window:
        return None
    recent, baseline = sum(losses[-window:]) / window, sum(losses[:window]) / window
    return (recent, baseline) if recent > budget * baseline else None


class Collapse(Exception):
    """Raised inside a step when the run must stop early (non-finite loss, retain loss over budget)."""


def _weights(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Token weights aligned with :func:`losses.token_logprobs`: (valid, target-weighted, preserve, neutral)."""
    valid = (batch["labels"][:, 1:] != -100).float()
    role = batch["role"][:, 1:]
    target = batch["weight"][:, 1:] * (role == TARGET).float() * valid
    preserve = (role == PRESERVE).float() * valid
    neutral = (role == NEUTRAL).float() * valid
    return valid, target, preserve, neutral


def retain_weights(valid: Tensor, preserve: Tensor, preserve_weight: float) -> Tensor:
    """Weights of the retain NLL: 1 on every valid token, ``preserve_weight`` on preservation-critical ones.

    Examples
    --------
    >>> retain_weights(torch.tensor([[1.0, 1.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]]), 4.0)
    tensor([[1., 4., 0.]])
    """
    return valid + (preserve_weight - 1.0) * preserve * valid


def forget_weights(target: Tensor, neutral: Tensor, context_weight: float) -> Tensor:
    """Weights of the forget term: the target weights, plus ``context_weight`` on the neutral tokens (role 0,
    neither target nor preserve) of the same forget sequence.

    Examples
    --------
    >>> forget_weights(torch.tensor([[0.0, 0.5, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0, 0.0]]), 0.1)
    tensor([[0.0000, 0.5000, 0.1000, 0.0000]])
    """
    return target + context_weight * neutral


# ----------------------------------------------------------------------------------------------- trainer
class Unlearner:
    """Run one unlearning configuration end to end.

    Parameters
    ----------
    cfg : RunConfig
        The validated run configuration; the model is loaded from ``cfg.model.name`` (whose weight files
        are also the reference the changed-parameter count and the patch are measured against).

    Examples
    --------
    >>> from unlearn.config import load_run_config  # doctest: +SKIP
    >>> Unlearner(load_run_config("configs/dual-tiny.yaml")).run().manifest["changed_parameters"]  # doctest: +SKIP
    115
    """

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.method = cfg.method
        self.forget_term = FORGET_TERMS[cfg.method.forget_loss]()
        self.out = Path(cfg.output.dir)
        self.ref_logp: Tensor | None = None
        self.theta: Tensor = torch.empty(0)  # selected values (flat path)
        self.theta0: Tensor = torch.empty(0)
        self.basis: Any = None
        self.gru_ema: Tensor | None = None
        self.history: list[dict[str, float]] = []
        self.sharded = False
        self.reduce: Callable[[Tensor], Tensor] | None = None  # sums inner products across ranks when sharded

    # ------------------------------------------------------------------ setup
    def _load(self) -> None:
        from accelerate import Accelerator

        from unlearn.models import load_model, load_tokenizer, prepare, tokenizer_hash

        cfg = self.cfg
        self.accelerator = Accelerator(cpu=cfg.train.cpu or not torch.cuda.is_available())
        self.device = self.accelerator.device
        self.sharded = self._wants_fsdp()
        self.reduce = distributed_sum if self.sharded else None
        dtype = torch.bfloat16 if cfg.model.dtype == "bfloat16" else torch.float32
        if self.sharded and not self.accelerator.is_main_process:
            # only rank 0 reads the weights (on CPU); the others build an empty skeleton and receive their
            # shards from it once the model is sharded (_shard), so no rank but 0 ever holds the full model
            from unlearn.sharding import empty_model

            self.model = empty_model(prepare(cfg.model.name), dtype)
            self.tokenizer = load_tokenizer(cfg.model.name)
        else:
            self.model, self.tokenizer = load_model(cfg.model.name, dtype=dtype)
        if not self.sharded:  # sharding moves each unit to the device itself
            self.model.to(self.device)
        self.tok_hash = tokenizer_hash(self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _load_data(self) -> None:
        cfg, d = self.cfg, self.cfg.data
        forget = load_records(
            d.forget, self.tokenizer, fmt=d.forget_format, max_length=d.max_length,
            text_field=d.text_field, expected_tokenizer_hash=self.tok_hash,
        )  # fmt: skip
        if not forget:
            raise InputError("the forget set is empty: nothing to unlearn", path=d.forget)
        self.forget = TokenDataset(forget)
        self.scope = masks_metadata(d.forget).get("scope") if d.forget.endswith(".parquet") else None
        if self.method.needs_targets and self.forget.target_token_count() == 0:
            raise InputError(
                f"the scope ({self.scope or 'unknown'}) selects no target tokens in the forget set; "
                "widen the scope or use a method with forget_tokens=all",
                path=d.forget,
            )
        retain = []
        for path in d.retain:
            retain += load_records(
                path, self.tokenizer, fmt=d.retain_format, max_length=d.max_length, text_field=d.text_field,
                expected_tokenizer_hash=self.tok_hash, exclude=d.exclude, limit=d.limit,
            )  # fmt: skip
        self.retain = TokenDataset(retain)
        needs_retain = (
            self.method.retain_loss != "none"
            or self.method.selection == "fisher"
            or self.method.projection != "none"
            or self.forget_term.pairs_retain
        )
        if needs_retain and not retain:
            raise ConfigError(
                f"method {self.method.name!r} needs retain data: data.retain is empty or has no records"
            )
        rank_seed = cfg.train.seed + 1000 * self.accelerator.process_index
        bs, rbs = cfg.train.batch_size, cfg.train.retain_batch_size or cfg.train.batch_size
        self.forget_stream = BatchStream(self.forget, bs, rank_seed + 1, self.pad_id)
        self.retain_stream = BatchStream(self.retain, rbs, rank_seed + 2, self.pad_id) if retain else None

    def _candidates(self) -> dict[str, nn.Parameter]:
        t = self.cfg.train
        include = t.include if t.include is not None else self.forget_term.default_include(self)
        return select_parameters(self.model, include=include, exclude=t.exclude, layers=t.layers)

    def _setup_lora(self) -> None:
        from peft import LoraConfig, get_peft_model

        lc = self.cfg.train.lora
        self.model = get_peft_model(
            self.model,
            LoraConfig(
                r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout, target_modules=lc.target_modules
            ),
        )

    # ------------------------------------------------------------------ losses
    def _forward(self, batch: dict[str, Tensor]) -> Any:
        with self.timer("forward"):
            return self.fmodel(
                input_ids=batch["input_ids"].to(self.device),
                attention_mask=batch["attention_mask"].to(self.device),
                use_cache=False,
            )

    def token_logprobs(self, batch: dict[str, Tensor]) -> Tensor:
        """``log p(x_t | x_<t)`` of the trained model on a batch."""
        return losses.token_logprobs(self._forward(batch).logits, batch["labels"].to(self.device))

    def reference_logprobs(self, batch: dict[str, Tensor], like: Tensor) -> Tensor:
        """The starting model's token log-probabilities of the batch's records, shaped like ``like``."""
        assert self.ref_logp is not None
        return self.ref_logp[batch["index"], : like.shape[1]].to(self.device, like.dtype)

    @torch.no_grad()
    def _reference_logprobs(self) -> Tensor:
        """Token log-probabilities of the starting model on every forget record, ``[N, max_len-1]``."""
        width = max(len(r.input_ids) for r in self.forget.records)
        ref = torch.zeros(len(self.forget), max(width - 1, 1))
        stream = list(range(len(self.forget)))
        for start in range(0, len(stream), self.cfg.train.batch_size):
            items = [self.forget[i] for i in stream[start : start + self.cfg.train.batch_size]]
            batch = collate(items, self.pad_id)
            with self.timer("reference"):
                logits = self.model(
                    input_ids=batch["input_ids"].to(self.device),
                    attention_mask=batch["attention_mask"].to(self.device),
                    use_cache=False,
                ).logits
            logp = losses.token_logprobs(logits, batch["labels"].to(self.device)).float().cpu()
            ref[batch["index"], : logp.shape[1]] = logp
        if self.sharded:
            # a forward without gradients leaves FSDP's root unit gathered; the Fisher backward that followed
            # then gave other gradients (a different mask than one process) until the model was resharded
            self.model.reshard()
        return ref

    def _forget_terms(self, fb: dict[str, Tensor], rb: dict[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        """(forget term, keep term) on a forget batch (a term may also read the retain batch)."""
        m = self.method
        valid, target, preserve, neutral = (w.to(self.device) for w in _weights(fb))
        fw = forget_weights(target, neutral, m.forget_context_weight) if m.needs_targets else valid
        zero = torch.zeros((), device=self.device)
        loss, logp = self.forget_term.loss(self, fb, rb, fw)
        keep = KEEP_TERMS[m.keep_loss]
        if logp is None or keep is None:
            return m.forget_weight * loss, zero
        return m.forget_weight * loss, m.keep_weight * keep(logp, preserve)

    def _retain_term(self, rb: dict[str, Tensor] | None) -> Tensor:
        if rb is None or self.method.retain_loss == "none":
            return torch.zeros((), device=self.device)
        logp = self.token_logprobs(rb)
        valid, _, preserve, _ = _weights(rb)
        w = retain_weights(valid, preserve, self.method.retain_preserve_weight)
        return self.method.retain_weight * losses.nll_loss(logp, w.to(self.device))

    # ------------------------------------------------------------------ selection and slots
    def _select(self, candidates: dict[str, nn.Parameter]) -> dict[str, Tensor] | None:
        m = self.method
        mask_path = self.out / MASK_FILE
        if m.selection != "fisher" or self.cfg.train.lora.enabled:
            return None
        if mask_path.is_file() and self._resuming:
            from unlearn.selection import load_mask

            return {k: local_part(v.to(self.device), candidates[k]) for k, v in load_mask(mask_path).items()}
        total = sum(p.numel() for p in self.model.parameters())
        cand = sum(p.numel() for p in candidates.values())
        rho = min(1.0, m.rho * total / cand)  # ρ is a fraction of ALL parameters
        fs = BatchStream(self.forget, self.cfg.train.batch_size, self.cfg.train.seed + 11, self.pad_id)
        assert self.retain_stream is not None
        rs = BatchStream(self.retain, self.retain_stream.batch_size, self.cfg.train.seed + 12, self.pad_id)

        def weighted_nll(pick: int) -> Callable[[Any, dict[str, Tensor]], Tensor]:
            """NLL weighted by one of :func:`_weights`' arrays (0 every valid token, 1 target tokens)."""

            def loss(model: Any, batch: dict[str, Tensor]) -> Tensor:
                logits = model(
                    input_ids=batch["input_ids"].to(self.device),
                    attention_mask=batch["attention_mask"].to(self.device),
                ).logits
                w = _weights(batch)[pick]
                return losses.nll_loss(
                    losses.token_logprobs(logits, batch["labels"].to(self.device)), w.to(self.device)
                )

            return loss

        forget_loss = weighted_nll(1 if m.forget_tokens == "target" else 0)
        retain_loss = weighted_nll(0)

        with self.timer("selection"):
            f_f = fisher_diagonal(
                self.model, (fs.next_batch() for _ in range(m.fisher_batches)), forget_loss, candidates
            )
            f_r = fisher_diagonal(
                self.model, (rs.next_batch() for _ in range(m.fisher_batches)), retain_loss, candidates
            )
            # one tensor at a time, freeing the Fisher tensors as we go: peak = two Fisher copies, not three
            scores = {
                name: saliency({name: f_f.pop(name)}, {name: f_r.pop(name)})[name] for name in list(f_f)
            }
            mask = top_fraction_mask(scores, rho, sharded=self.sharded)
            del scores
        whole = {n: full_tensor(v, candidates[n]) for n, v in mask.items()} if self.sharded else mask
        if self.accelerator.is_main_process:
            save_mask(whole, mask_path, {"rho": str(m.rho), "method": m.name})
        return mask

    def _make_slots(self, trainable: dict[str, nn.Parameter], mask: dict[str, Tensor] | None) -> list[Slot]:
        """One slot per tensor with selected coordinates; sharded, a tensor selected on any rank has a slot on
        every rank (possibly empty), so that all ranks run the same backward graph."""
        if mask is not None:
            counts = torch.tensor(
                [int(mask[n].sum()) for n in trainable], dtype=torch.int64, device=self.device
            )
            anywhere = (distributed_sum(counts) if self.sharded else counts).tolist()
        slots, offset = [], 0
        for i, (name, p) in enumerate(trainable.items()):
            if mask is None:
                idx, n = None, local(p).numel()
            else:
                if anywhere[i] == 0:
                    continue
                idx = mask[name].reshape(-1).nonzero().squeeze(1).to(p.device)
                n = int(idx.numel())
            slots.append(Slot(name, p, idx, offset, n))
            offset += n
        return slots

    def _hook(self, slot: Slot) -> Any:
        def hook(p: Tensor) -> None:
            assert p.grad is not None
            g = local(p.grad).reshape(-1)
            part = g if slot.index is None else g[slot.index]
            self.sink[slot.offset : slot.offset + slot.size] += part.float()
            p.grad = None

        return hook

    @torch.no_grad()
    def _read_flat(self) -> Tensor:
        parts = [torch.zeros(0, device=self.device)]
        for s in self.slots:
            flat = local(s.param.detach()).reshape(-1)
            parts.append((flat if s.index is None else flat[s.index]).float())
        return torch.cat(parts)

    @torch.no_grad()
    def _write_flat(self, vec: Tensor) -> None:
        for s in self.slots:
            flat = local(s.param.data).view(-1)
            vals = vec[s.offset : s.offset + s.size].to(flat.dtype)
            if s.index is None:
                flat.copy_(vals)
            else:
                flat[s.index] = vals

    # ------------------------------------------------------------------ one step
    def _backward(self, loss: Tensor, retain_graph: bool = False) -> None:
        with self.timer("backward"):
            if loss.requires_grad:
                self.accelerator.backward(loss, retain_graph=retain_graph)

    def _global(self, sums: dict[str, float]) -> dict[str, float]:
        """Losses averaged over processes, so that every rank takes the same stopping decision."""
        if self.accelerator.num_processes == 1:
            return sums
        vec = self.accelerator.reduce(torch.tensor(list(sums.values()), device=self.device), "mean")
        return dict(zip(sums, vec.tolist(), strict=True))

    def _check(self, step: int, parts: dict[str, float]) -> None:
        for name, value in parts.items():
            if not math.isfinite(value):
                raise Collapse(f"non-finite {name} loss ({value}) at step {step}")
        budget, window = self.cfg.train.retain_budget, self.cfg.train.retain_budget_window
        if budget is not None and "retain" in parts:
            losses = [h["retain"] for h in self.history] + [parts["retain"]]
            if over := retain_over_budget(losses, budget, window):
                raise Collapse(
                    f"retain loss {over[0]:.4f} (mean of the last {min(window, len(losses))} steps) over budget "
                    f"({budget} x {over[1]:.4f}, the mean of the first {window}) at step {step}"
                )

    def _step_flat(self, step: int) -> dict[str, float]:
        from unlearn import projection

        m, accum = self.method, self.cfg.train.grad_accum
        size = self.theta.numel()
        g_f = torch.zeros(size, device=self.device)
        # retain gradients are kept apart only for a projection (and as DP's scratch); without one the whole
        # gradient is accumulated in g_f (DP adds its retain part there too), so g_f alone is the update
        g_r = (
            torch.zeros(size, device=self.device)
            if m.separate_gradients or self.cfg.train.dp.enabled
            else None
        )
        sums = {"forget": 0.0, "keep": 0.0, "retain": 0.0}
        for _ in range(accum):
            fb = self.forget_stream.next_batch()
            rb = self.retain_stream.next_batch() if self.retain_stream is not None else None
            if self.cfg.train.dp.enabled:
                assert g_r is not None
                parts = self._dp_microstep(fb, rb, g_f, g_r, accum)
                for key in sums:
                    sums[key] += parts[key] / accum
                continue
            f, k = self._forget_terms(fb, rb)
            r = self._retain_term(rb)
            for key, val in (("forget", f), ("keep", k), ("retain", r)):
                sums[key] += float(val.detach()) / accum
            if g_r is not None and m.keep_gradient == "forget":
                self.sink = g_f
                self._backward((f + k) / accum)
                self.sink = g_r
                self._backward(r / accum)
            elif g_r is not None:
                self.sink = g_f
                self._backward(f / accum, retain_graph=k.requires_grad)
                self.sink = g_r
                self._backward((k + r) / accum)
            else:
                self.sink = g_f
                self._backward((f + k + r) / accum)
        sums = self._global(sums)
        self._check(step, sums)
        with self.timer("projection"):
            if self.accelerator.num_processes > 1 and not self.sharded:  # FSDP already averaged the shards
                g_f = self.accelerator.reduce(g_f, "mean")
                g_r = None if g_r is None else self.accelerator.reduce(g_r, "mean")
            if m.projection == "none" or g_r is None:
                g = g_f
            elif m.projection == "basis":
                if step % m.refresh_every == 0:
                    self.basis.add(g_r)
                g = self.basis.project_out(g_f) + g_r
            elif m.projection == "gru":
                self.gru_ema = projection.ema_update(self.gru_ema, g_r)
                g = projection.gru_project(g_f, self.gru_ema, self.reduce) + g_r
            else:  # pcgrad
                g = projection.pcgrad(g_f, g_r, self.reduce) + g_r
        with self.timer("optimizer"):
            delta = self.opt.step(g)
            if m.max_step_norm is not None:
                delta = projection.clip_step(delta, m.max_step_norm, self.reduce)
            theta = self.theta + delta
            if m.max_drift is not None:
                theta = projection.clip_drift(theta, self.theta0, m.max_drift, self.reduce)
            self.theta = theta
            self._write_flat(theta)
        # L2 distance of the selected coordinates from the start: shows when the trust region binds
        gap = self.theta - self.theta0
        return sums | {"drift": float(projection.dot(gap, gap, self.reduce).sqrt())}

    # ------------------------------------------------------------------ differential privacy
    def _setup_dp(self) -> None:
        self.dp_gen: torch.Generator | None = None
        self.accountants: dict[str, Any] = {}
        dp, m = self.cfg.train.dp, self.method
        if not dp.enabled:
            return
        from unlearn.dp import RDPAccountant

        if self.forget_term.pairs_retain:
            raise ConfigError(
                f"train.dp is not available for {m.forget_loss} (its loss couples forget and retain samples)"
            )
        self.dp_gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed + 17)
        self.accountants = {"forget": RDPAccountant()}
        if self.retain_stream is not None and self.method.retain_loss != "none":
            self.accountants["retain"] = RDPAccountant()

    def _dp_state(self) -> dict[str, Any] | None:
        if self.dp_gen is None:
            return None
        return {
            "gen": self.dp_gen.get_state(),
            "acc": {k: a.state_dict() for k, a in self.accountants.items()},
        }

    def _load_dp_state(self, state: dict[str, Any] | None) -> None:
        if state is None or self.dp_gen is None:
            return
        self.dp_gen.set_state(state["gen"])
        for k, a in self.accountants.items():
            a.load_state_dict(state["acc"][k])

    def _per_sample(self, batch: dict[str, Tensor], terms: Any, size: int) -> tuple[Tensor, list[Tensor]]:
        """Per-sample gradients ``[B, n_terms·size]`` (one micro-batch of 1 per sample) and the mean losses."""
        n = batch["input_ids"].shape[0]
        rows, totals = [], None
        for i in range(n):
            one = {key: v[i : i + 1] for key, v in batch.items()}
            width = int(one["attention_mask"].sum())
            one = {key: (v[:, :width] if v.dim() == 2 else v) for key, v in one.items()}
            losses_i = terms(one)
            sinks = [torch.zeros(size, device=self.device) for _ in losses_i]
            for j, (loss, sink) in enumerate(zip(losses_i, sinks, strict=True)):
                self.sink = sink
                self._backward(loss, retain_graph=j + 1 < len(losses_i))
            rows.append(torch.cat(sinks))
            vals = torch.stack([loss.detach().float() for loss in losses_i])
            totals = vals if totals is None else totals + vals
        assert totals is not None
        return torch.stack(rows), list(totals / n)

    def _dp_microstep(
        self, fb: dict[str, Tensor], rb: dict[str, Tensor] | None, g_f: Tensor, g_r: Tensor, accum: int
    ) -> dict[str, float]:
        """DP gradients: each forget sample's (forget, keep) and each retain sample's gradient clipped to C,
        summed, noised with N(0, σ²C²), averaged; accumulated into ``g_f`` (forget) and ``g_r`` (keep + retain)."""
        from unlearn.dp import private_mean

        dp, size = self.cfg.train.dp, g_f.numel()
        rows, (f, k) = self._per_sample(fb, lambda b: self._forget_terms(b, None), size)
        noisy = private_mean(rows, dp.max_grad_norm, dp.noise_multiplier, self.dp_gen)
        g_f += noisy[:size] / accum
        (g_f if self.method.keep_gradient == "forget" else g_r).add_(noisy[size:] / accum)
        parts = {"forget": float(f), "keep": float(k), "retain": 0.0}
        if "retain" in self.accountants and rb is not None:
            rrows, (r,) = self._per_sample(rb, lambda b: (self._retain_term(b),), size)
            g_r += private_mean(rrows, dp.max_grad_norm, dp.noise_multiplier, self.dp_gen) / accum
            parts["retain"] = float(r)
        if not self.method.separate_gradients:
            g_f += g_r
            g_r.zero_()
        return parts

    def _account(self) -> None:
        dp = self.cfg.train.dp
        n_f, b_f = len(self.forget), self.forget_stream.batch_size * self.cfg.train.grad_accum
        self.accountants["forget"].step(dp.noise_multiplier, min(1.0, b_f / n_f))
        if "retain" in self.accountants and self.retain_stream is not None:
            b_r = self.retain_stream.batch_size * self.cfg.train.grad_accum
            self.accountants["retain"].step(dp.noise_multiplier, min(1.0, b_r / len(self.retain)))

    def epsilon(self) -> dict[str, float] | None:
        """(ε per stream, δ) of the steps taken so far; None without DP."""
        if not self.accountants:
            return None
        delta = self.cfg.train.dp.delta
        return {"delta": delta, **{k: a.epsilon(delta) for k, a in self.accountants.items()}}

    def _step_dense(self, step: int) -> dict[str, float]:
        accum = self.cfg.train.grad_accum
        sums = {"forget": 0.0, "keep": 0.0, "retain": 0.0}
        for _ in range(accum):
            fb = self.forget_stream.next_batch()
            rb = self.retain_stream.next_batch() if self.retain_stream is not None else None
            f, k = self._forget_terms(fb, rb)
            r = self._retain_term(rb)
            for key, val in (("forget", f), ("keep", k), ("retain", r)):
                sums[key] += float(val.detach()) / accum
            self._backward((f + k + r) / accum)
        sums = self._global(sums)
        self._check(step, sums)
        with self.timer("optimizer"):
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        return sums

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_dirs(self) -> list[Path]:
        root = self.out / CHECKPOINTS
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if p.name.startswith("step-") and (p / "meta.json").is_file())

    def _trainable_state(self) -> dict[str, Tensor]:
        if self.flat:
            return {"theta": self.theta.detach().cpu().contiguous()}
        return {n: p.detach().cpu().contiguous() for n, p in self.trainable.items()}

    def _update_state(self) -> dict[str, Any]:
        """Optimiser and projection state: one per run, or one per rank when sharded."""
        return {
            "optimizer": self.opt.state_dict(),
            "basis": self.basis.state_dict() if self.basis is not None else None,
            "gru_ema": self.gru_ema,
        }

    def _load_update_state(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        if self.basis is not None:
            self.basis.load_state_dict({k: v.to(self.device) for k, v in state["basis"].items()})
        self.gru_ema = None if state["gru_ema"] is None else state["gru_ema"].to(self.device)

    def _rank_state(self) -> dict[str, Any]:
        return {
            "forget_stream": self.forget_stream.state_dict(),
            "retain_stream": self.retain_stream.state_dict() if self.retain_stream is not None else None,
            "torch_rng": torch.get_rng_state(),
        }

    def _save_checkpoint(self, step: int) -> Path:
        from accelerate.utils import gather_object

        from unlearn.tensor_io import save_tensors, save_torch

        target = self.out / CHECKPOINTS / f"step-{step:07d}"
        if self.sharded:
            return self._save_sharded_checkpoint(step, target)
        rank_state = self._rank_state()
        per_rank = gather_object([rank_state]) if self.accelerator.num_processes > 1 else [rank_state]
        if not self.accelerator.is_main_process:  # every rank holds the same weights and optimiser state
            self.accelerator.wait_for_everyone()
            return target
        state = {"ranks": per_rank, "dp": self._dp_state(), "history": self.history, **self._update_state()}
        with self.timer("checkpoint"), atomic_path(target, is_dir=True) as tmp:
            save_tensors(self._trainable_state(), tmp / "params.safetensors")
            save_torch(state, tmp / "trainer_state.pt")
            atomic_write_json(tmp / "meta.json", {"step": step, "config_hash": self.config_hash})
        self._prune_checkpoints()
        self.accelerator.wait_for_everyone()
        return target

    def _prune_checkpoints(self) -> None:
        for old in self._checkpoint_dirs()[: -self.cfg.train.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    def _on_every_rank(self, action: Callable[[], None], main_only: bool = False) -> None:
        """Run ``action`` (on rank 0 only if ``main_only``); if it fails on any rank, raise on every rank.

        A storage error on one rank must not leave the others waiting at the next collective forever.
        """
        error: Exception | None = None
        if self.accelerator.is_main_process or not main_only:
            try:
                action()
            except (OSError, MedunlearnError) as exc:
                error = exc
        failed = distributed_sum(torch.tensor([int(error is not None)], device=self.device))
        if error is not None:
            raise error
        if int(failed[0]):
            raise MedunlearnError(f"{self.out / CHECKPOINTS}: another process could not write its checkpoint")

    def _save_sharded_checkpoint(self, step: int, target: Path) -> Path:
        """Each rank writes its own shard (``rank{r}.safetensors``: selected values; ``rank{r}.pt``: optimiser,
        basis, streams, RNG) into one temporary directory, which rank 0 completes and renames into place."""
        from unlearn.tensor_io import save_tensors, save_torch

        tmp = target.with_name(f".{target.name}.partial")
        r = self.accelerator.process_index

        def start() -> None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)

        def write_shard() -> None:
            save_tensors({"theta": self.theta.detach().cpu().contiguous()}, tmp / f"rank{r}.safetensors")
            save_torch(self._rank_state() | self._update_state(), tmp / f"rank{r}.pt")

        def finish() -> None:
            save_torch({"dp": self._dp_state(), "history": self.history}, tmp / "trainer_state.pt")
            meta = {
                "step": step,
                "config_hash": self.config_hash,
                "sharded_ranks": self.accelerator.num_processes,
            }
            atomic_write_json(tmp / "meta.json", meta)
            replace_directory(tmp, target)
            self._prune_checkpoints()

        with self.timer("checkpoint"):
            try:
                self._on_every_rank(start, main_only=True)
                self._on_every_rank(write_shard)
                self._on_every_rank(finish, main_only=True)
            except BaseException:
                if self.accelerator.is_main_process:
                    shutil.rmtree(tmp, ignore_errors=True)
                raise
        return target

    def _load_checkpoint(self, path: Path) -> int:
        from safetensors.torch import load_file

        meta = json.loads((path / "meta.json").read_text())
        if meta["config_hash"] != self.config_hash:
            raise MedunlearnError(
                f"{path}: checkpoint of another configuration (hash {meta['config_hash']} != {self.config_hash}); "
                "use another output.dir or set output.resume=false"
            )
        world, r = self.accelerator.num_processes, self.accelerator.process_index
        if ("sharded_ranks" in meta) != self.sharded:
            raise MedunlearnError(f"{path}: checkpoint {'without' if self.sharded else 'with'} FSDP sharding")
        state = torch.load(path / "trainer_state.pt", weights_only=False, map_location="cpu")
        written = meta["sharded_ranks"] if self.sharded else len(state["ranks"])
        if written != world:
            raise MedunlearnError(
                f"{path}: checkpoint written by {written} process(es), resumed with {world}"
            )
        if self.sharded:
            params = load_file(str(path / f"rank{r}.safetensors"))
            mine = torch.load(path / f"rank{r}.pt", weights_only=False, map_location="cpu")
        else:
            params, mine = load_file(str(path / "params.safetensors")), state["ranks"][r]
        if self.flat:
            self.theta = params["theta"].to(self.device)
            self._write_flat(self.theta)
        else:
            with torch.no_grad():
                for name, p in self.trainable.items():
                    p.copy_(params[name].to(p.device, p.dtype))
        self._load_update_state(mine if self.sharded else state)
        self.forget_stream.load_state_dict(mine["forget_stream"])
        if self.retain_stream is not None:
            self.retain_stream.load_state_dict(mine["retain_stream"])
        self._load_dp_state(state["dp"])
        torch.set_rng_state(mine["torch_rng"].cpu())
        self.history = state["history"]
        return int(meta["step"])

    def _restore_initial(self) -> None:
        if self.flat:
            self.theta = self.theta0.clone()
            self._write_flat(self.theta)
        else:
            with torch.no_grad():
                for name, p in self.trainable.items():
                    p.copy_(self.initial[name])

    # ------------------------------------------------------------------ run
    def _run_hash(self) -> str:
        dumped = self.cfg.model_dump(mode="json")
        dumped["train"].pop("stop_after", None)
        dumped["output"].pop("resume", None)
        from ontology.common.hashing import config_hash

        return config_hash(dumped)

    def _wants_fsdp(self) -> bool:
        from accelerate.utils import DistributedType

        t = self.cfg.train
        launched = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true", "yes")  # also on CPU
        if not (t.fsdp or launched or self.accelerator.distributed_type == DistributedType.FSDP):
            return False
        if t.lora.enabled or t.dp.enabled:
            raise ConfigError("train.fsdp cannot be combined with train.lora or train.dp (use DDP for those)")
        if self.accelerator.num_processes == 1:
            log.info("train.fsdp: a single process, nothing to shard")
            return False
        return True

    def _shard(self, candidates: dict[str, nn.Parameter]) -> dict[str, nn.Parameter]:
        """Shard the model (and RMU's frozen copy) with FSDP2, filled from rank 0's weights; return the candidates
        again, now the sharded parameters of the same names."""
        from unlearn.sharding import shard_model

        for model in [self.model, *self.forget_term.extra_models()]:
            shard_model(model, self.device)
        params = dict(self.model.named_parameters())
        return {name: params[name] for name in candidates}

    def _unshard(self) -> None:
        """Replace the sharded model by a plain one holding the full weights (on the main process)."""
        from unlearn.models import load_model
        from unlearn.sharding import full_state_dict

        state = full_state_dict(self.model)
        if self.accelerator.is_main_process:
            dtype = torch.bfloat16 if self.cfg.model.dtype == "bfloat16" else torch.float32
            plain, _ = load_model(self.cfg.model.name, dtype=dtype)
            plain.load_state_dict(state)
            self.model = plain

    def prepare(self) -> None:
        """Load model and data, select coordinates, build the optimiser (everything before step 0)."""
        cfg, m = self.cfg, self.method
        torch.manual_seed(cfg.train.seed)
        self.timer = Timer(torch.cuda.is_available() and not cfg.train.cpu)
        self._load()
        if self.device.type == "cpu":
            # subnormal floats (below 1.2e-38) are ~100x slower on x86 CPUs: a saturated NPO term sent one
            # SmolLM2 backward pass from 3 s to 115 s (docs/benchmarks.md); with the flush such values
            # become 0. A process-wide torch setting, left on after the run.
            torch.set_flush_denormal(True)
        self._load_data()
        self.config_hash = self._run_hash()
        self._resuming = cfg.output.resume and bool(self._checkpoint_dirs())
        if self._resuming:
            log.info("resuming from %s", self._checkpoint_dirs()[-1])
        self.fmodel = self.model
        self.forget_term.setup(self)
        if cfg.train.lora.enabled:
            self._setup_lora()
            candidates = {n: p for n, p in self.model.named_parameters() if "lora_" in n}
        else:
            candidates = self._candidates()
        if self.sharded:
            candidates = self._shard(candidates)
        # after LoRA setup (adapters start at zero, so the outputs are the input model's) and sharding
        self.ref_logp = self._reference_logprobs() if m.needs_reference else None
        mask = self._select(candidates)
        if cfg.model.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
            self.model.enable_input_require_grads()  # else adapters/upper layers get no gradient (reentrant)
        self.model.train()
        self.flat = mask is not None or m.separate_gradients or cfg.train.dp.enabled or self.sharded
        for p in self.model.parameters():
            p.requires_grad_(False)
        if self.flat:
            self.slots = self._make_slots(candidates, mask)
            if not self.slots:
                raise MedunlearnError("the selection is empty: no coordinate may change")
            self.trainable = {s.name: s.param for s in self.slots}
            for s in self.slots:
                s.param.requires_grad_(True)
            self.handles = [s.param.register_post_accumulate_grad_hook(self._hook(s)) for s in self.slots]
            self.theta0 = self._read_flat()
            self.theta = self.theta0.clone()
            size = self.theta.numel()
            t = cfg.train
            self.opt: Any = FlatOptimizer(size, t.lr, t.optimizer, t.adam_betas, t.adam_eps, self.device)
        else:
            self.trainable = dict(candidates)
            for p in self.trainable.values():
                p.requires_grad_(True)
            self.handles = []
            self.initial = {n: p.detach().clone() for n, p in self.trainable.items()}
            params = list(self.trainable.values())
            t = cfg.train
            self.opt = (
                torch.optim.Adam(params, lr=t.lr, betas=t.adam_betas, eps=t.adam_eps)
                if t.optimizer == "adam"
                else torch.optim.SGD(params, lr=t.lr)
            )
        # dense path on several processes: DDP averages the gradients; the flat path reduces its own vectors
        self.fmodel = (
            self.accelerator.prepare(self.model)
            if not self.flat and self.accelerator.num_processes > 1
            else self.model
        )
        if not self.flat:
            self.selected = sum(p.numel() for p in self.trainable.values())
        else:
            count = torch.tensor([self.theta.numel()], dtype=torch.int64, device=self.device)
            self.selected = int((distributed_sum(count) if self.sharded else count)[0])
        if m.projection == "basis":
            from unlearn.projection import RetainBasis

            self.basis = RetainBasis(m.basis_k, self.reduce)
        self._setup_dp()

    def run(self) -> RunResult:
        """Train, checkpoint, stop early on collapse, write the outputs; return what happened."""
        from unlearn.outputs import write_outputs

        t_start = time.perf_counter()
        self.prepare()
        cfg = self.cfg
        start = self._load_checkpoint(self._checkpoint_dirs()[-1]) if self._resuming else 0
        last_good = start
        status, reason = "completed", None
        step = start
        pbar = bar(desc=f"unlearn {self.method.name}", total=cfg.train.steps)
        pbar.update(start)
        try:
            while step < cfg.train.steps:
                if cfg.train.stop_after is not None and step - start >= cfg.train.stop_after:
                    status, reason = "interrupted", f"stop_after={cfg.train.stop_after}"
                    break
                try:
                    parts = self._step_flat(step) if self.flat else self._step_dense(step)
                except Collapse as exc:
                    status, reason = "early_stop", str(exc)
                    log.warning("early stop: %s; restoring the last good state (step %d)", exc, last_good)
                    if last_good > 0 and self._checkpoint_dirs():
                        self._load_checkpoint(self._checkpoint_dirs()[-1])
                    else:
                        self._restore_initial()
                    step = last_good
                    break
                step += 1
                if self.accountants:
                    self._account()
                self.history.append({"step": step, **parts})
                pbar.update(1)
                pbar.set_postfix(forget=f"{parts['forget']:.3f}", retain=f"{parts['retain']:.3f}")
                if step % cfg.train.checkpoint_every == 0 or step == cfg.train.steps:
                    self._save_checkpoint(step)
                    last_good = step
        finally:
            pbar.close()
        if status == "interrupted" and step != last_good:
            self._save_checkpoint(step)
        for h in self.handles:
            h.remove()
        from accelerate.utils import gather_object

        peak = peak_memory_bytes(self.device)
        peaks = gather_object([peak]) if self.accelerator.num_processes > 1 else [peak]
        if self.sharded and status != "interrupted":
            self._unshard()
        result = RunResult(
            status=status,
            reason=reason,
            steps=step,
            history=self.history,
            seconds=dict(self.timer.seconds),
            wall_seconds=time.perf_counter() - t_start,
            peak_memory_bytes=peak_memory_bytes(self.device),
            peak_memory_per_rank=peaks,
            selected=self.selected,
            epsilon=self.epsilon(),
            trainable_tensors=len(self.trainable),
            out_dir=self.out,
            is_main=self.accelerator.is_main_process,
        )
        if status != "interrupted" and self.accelerator.is_main_process:
            result.manifest = write_outputs(self, result)
        return result
