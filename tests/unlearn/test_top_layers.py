"""Top layers from cached states and the LM head on read positions: the same log-probabilities and gradients as a
full forward pass on the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from unlearn.data import Record, TokenDataset, collate
from unlearn.losses import nll_loss, token_logprobs
from unlearn.top_layers import (
    first_trained_layer,
    frozen_states,
    full_hidden,
    head_logprobs,
    pad_states,
    supported,
    top_hidden,
)


@pytest.fixture()
def model(home: Path) -> Any:
    from unlearn.models import load_model

    m, _ = load_model("tiny-llama")
    return m.eval()


def _records() -> list[Record]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for i, n in enumerate((9, 5, 7)):
        ids = torch.randint(3, 500, (n,), generator=gen).tolist()
        out.append(Record(str(i), ids, [0] * n, [0] * n, [1.0] * n))
    return out


def _batch(records: list[Record]) -> dict[str, torch.Tensor]:
    dataset = TokenDataset(records)
    return collate([dataset[i] for i in range(len(records))], 0)


def test_top_layers_and_read_head_equal_a_full_pass(model: Any) -> None:
    records = _records()
    states = frozen_states(model, records, 1, pad_id=0, batch_size=2)  # batched 2 + 1: padding is ignored
    assert [s.shape[0] for s in states] == [len(r.input_ids) for r in records]
    batch = _batch(records)
    hidden = pad_states(states, batch["index"], batch["input_ids"].shape[1])
    labels, mask = batch["labels"], batch["attention_mask"]
    with torch.no_grad():
        full = token_logprobs(model(input_ids=batch["input_ids"], attention_mask=mask).logits, labels)
        top = head_logprobs(model, top_hidden(model, 1, hidden, mask), labels)
        whole = head_logprobs(model, full_hidden(model, batch["input_ids"], mask), labels)
        read = torch.zeros_like(full, dtype=torch.bool)
        read[0, 2:5] = read[2, 0] = True
        part = head_logprobs(model, top_hidden(model, 1, hidden, mask), labels, read)
    torch.testing.assert_close(top, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(whole, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(part[read], full[read], atol=1e-5, rtol=1e-5)
    assert torch.equal(part[~read], torch.zeros_like(part[~read]))
    assert torch.equal(top[labels[:, 1:] == -100], torch.zeros_like(top[labels[:, 1:] == -100]))
    assert len(model.model.layers) == model.config.num_hidden_layers  # the layers are put back


def test_gradients_equal_a_full_pass(model: Any) -> None:
    records = _records()
    batch = _batch(records)
    labels, mask = batch["labels"], batch["attention_mask"]
    weights = torch.rand(labels[:, 1:].shape, generator=torch.Generator().manual_seed(1))
    weights[1, :3] = 0.0
    weights = weights * (labels[:, 1:] != -100)
    params = [p for n, p in model.named_parameters() if ".layers.1." in n or n == "model.norm.weight"]
    states = frozen_states(model, records, 1, pad_id=0)

    def grads(loss: torch.Tensor) -> list[torch.Tensor]:
        return [g.clone() for g in torch.autograd.grad(loss, params)]

    full = grads(
        nll_loss(
            token_logprobs(model(input_ids=batch["input_ids"], attention_mask=mask).logits, labels), weights
        )
    )
    out = top_hidden(model, 1, pad_states(states, batch["index"], labels.shape[1]), mask)
    fast = grads(nll_loss(head_logprobs(model, out, labels, weights != 0), weights))
    for a, b in zip(full, fast, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_first_trained_layer(model: Any) -> None:
    top = [n for n, _ in model.named_parameters() if ".layers.1." in n]
    assert first_trained_layer(model, top + ["model.norm.weight"]) == 1
    assert first_trained_layer(model, [n for n, _ in model.named_parameters() if ".layers." in n]) is None
    assert first_trained_layer(model, [*top, "model.embed_tokens.weight"]) is None
    assert first_trained_layer(model, []) is None
    assert supported(model)
    model.config.model_type = "gemma"  # rescales inputs_embeds: the shortcut would be wrong
    assert not supported(model) and first_trained_layer(model, top) is None
