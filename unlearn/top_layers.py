"""Training passes that skip what cannot change the loss: the frozen lower layers and the unread LM-head rows.

Shared by fine-tuning (:mod:`unlearn.finetune`: memorize, oracle, relearn) and the unlearning trainer
(:mod:`unlearn.trainer.loop`):

- **Frozen prefix.** When every trained parameter lies in decoder layers ``first`` and above (the suites train
  SmolLM2's top 8 of 30 layers), the hidden states entering layer ``first`` depend on the record alone, so they
  are computed once per record (:func:`frozen_states`) and each step runs the top layers only
  (:func:`top_hidden`).
- **LM head on read positions.** The LM head (49,152 × 576 on SmolLM2) and the log-softmax over the vocabulary
  run only on the positions whose log-probability a loss reads (:func:`head_logprobs`): never on padding, and in
  fine-tuning only where the token weight is non-zero.

Both give the log-probabilities of a full forward pass up to float rounding (``tests/unlearn/test_top_layers.py``).
They apply to the decoder families in :data:`DECODERS`, whose causal LM is ``lm_head(model(…))`` and whose
decoder takes the hidden states as ``inputs_embeds`` unchanged; other models take the full pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ontology.common.errors import MedunlearnError
from unlearn.losses import IGNORE_INDEX

#: ``config.model_type`` of the models whose logits are exactly ``lm_head(decoder output)`` (no logit scale or
#: soft-capping) and whose decoder does not rescale ``inputs_embeds``
DECODERS = ("llama", "mistral", "qwen2", "qwen3")


def supported(model: torch.nn.Module) -> bool:
    """True for a Hugging Face decoder of :data:`DECODERS` with ``model.layers`` and ``lm_head``."""
    config = getattr(model, "config", None)
    layers = getattr(getattr(model, "model", None), "layers", None)
    return (
        getattr(config, "model_type", None) in DECODERS
        and isinstance(layers, torch.nn.ModuleList)
        and isinstance(getattr(model, "lm_head", None), torch.nn.Linear)
    )


def first_trained_layer(model: torch.nn.Module, names: Sequence[str]) -> int | None:
    """The lowest decoder layer holding a trained parameter (``names``), when nothing below it and outside the
    layers trains (the final norm may); ``None`` when the frozen-prefix shortcut does not apply."""
    if not supported(model):
        return None
    found = [int(m.group(1)) for n in names if (m := re.search(r"^model\.layers\.(\d+)\.", n))]
    others = [n for n in names if not n.startswith("model.layers.") and n != "model.norm.weight"]
    if not found or others or min(found) == 0:
        return None
    return min(found)


class _Captured(Exception):
    def __init__(self, hidden: Tensor) -> None:
        self.hidden = hidden


@torch.no_grad()
def frozen_states(
    model: torch.nn.Module, records: Sequence[Any], first: int, *, pad_id: int, batch_size: int = 8
) -> list[Tensor]:
    """Per record (:class:`unlearn.data.Record`), the hidden states entering decoder layer ``first``
    (``[n_tokens, hidden]``, on the model's device).

    Batches are right-padded, so under causal attention a record's states do not depend on its batch. Call it
    with the model in eval mode (no dropout in what is cached).
    """
    from unlearn.data import TokenDataset, collate

    dataset = TokenDataset(records)
    decoder: Any = model.model
    layer = decoder.layers[first]
    device = next(model.parameters()).device

    def capture(module: Any, args: tuple, kwargs: dict) -> None:
        raise _Captured(args[0] if args else kwargs["hidden_states"])

    handle = layer.register_forward_pre_hook(capture, with_kwargs=True)
    states: list[Tensor] = []
    try:
        for lo in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(lo, min(lo + batch_size, len(dataset)))], pad_id)
            try:
                model(
                    input_ids=batch["input_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device),
                    use_cache=False,
                )
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


def pad_states(states: Sequence[Tensor], index: Tensor, width: int) -> Tensor:
    """The cached states of the records ``index`` as a right-padded ``[B, width, hidden]`` batch."""
    out = states[0].new_zeros((len(index), width, states[0].shape[-1]))
    for row, i in enumerate(index.tolist()):
        out[row, : states[i].shape[0]] = states[i]
    return out


def top_hidden(model: torch.nn.Module, first: int, hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """The decoder's output (after the final norm) of a pass that starts at layer ``first`` from ``hidden``.

    The decoder runs with its lower layers taken out for the call (``inputs_embeds`` = ``hidden``): its own
    causal mask, rotary positions and final norm apply as in a full pass.
    """
    decoder: Any = model.model
    layers = decoder.layers
    decoder.layers = torch.nn.ModuleList(list(layers)[first:])
    try:
        return decoder(inputs_embeds=hidden, attention_mask=attention_mask, use_cache=False).last_hidden_state
    finally:
        decoder.layers = layers


def full_hidden(model: torch.nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """The decoder's output (after the final norm) of a full pass, without the LM head."""
    decoder: Any = model.model
    return decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def head_logprobs(
    model: torch.nn.Module, hidden: Tensor, labels: Tensor, read: Tensor | None = None
) -> Tensor:
    """``log p(labels[:, t+1] | prefix)`` from the decoder output ``hidden`` (``[B, T, H]``), computed only where
    ``read`` (``[B, T-1]``, default: every label that is not ``-100``) is true; 0 elsewhere.

    Equals :func:`unlearn.losses.token_logprobs` of the full logits at the read positions (float rounding aside);
    half-precision logits are upcast to float32 as there.
    """
    target = labels[:, 1:]
    valid = target != IGNORE_INDEX
    read = valid if read is None else read & valid
    rows = hidden[:, :-1][read]
    lm_head: Any = model.lm_head
    logits = lm_head(rows)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    picked = logits.gather(-1, target[read].unsqueeze(-1)).squeeze(-1)
    logp = picked - torch.logsumexp(logits, dim=-1)
    return torch.zeros(target.shape, dtype=logp.dtype, device=logp.device).masked_scatter(read, logp)
