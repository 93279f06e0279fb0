"""Plain supervised fine-tuning: the *memorize* and *oracle* stages of the benchmark and the demo.

Only the top ``train_layers`` decoder layers (and the final norm) are trained — the calibration in
``docs/method-choices.md``: SmolLM2's top 8 of 30 layers at lr 3e-4 memorise ~100 short items in 8 epochs.
The layers below never change, so the hidden states entering the first trained layer are computed once per
record and each step runs only the trained layers; the LM head runs only on the tokens the loss weighs
(:mod:`unlearn.top_layers`): the same loss as a full forward pass up to float rounding. ``length_groups``
batches records of similar length (less padding). ``benchmarks/bench_finetune.py`` measures each.
Checkpoints (``checkpoint/``: ``trainable.safetensors`` and ``state.safetensors``, never a pickle) are written
atomically every ``checkpoint_every`` steps; a run started again in the same directory resumes from the last
one and ends with the same weights as an uninterrupted run. A checkpoint that cannot be read, or does not fit
the model, stops the run with one line naming the directory to delete.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from safetensors import SafetensorError
from safetensors.torch import load_file

from ontology.common.atomic import atomic_path
from ontology.common.config import StrictModel
from ontology.common.errors import MedunlearnError
from ontology.common.progress import bar
from unlearn.data import BatchStream, Record, TokenDataset
from unlearn.losses import nll_loss, token_logprobs
from unlearn.tensor_io import StateFileError, load_state, save_state, save_tensors
from unlearn.top_layers import (
    first_trained_layer,
    frozen_states,
    full_hidden,
    head_logprobs,
    pad_states,
    supported,
    top_hidden,
)


class FinetuneConfig(StrictModel):
    """How a model is taught (memorize) or retrained without the forget data (oracle)."""

    epochs: float = Field(8.0, gt=0)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(3e-4, gt=0)
    train_layers: int | None = Field(
        8, ge=1, description="top decoder layers trained; None trains every parameter"
    )
    seed: int = 0
    checkpoint_every: int = Field(10, ge=1)
    length_groups: int | None = Field(
        None,
        ge=1,
        description="batches of similar length: sort each chunk of this many batches by length (less padding); "
        "None: plain shuffled batches",
    )


def trainable_names(model: torch.nn.Module, train_layers: int | None) -> list[str]:
    """Names of the parameters fine-tuning updates: the top ``train_layers`` decoder layers and the final norm."""
    names = [n for n, _ in model.named_parameters()]
    if train_layers is None:
        return names
    n_layers = int(getattr(model, "config").num_hidden_layers)  # noqa: B009 - nn.Module has no typed config
    first = max(0, n_layers - train_layers)
    keep = []
    for name in names:
        m = re.search(r"\.layers\.(\d+)\.", name)
        if (m and int(m.group(1)) >= first) or name.endswith("model.norm.weight"):
            keep.append(name)
    return keep


STATE = "state.safetensors"


def _save_checkpoint(
    directory: Path, model: torch.nn.Module, names: list[str], state: dict[str, Any]
) -> None:
    params = dict(model.named_parameters())
    with atomic_path(directory, is_dir=True) as tmp:
        save_tensors({n: params[n].detach().contiguous() for n in names}, tmp / "trainable.safetensors")
        save_state(state, tmp / STATE)


def _load_checkpoint(
    directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, stream: BatchStream
) -> tuple[int, list[float]]:
    """Restore weights, optimiser and batch stream; return ``(step, losses)``. A checkpoint that is unreadable
    or does not fit is one line naming the directory to delete."""
    params = dict(model.named_parameters())
    try:
        tensors = load_file(str(directory / "trainable.safetensors"))
        state = load_state(directory / STATE)
        for name, value in tensors.items():
            if name not in params or value.shape != params[name].shape:
                raise ValueError(f"tensor {name!r} does not fit the model")
        with torch.no_grad():
            for name, value in tensors.items():
                params[name].copy_(value)
        optimizer.load_state_dict(state["optimizer"])
        for p, st in optimizer.state.items():
            if any(isinstance(v, torch.Tensor) and v.dim() and v.shape != p.shape for v in st.values()):
                raise ValueError(f"optimizer state not of shape {tuple(p.shape)}")
        stream.load_state_dict(state["stream"])
        return int(state["step"]), [float(x) for x in state["losses"]]
    except (SafetensorError, StateFileError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise MedunlearnError(
            f"{directory}: corrupt checkpoint ({type(exc).__name__}: {str(exc)[:100]}); delete it to start "
            "this stage again"
        ) from None


def finetune(
    model: torch.nn.Module,
    records: list[Record],
    cfg: FinetuneConfig,
    workdir: Path,
    *,
    pad_id: int,
    desc: str = "fine-tune",
    reuse_frozen: bool = True,
    read_head: bool = True,
) -> dict[str, Any]:
    """Fine-tune ``model`` in place on ``records`` (token-weighted NLL); return a summary.

    ``reuse_frozen`` computes the frozen lower layers once per record, ``read_head`` runs the LM head only on
    tokens with a non-zero weight (see the module notes); False runs the full model, or the LM head on every
    position, every step (same result up to float rounding).

    Raises
    ------
    MedunlearnError
        On an empty training set or a NaN/inf loss (the last good checkpoint is kept).
    """
    if not records:
        raise MedunlearnError(f"{desc}: no training records")
    torch.manual_seed(cfg.seed)
    names = trainable_names(model, cfg.train_layers)
    wanted = set(names)
    for name, param in model.named_parameters():
        param.requires_grad_(name in wanted)
    params = [p for n, p in model.named_parameters() if n in wanted]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    stream = BatchStream(
        TokenDataset(records), cfg.batch_size, seed=cfg.seed, pad_id=pad_id, length_groups=cfg.length_groups
    )
    total = max(1, math.ceil(cfg.epochs * len(records) / cfg.batch_size))
    ckpt = workdir / "checkpoint"
    step, losses = 0, list[float]()
    if ckpt.exists():
        step, losses = _load_checkpoint(ckpt, model, optimizer, stream)
    start = time.perf_counter()
    first = first_trained_layer(model, names) if reuse_frozen else None
    read_head = read_head and supported(model)
    states = None
    frozen_seconds = 0.0
    if first is not None and step < total:
        model.eval()  # no dropout in the frozen layers' cached output
        states = frozen_states(model, records, first, pad_id=pad_id, batch_size=cfg.batch_size)
        frozen_seconds = time.perf_counter() - start
    model.train()
    progress = bar(desc=desc, total=total, unit="step")
    progress.update(step)
    while step < total:
        batch = stream.next_batch()
        weights = batch["weight"][:, 1:] * (batch["labels"][:, 1:] != -100)
        out = None  # the decoder's output, when the LM head runs apart from it
        if states is not None and first is not None:
            hidden = pad_states(states, batch["index"], batch["input_ids"].shape[1])
            out = top_hidden(model, first, hidden, batch["attention_mask"])
        elif read_head:
            out = full_hidden(model, batch["input_ids"], batch["attention_mask"])
        if out is None:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logp = token_logprobs(logits, batch["labels"])
        elif read_head:
            logp = head_logprobs(model, out, batch["labels"], weights != 0)
        else:
            lm_head: Any = model.lm_head
            logp = token_logprobs(lm_head(out), batch["labels"])
        loss = nll_loss(logp, weights)
        if not torch.isfinite(loss):
            raise MedunlearnError(
                f"{desc}: loss became {loss.item()} at step {step + 1}; last good checkpoint kept in {ckpt}"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        losses.append(float(loss.item()))
        progress.update(1)
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
        if step % cfg.checkpoint_every == 0 or step == total:
            state = {
                "optimizer": optimizer.state_dict(),
                "stream": stream.state_dict(),
                "step": step,
                "losses": losses,
            }
            _save_checkpoint(ckpt, model, names, state)
    progress.close()
    model.eval()
    for param in model.parameters():
        param.requires_grad_(True)
    return {
        "steps": step,
        "final_loss": losses[-1] if losses else None,
        "losses": losses,
        "trainable_parameters": int(sum(p.numel() for p in params)),
        "seconds_this_session": time.perf_counter() - start,
        "frozen_seconds": frozen_seconds,  # the one-off pass through the frozen layers, included above
    }
