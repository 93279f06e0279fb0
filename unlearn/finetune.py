"""Plain supervised fine-tuning: the *memorize* and *oracle* stages of the benchmark and the demo.

Only the top ``train_layers`` decoder layers (and the final norm) are trained — the calibration in
``docs/method-choices.md``: SmolLM2's top 8 of 30 layers at lr 3e-4 memorise ~100 short items in 8 epochs.
The layers below never change, so the hidden states entering the first trained layer are computed once per
record (:func:`frozen_states`) and each step runs only the trained layers (:func:`top_logits`): the same
logits as a full forward pass; on SmolLM2 an 8-step run with the one-off pass took 0.88x the time of full
passes (``benchmarks/bench_finetune.py``: the LM head and the top layers' backward pass remain).
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


def _first_trained_layer(model: torch.nn.Module, names: list[str]) -> int | None:
    """Index of the lowest decoder layer with a trained parameter, when everything below it is frozen
    (a Hugging Face decoder with ``model.layers``); None when the frozen-prefix shortcut does not apply."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        return None
    found = [int(m.group(1)) for n in names if (m := re.search(r"^model\.layers\.(\d+)\.", n))]
    others = [n for n in names if not n.startswith("model.layers.") and n != "model.norm.weight"]
    if not found or others or min(found) == 0:
        return None
    return min(found)


class _Captured(Exception):
    def __init__(self, hidden: torch.Tensor) -> None:
        self.hidden = hidden


@torch.no_grad()
def frozen_states(
    model: torch.nn.Module, records: list[Record], first: int, *, pad_id: int, batch_size: int = 8
) -> list[torch.Tensor]:
    """Per record, the hidden states entering decoder layer ``first`` (``[n_tokens, hidden]``).

    Batches are right-padded, so under causal attention a record's states do not depend on its batch.
    """
    from unlearn.data import collate

    dataset = TokenDataset(records)
    decoder: Any = model.model
    layer = decoder.layers[first]

    def capture(module: Any, args: tuple, kwargs: dict) -> None:
        raise _Captured(args[0] if args else kwargs["hidden_states"])

    handle = layer.register_forward_pre_hook(capture, with_kwargs=True)
    states: list[torch.Tensor] = []
    try:
        for lo in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(lo, min(lo + batch_size, len(dataset)))], pad_id)
            try:
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
            except _Captured as got:
                lengths = batch["attention_mask"].sum(1).tolist()
                states += [got.hidden[i, :n].detach().clone() for i, n in enumerate(lengths)]
            else:
                raise MedunlearnError(
                    f"decoder layer {first} was never called: cannot reuse the frozen layers"
                )
    finally:
        handle.remove()
    return states


def top_logits(
    model: torch.nn.Module, first: int, hidden: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Logits of a forward pass that starts at decoder layer ``first`` from the given hidden states.

    The model runs with its lower layers taken out for the call (``inputs_embeds`` = ``hidden``): its own
    causal mask, rotary positions, final norm and LM head apply as in a full pass.
    """
    decoder: Any = model.model
    layers = decoder.layers
    decoder.layers = torch.nn.ModuleList(list(layers)[first:])
    try:
        return model(inputs_embeds=hidden, attention_mask=attention_mask, use_cache=False).logits
    finally:
        decoder.layers = layers


def _pad_states(states: list[torch.Tensor], index: torch.Tensor, width: int) -> torch.Tensor:
    out = torch.zeros((len(index), width, states[0].shape[-1]), dtype=states[0].dtype)
    for row, i in enumerate(index.tolist()):
        out[row, : states[i].shape[0]] = states[i]
    return out


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
) -> dict[str, Any]:
    """Fine-tune ``model`` in place on ``records`` (token-weighted NLL); return a summary.

    ``reuse_frozen`` computes the frozen lower layers once per record (see the module notes); False runs
    the full model every step (same result up to float rounding).

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
    stream = BatchStream(TokenDataset(records), cfg.batch_size, seed=cfg.seed, pad_id=pad_id)
    total = max(1, math.ceil(cfg.epochs * len(records) / cfg.batch_size))
    ckpt = workdir / "checkpoint"
    step, losses = 0, list[float]()
    if ckpt.exists():
        step, losses = _load_checkpoint(ckpt, model, optimizer, stream)
    start = time.perf_counter()
    first = _first_trained_layer(model, names) if reuse_frozen else None
    states = None
    if first is not None and step < total:
        model.eval()  # no dropout in the frozen layers' cached output
        states = frozen_states(model, records, first, pad_id=pad_id, batch_size=cfg.batch_size)
    model.train()
    progress = bar(desc=desc, total=total, unit="step")
    progress.update(step)
    while step < total:
        batch = stream.next_batch()
        if states is not None and first is not None:
            hidden = _pad_states(states, batch["index"], batch["input_ids"].shape[1])
            logits = top_logits(model, first, hidden, batch["attention_mask"])
        else:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logp = token_logprobs(logits, batch["labels"])
        weights = batch["weight"][:, 1:] * (batch["labels"][:, 1:] != -100)
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
    }
