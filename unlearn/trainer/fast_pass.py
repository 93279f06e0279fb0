"""The trainer's forward passes without the work that cannot change a loss (``train.fast_pass``, on by default).

- The LM head and the log-softmax over the vocabulary run on the non-padding positions only
  (:func:`unlearn.top_layers.head_logprobs`).
- When every trainable parameter lies in decoder layers ``first`` and above (the suites train SmolLM2's layers
  22–29 of 30), the hidden states entering layer ``first`` depend on the record alone: they are cached the first
  time a forget or retain batch holds the record, and every later pass of that record runs the top layers only
  (:func:`unlearn.top_layers.top_hidden`). A record drawn once costs what a full pass costs; the forget records,
  drawn ``steps × batch / records`` times, run their lower layers once.

The log-probabilities equal the full pass's up to float rounding (``tests/unlearn/trainer/test_fast_pass.py``).
It applies on one process without LoRA, FSDP, DP or gradient checkpointing, to the decoders of
:data:`unlearn.top_layers.DECODERS`; elsewhere the trainer takes the full pass. Passes outside the step loop
(reference log-probabilities, Fisher selection, RMU's hidden states) take the full pass too, and so does
``dual``'s ``ref_kl`` forget term, which reads whole logits (``Unlearner.logits``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from unlearn.data import Record
from unlearn.methods.base import Batch
from unlearn.top_layers import (
    first_trained_layer,
    frozen_states,
    full_hidden,
    head_logprobs,
    pad_states,
    supported,
    top_hidden,
)


@dataclass
class FastPass:
    """Cached lower-layer states per part (``forget``/``retain``) and the passes that use them.

    The trainer marks each step's batches with their part (:meth:`mark`); a pass over a marked batch reads the
    cached states of its records, computing them for records seen for the first time.
    """

    model: nn.Module
    first: int | None
    records: Mapping[str, Sequence[Record]]
    pad_id: int
    batch_size: int = 8
    states: dict[str, dict[int, Tensor]] = field(default_factory=dict)
    _marked: dict[int, tuple[str, Batch]] = field(default_factory=dict)

    def mark(self, batches: Mapping[str, Batch | None]) -> None:
        """The batches of the coming micro-step by part (the marks of the previous one are dropped)."""
        self._marked = {id(b): (part, b) for part, b in batches.items() if b is not None}

    def _hidden(self, batch: Batch, part: str) -> Tensor:
        assert self.first is not None
        cache = self.states.setdefault(part, {})
        index = batch["index"].tolist()
        missing = [i for i in dict.fromkeys(index) if i not in cache]
        if missing:
            training = self.model.training
            self.model.eval()  # what is cached is the lower layers' deterministic output
            try:
                found = frozen_states(
                    self.model, [self.records[part][i] for i in missing], self.first, pad_id=self.pad_id,
                    batch_size=self.batch_size,
                )  # fmt: skip
            finally:
                self.model.train(training)
            cache.update(zip(missing, found, strict=True))
        return pad_states([cache[i] for i in index], torch.arange(len(index)), batch["input_ids"].shape[1])

    def _output(self, batch: Batch, device: Any) -> Tensor:
        """The decoder's output on the batch: the top layers from cached states when the batch is marked."""
        mask = batch["attention_mask"].to(device)
        marked = self._marked.get(id(batch))
        if self.first is not None and marked is not None and marked[1] is batch:
            return top_hidden(self.model, self.first, self._hidden(batch, marked[0]).to(device), mask)
        return full_hidden(self.model, batch["input_ids"].to(device), mask)

    def logits(self, batch: Batch, device: Any) -> Tensor:
        """The logits of every position, as the full pass gives (for forget terms that read whole
        distributions, such as ``ref_kl``)."""
        model: Any = self.model  # a Hugging Face causal LM (nn.Module's typing hides its methods)
        return model.get_output_embeddings()(self._output(batch, device))

    def token_logprobs(self, batch: Batch, device: Any) -> Tensor:
        """``log p(x_t | x_<t)`` on the batch's non-padding positions (0 on padding), as the full pass gives."""
        return head_logprobs(self.model, self._output(batch, device), batch["labels"].to(device))


def fast_pass(run: Any, trainable: Sequence[str]) -> FastPass | None:
    """The run's :class:`FastPass`, or ``None`` when ``train.fast_pass`` is off or does not apply (see the
    module notes); ``trainable`` names every parameter that may change."""
    cfg = run.cfg
    t = cfg.train
    applies = (
        t.fast_pass
        and not t.lora.enabled
        and not t.dp.enabled
        and not cfg.model.gradient_checkpointing
        and not run.sharded
        and run.accelerator.num_processes == 1
        and supported(run.model)
    )
    if not applies:
        return None
    records = {"forget": run.data.forget.records, "retain": run.data.retain.records}
    first = first_trained_layer(run.model, trainable)
    return FastPass(run.model, first, records, run.pad_id, t.batch_size)
