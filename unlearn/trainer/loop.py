"""The run loop: prepare a run, take steps on the dense or the flat path, checkpoint, stop early, write outputs.

- **dense**: every trainable coordinate moves; one backward of ``forget + keep + retain`` per micro-batch and a
  ``torch.optim`` optimiser (the plain baselines ``ga``, ``graddiff``, ``npo``, ``simnpo``, ``rmu``);
- **flat**: only the selected coordinates (a saliency mask, or all coordinates of the trainable tensors) move
  (:mod:`unlearn.trainer.coordinates`); forget and retain gradients are kept apart so the forget gradient can
  be projected (:mod:`unlearn.projection`); the step is clipped (trust region) and written back.

A run resumed from a checkpoint (:mod:`unlearn.trainer.checkpoints`) ends bit-identical to an uninterrupted
run. Several processes: the flat path averages its flat vectors across ranks (replicated model), or, with
``train.fsdp``, runs on sharded parameters (:mod:`unlearn.trainer.fsdp`): every method then takes the flat
path, each rank holding its rows of the selected coordinates, and the projection sums its inner products
across ranks instead of gathering gradients.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ontology.common.errors import MedunlearnError
from ontology.common.progress import bar
from unlearn import losses
from unlearn.config import RunConfig
from unlearn.methods import FORGET_TERMS
from unlearn.methods.base import Batch
from unlearn.outputs import RunResult, write_outputs
from unlearn.projection import distributed_sum, make_projection
from unlearn.trainer import fsdp, inputs
from unlearn.trainer.checkpoints import CheckpointStore, Loaded, corrupt
from unlearn.trainer.coordinates import FlatCoordinates, FlatOptimizer, make_slots
from unlearn.trainer.dp_step import DPStep
from unlearn.trainer.fast_pass import FastPass, fast_pass
from unlearn.trainer.objectives import forget_and_keep, retain_term
from unlearn.trainer.saliency import select_mask
from unlearn.trainer.stopping import Collapse, check_step
from unlearn.trainer.timing import Timer, peak_memory_bytes

log = logging.getLogger(__name__)


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
        self.coords: FlatCoordinates | None = None
        self.dp: DPStep | None = None
        self.history: list[dict[str, float]] = []
        self.sharded = False
        self.reduce: Callable[[Tensor], Tensor] | None = None  # sums inner products across ranks when sharded
        self.fast: FastPass | None = None  # passes that skip what cannot change a loss (train.fast_pass)

    # ------------------------------------------------------------------ what a forget term may use
    def _forward(self, batch: Batch) -> Any:
        with self.timer("forward"):
            return self.fmodel(
                input_ids=batch["input_ids"].to(self.device),
                attention_mask=batch["attention_mask"].to(self.device),
                use_cache=False,
            )

    def logits(self, batch: Batch) -> Tensor:
        """The trained model's logits on a batch (through the fast pass where it applies)."""
        if self.fast is not None:
            with self.timer("forward"):
                return self.fast.logits(batch, self.device)
        return self._forward(batch).logits

    def token_logprobs(self, batch: Batch) -> Tensor:
        """``log p(x_t | x_<t)`` of the trained model on a batch."""
        if self.fast is not None:
            with self.timer("forward"):
                return self.fast.token_logprobs(batch, self.device)
        return losses.token_logprobs(self.logits(batch), batch["labels"].to(self.device))

    def reference_logprobs(self, batch: Batch, like: Tensor) -> Tensor:
        """The starting model's token log-probabilities of the batch's records, shaped like ``like``."""
        assert self.ref_logp is not None
        return self.ref_logp[batch["index"], : like.shape[1]].to(self.device, like.dtype)

    # ------------------------------------------------------------------ setup
    def _run_hash(self) -> str:
        from ontology.common.hashing import config_hash

        dumped = self.cfg.model_dump(mode="json")
        dumped["train"].pop("stop_after", None)
        dumped["output"].pop("resume", None)
        return config_hash(dumped)

    def _load(self) -> None:
        from accelerate import Accelerator

        from unlearn.models import tokenizer_hash

        cfg = self.cfg
        self.accelerator = Accelerator(cpu=cfg.train.cpu or not torch.cuda.is_available())
        self.device = self.accelerator.device
        self.sharded = fsdp.wants_fsdp(cfg, self.accelerator)
        self.reduce = distributed_sum if self.sharded else None
        self.model, self.tokenizer = fsdp.load_for_run(cfg, self.sharded, self.accelerator.is_main_process)
        if not self.sharded:  # sharding moves each unit to the device itself
            self.model.to(self.device)
        self.tok_hash = tokenizer_hash(self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _optimizer(self, candidates: dict[str, Any], mask: dict[str, Tensor] | None) -> None:
        """Make the trainable coordinates (flat path: the selected slots; dense: whole tensors) and their
        optimiser."""
        t = self.cfg.train
        for p in self.model.parameters():
            p.requires_grad_(False)
        if self.flat:
            slots = make_slots(candidates, mask, self.device, self.sharded)
            if not slots:
                raise MedunlearnError("the selection is empty: no coordinate may change")
            self.trainable = {s.name: s.param for s in slots}
            self.coords = FlatCoordinates(slots, self.device)
            self.theta0 = self.coords.read()
            self.theta = self.theta0.clone()
            self.opt: Any = FlatOptimizer(
                self.theta.numel(), t.lr, t.optimizer, t.adam_betas, t.adam_eps, self.device
            )
            return
        self.trainable = dict(candidates)
        for p in self.trainable.values():
            p.requires_grad_(True)
        self.initial = {n: p.detach().clone() for n, p in self.trainable.items()}
        params = list(self.trainable.values())
        self.opt = (
            torch.optim.Adam(params, lr=t.lr, betas=t.adam_betas, eps=t.adam_eps)
            if t.optimizer == "adam"
            else torch.optim.SGD(params, lr=t.lr)
        )

    def prepare(self) -> None:
        """Load model and data, select coordinates, build the optimiser (everything before step 0)."""
        cfg, m = self.cfg, self.method
        torch.manual_seed(cfg.train.seed)
        self.timer = Timer(torch.cuda.is_available() and not cfg.train.cpu)
        self._load()
        if self.device.type == "cpu":
            # subnormal floats (below 1.2e-38) are ~100x slower on x86 CPUs (a saturated NPO term,
            # docs/benchmarks.md); with the flush such values become 0. A process-wide torch setting.
            torch.set_flush_denormal(True)
        self.data = inputs.load_data(
            cfg, self.forget_term, self.tokenizer, self.tok_hash, self.accelerator.process_index, self.pad_id
        )
        self.forget_stream, self.retain_stream = self.data.forget_stream, self.data.retain_stream
        self.config_hash = self._run_hash()
        self.checkpoints = CheckpointStore(
            self.out, self.config_hash, self.accelerator, cfg.train.keep_checkpoints, self.timer
        )
        self._resuming = cfg.output.resume and bool(self.checkpoints.dirs())
        if self._resuming:
            log.info("resuming from %s", self.checkpoints.dirs()[-1])
        self.fmodel = self.model
        self.forget_term.setup(self)
        if cfg.train.lora.enabled:
            self.model = inputs.add_lora(self.model, cfg)
            candidates = {n: p for n, p in self.model.named_parameters() if "lora_" in n}
        else:
            candidates = inputs.candidates(cfg, self.forget_term, self)
        if self.sharded:
            candidates = fsdp.shard(self.model, self.forget_term.extra_models(), candidates, self.device)
        # after LoRA setup (adapters start at zero, so the outputs are the input model's) and sharding
        self.ref_logp = inputs.reference_logprobs(self) if m.needs_reference else None
        self.forget_term.prepare_reference(self)
        self.fast = fast_pass(self, list(candidates))
        mask = select_mask(self, candidates)
        if cfg.model.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
            self.model.enable_input_require_grads()  # else adapters/upper layers get no gradient (reentrant)
        self.model.train()
        self.flat = mask is not None or m.separate_gradients or cfg.train.dp.enabled or self.sharded
        self._optimizer(candidates, mask)
        # dense path on several processes: DDP averages the gradients; the flat path reduces its own vectors
        several = self.accelerator.num_processes > 1
        self.fmodel = self.accelerator.prepare(self.model) if not self.flat and several else self.model
        if not self.flat:
            self.selected = sum(p.numel() for p in self.trainable.values())
        else:
            count = torch.tensor([self.theta.numel()], dtype=torch.int64, device=self.device)
            self.selected = int((distributed_sum(count) if self.sharded else count)[0])
        self.projection = make_projection(m, self.reduce)
        if cfg.train.dp.enabled:
            self.dp = DPStep(cfg, self.forget_term, self.device, self.retain_stream is not None)

    # ------------------------------------------------------------------ one step
    def backward(self, loss: Tensor, retain_graph: bool = False) -> None:
        """Backward of ``loss`` (into the flat sink on the flat path), timed."""
        with self.timer("backward"):
            if loss.requires_grad:
                self.accelerator.backward(loss, retain_graph=retain_graph)

    def _global(self, sums: dict[str, float]) -> dict[str, float]:
        """Losses averaged over processes, so that every rank takes the same stopping decision."""
        if self.accelerator.num_processes == 1:
            return sums
        vec = self.accelerator.reduce(torch.tensor(list(sums.values()), device=self.device), "mean")
        return dict(zip(sums, vec.tolist(), strict=True))

    def _batches(self) -> tuple[Batch, Batch | None]:
        fb = self.forget_stream.next_batch()
        rb = self.retain_stream.next_batch() if self.retain_stream is not None else None
        if self.fast is not None:
            self.fast.mark({"forget": fb, "retain": rb})
        return fb, rb

    def step(self, step: int) -> dict[str, float]:
        """One optimiser step (``train.grad_accum`` micro-batches); returns the step's losses."""
        return self._step_flat(step) if self.flat else self._step_dense(step)

    def _step_dense(self, step: int) -> dict[str, float]:
        accum = self.cfg.train.grad_accum
        sums = {"forget": 0.0, "keep": 0.0, "retain": 0.0}
        for _ in range(accum):
            fb, rb = self._batches()
            f, k = forget_and_keep(self, fb, rb)
            r = retain_term(self, rb)
            for key, val in (("forget", f), ("keep", k), ("retain", r)):
                sums[key] += float(val.detach()) / accum
            self.backward((f + k + r) / accum)
        sums = self._global(sums)
        check_step(step, sums, self.history, self.cfg.train)
        with self.timer("optimizer"):
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        return sums | self.forget_term.diagnostics()

    def _flat_microstep(
        self, fb: Batch, rb: Batch | None, g_f: Tensor, g_r: Tensor | None
    ) -> dict[str, float]:
        """Backward of one micro-batch into ``g_f`` (forget side) and ``g_r`` (retain side, when kept apart);
        returns its (unscaled) losses."""
        assert self.coords is not None
        accum, keep_side = self.cfg.train.grad_accum, self.method.keep_gradient
        f, k = forget_and_keep(self, fb, rb)
        r = retain_term(self, rb)
        parts = {"forget": float(f.detach()), "keep": float(k.detach()), "retain": float(r.detach())}
        if g_r is not None and keep_side == "forget":
            self.coords.sink = g_f
            self.backward((f + k) / accum)
            self.coords.sink = g_r
            self.backward(r / accum)
        elif g_r is not None:
            self.coords.sink = g_f
            self.backward(f / accum, retain_graph=k.requires_grad)
            self.coords.sink = g_r
            self.backward((k + r) / accum)
        else:
            self.coords.sink = g_f
            self.backward((f + k + r) / accum)
        return parts

    def _step_flat(self, step: int) -> dict[str, float]:
        from unlearn import projection

        m, accum = self.method, self.cfg.train.grad_accum
        size = self.theta.numel()
        g_f = torch.zeros(size, device=self.device)
        # retain gradients are kept apart only for a projection (and as DP's scratch); without one the whole
        # gradient is accumulated in g_f (DP adds its retain part there too), so g_f alone is the update
        g_r = torch.zeros(size, device=self.device) if m.separate_gradients or self.dp is not None else None
        sums = {"forget": 0.0, "keep": 0.0, "retain": 0.0}
        for _ in range(accum):
            fb, rb = self._batches()
            if self.dp is not None:
                assert g_r is not None
                parts = self.dp.microstep(self, fb, rb, g_f, g_r, accum)
            else:
                parts = self._flat_microstep(fb, rb, g_f, g_r)
            for key in sums:
                sums[key] += parts[key] / accum
        sums = self._global(sums)
        check_step(step, sums, self.history, self.cfg.train)
        with self.timer("projection"):
            if self.accelerator.num_processes > 1 and not self.sharded:  # FSDP already averaged the shards
                g_f = self.accelerator.reduce(g_f, "mean")
                g_r = None if g_r is None else self.accelerator.reduce(g_r, "mean")
            g = g_f if g_r is None else self.projection.combine(step, g_f, g_r)
        with self.timer("optimizer"):
            delta = self.opt.step(g)
            if m.max_step_norm is not None:
                delta = projection.clip_step(delta, m.max_step_norm, self.reduce)
            theta = self.theta + delta
            if m.max_drift is not None:
                theta = projection.clip_drift(theta, self.theta0, m.max_drift, self.reduce)
            self.theta = theta
            assert self.coords is not None
            self.coords.write(theta)
        # L2 distance of the selected coordinates from the start: shows when the trust region binds
        gap = self.theta - self.theta0
        drift = float(projection.dot(gap, gap, self.reduce).sqrt())
        return sums | {"drift": drift} | self.forget_term.diagnostics()

    # ------------------------------------------------------------------ checkpoints
    def _update_state(self) -> dict[str, Any]:
        """Optimiser and projection state: one per run, or one per rank when sharded."""
        return {"optimizer": self.opt.state_dict(), **self.projection.state_dict()}

    def _rank_state(self) -> dict[str, Any]:
        return {
            "forget_stream": self.forget_stream.state_dict(),
            "retain_stream": self.retain_stream.state_dict() if self.retain_stream is not None else None,
            "torch_rng": torch.get_rng_state(),
        }

    def _trainable_state(self) -> dict[str, Tensor]:
        if self.flat:
            return {"theta": self.theta.detach().cpu().contiguous()}
        return {n: p.detach().cpu().contiguous() for n, p in self.trainable.items()}

    def _save_checkpoint(self, step: int) -> Path:
        dp = self.dp.state_dict() if self.dp is not None else None
        if self.sharded:
            rank = self._rank_state() | self._update_state()
            return self.checkpoints.save_sharded(step, self.theta, rank, dp, self.history)
        return self.checkpoints.save(
            step, self._trainable_state, self._update_state(), self._rank_state(), dp, self.history
        )

    def _load_checkpoint(self, path: Path) -> int:
        ck = self.checkpoints.load(path, self.sharded)
        try:
            self._restore(ck)
        except (
            KeyError,
            IndexError,
            TypeError,
            ValueError,
            RuntimeError,
            AttributeError,
            AssertionError,
        ) as exc:
            raise corrupt(
                path, f"its state does not fit this run ({type(exc).__name__}: {str(exc)[:100]})"
            ) from None
        return ck.step

    def _expected_shapes(self, ck: Loaded) -> None:
        """Raise ``ValueError`` when a checkpoint's tensors do not have this run's shapes (a forged or foreign
        state must fail at the resume, not somewhere in the next step)."""
        if self.flat:
            n = self.theta0.numel()
            vectors = [("theta", ck.params.get("theta"))] + [
                (k, v)
                for k, v in _tensor_leaves({k: ck.update.get(k) for k in ("optimizer", "basis", "gru_ema")})
                if v.dim() >= 1
            ]
            for name, t in vectors:
                if not isinstance(t, Tensor) or t.shape[-1] != n:
                    raise ValueError(f"{name}: not a vector of the {n} selected coordinates")
            return
        for name, p in self.trainable.items():
            t = ck.params.get(name)
            if not isinstance(t, Tensor) or t.shape != p.shape:
                raise ValueError(f"{name}: not a tensor of shape {tuple(p.shape)}")

    def _restore(self, ck: Loaded) -> None:
        self._expected_shapes(ck)
        if self.flat:
            assert self.coords is not None
            self.theta = ck.params["theta"].to(self.device)
            self.coords.write(self.theta)
        else:
            with torch.no_grad():
                for name, p in self.trainable.items():
                    p.copy_(ck.params[name].to(p.device, p.dtype))
        self.opt.load_state_dict(ck.update["optimizer"])
        if not self.flat:
            for p, st in self.opt.state.items():
                if any(isinstance(v, Tensor) and v.dim() and v.shape != p.shape for v in st.values()):
                    raise ValueError(f"optimizer state not of shape {tuple(p.shape)}")
        self.projection.load_state_dict(ck.update, self.device)
        self.forget_stream.load_state_dict(ck.rank["forget_stream"])
        if self.retain_stream is not None:
            self.retain_stream.load_state_dict(ck.rank["retain_stream"])
        if self.dp is not None:
            self.dp.load_state_dict(ck.dp)
        torch.set_rng_state(ck.rank["torch_rng"].cpu())
        self.history = ck.history

    def _restore_initial(self) -> None:
        if self.flat:
            assert self.coords is not None
            self.theta = self.theta0.clone()
            self.coords.write(self.theta)
        else:
            with torch.no_grad():
                for name, p in self.trainable.items():
                    p.copy_(self.initial[name])

    # ------------------------------------------------------------------ run
    def epsilon(self) -> dict[str, float] | None:
        """(ε per stream, δ) of the steps taken so far; None without DP."""
        return self.dp.epsilon() if self.dp is not None else None

    def _account(self) -> None:
        if self.dp is None:
            return
        accum = self.cfg.train.grad_accum
        forget = (self.forget_stream.batch_size * accum, len(self.data.forget))
        retain = (
            (self.retain_stream.batch_size * accum, len(self.data.retain))
            if self.retain_stream is not None
            else None
        )
        self.dp.account(forget, retain)

    def _train(self, start: int) -> tuple[int, str, str | None]:
        """Steps from ``start`` until done, interrupted or collapsed; returns (step, status, reason)."""
        t = self.cfg.train
        last_good, step = start, start
        status, reason = "completed", None
        pbar = bar(desc=f"unlearn {self.method.name}", total=t.steps)
        pbar.update(start)
        try:
            while step < t.steps:
                if t.stop_after is not None and step - start >= t.stop_after:
                    status, reason = "interrupted", f"stop_after={t.stop_after}"
                    break
                try:
                    parts = self.step(step)
                except Collapse as exc:
                    log.warning("early stop: %s; restoring the last good state (step %d)", exc, last_good)
                    if last_good > 0 and self.checkpoints.dirs():
                        self._load_checkpoint(self.checkpoints.dirs()[-1])
                    else:
                        self._restore_initial()
                    return last_good, "early_stop", str(exc)
                step += 1
                self._account()
                self.history.append({"step": step, **parts})
                pbar.update(1)
                pbar.set_postfix(forget=f"{parts['forget']:.3f}", retain=f"{parts['retain']:.3f}")
                if step % t.checkpoint_every == 0 or step == t.steps:
                    self._save_checkpoint(step)
                    last_good = step
        finally:
            pbar.close()
        if status == "interrupted" and step != last_good:
            self._save_checkpoint(step)
        return step, status, reason

    def run(self) -> RunResult:
        """Train, checkpoint, stop early on collapse, write the outputs; return what happened."""
        from accelerate.utils import gather_object

        t_start = time.perf_counter()
        self.prepare()
        start = self._load_checkpoint(self.checkpoints.dirs()[-1]) if self._resuming else 0
        step, status, reason = self._train(start)
        if self.coords is not None:
            self.coords.remove_hooks()
        peak = peak_memory_bytes(self.device)
        peaks = gather_object([peak]) if self.accelerator.num_processes > 1 else [peak]
        if self.sharded and status != "interrupted":
            self.model = fsdp.unshard(self.model, self.cfg, self.accelerator.is_main_process)
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
            tokenizer_hash=self.tok_hash,
            forget_records=len(self.data.forget),
            forget_target_tokens=self.data.forget.target_token_count(),
            retain_records=len(self.data.retain),
            scope=self.data.scope,
            device=str(self.device),
        )
        if status != "interrupted" and self.accelerator.is_main_process:
            result.manifest, self.model = write_outputs(self.cfg, self.model, self.tokenizer, result)
        return result


def _tensor_leaves(tree: Any, where: str = "") -> list[tuple[str, Tensor]]:
    """``(key path, tensor)`` of every tensor in a tree of dicts and lists."""
    if isinstance(tree, Tensor):
        return [(where, tree)]
    if isinstance(tree, dict):
        return [x for k, v in tree.items() for x in _tensor_leaves(v, f"{where}.{k}".lstrip("."))]
    if isinstance(tree, list | tuple):
        return [x for i, v in enumerate(tree) for x in _tensor_leaves(v, f"{where}[{i}]")]
    return []
