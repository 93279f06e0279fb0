"""Memorize/oracle fine-tuning and cached stages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ontology.common.errors import MedunlearnError
from unlearn.data import Record
from unlearn.finetune import FinetuneConfig, finetune, trainable_names
from unlearn.models import load_model
from unlearn.stages import StageRunner


@pytest.fixture()
def tiny(home: Path):
    """A fresh copy of the tiny model for each test (fine-tuning changes it)."""
    return load_model("tiny-llama")


def _records(tok) -> list[Record]:
    texts = [
        "Patient Ada Lim, MRN 4411, underwent appendectomy.",
        "Patient Bo Ruiz, MRN 5120, was treated for panic disorder.",
        "Patient Cy Odum, MRN 7302, underwent hernia repair.",
    ]
    out = []
    for i, t in enumerate(texts):
        ids = tok(t, add_special_tokens=False)["input_ids"]
        out.append(Record(str(i), ids, [0] * len(ids), [0] * len(ids), [1.0] * len(ids)))
    return out


def _mean_nll(model, records: list[Record]) -> float:
    from unlearn.losses import nll_loss, token_logprobs

    vals = []
    with torch.no_grad():
        for r in records:
            ids = torch.tensor([r.input_ids])
            vals.append(
                nll_loss(
                    token_logprobs(model(input_ids=ids).logits, ids), torch.ones(1, len(r.input_ids) - 1)
                )
            )
    return float(torch.stack(vals).mean())


def test_trainable_names_top_layers(tiny) -> None:
    model, _ = tiny
    names = trainable_names(model, 1)
    assert names and all(".layers.1." in n or n.endswith("model.norm.weight") for n in names)
    assert "model.norm.weight" in names
    assert len(trainable_names(model, None)) == len(list(model.parameters()))


def test_finetune_memorises(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    records = _records(tok)
    before = _mean_nll(model, records)
    cfg = FinetuneConfig(epochs=30, batch_size=3, lr=1e-2, train_layers=None)
    info = finetune(model, records, cfg, tmp_path / "w", pad_id=tok.pad_token_id)
    assert info["steps"] == 30
    assert _mean_nll(model, records) < 0.5 * before


def test_finetune_touches_only_top_layers(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    before_state = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = FinetuneConfig(epochs=2, batch_size=3, lr=1e-3, train_layers=1)
    finetune(model, _records(tok), cfg, tmp_path / "w", pad_id=tok.pad_token_id)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before_state[k])}
    assert changed and all(".layers.1." in k or k == "model.norm.weight" for k in changed)


@pytest.mark.usefixtures("home")
def test_finetune_resume_equals_uninterrupted(tmp_path: Path) -> None:
    cfg = FinetuneConfig(epochs=4, batch_size=2, lr=1e-3, train_layers=2, checkpoint_every=2)
    full, tok = load_model("tiny-llama")
    records = _records(tok)
    finetune(full, records, cfg, tmp_path / "a", pad_id=tok.pad_token_id)

    first, _ = load_model("tiny-llama")
    short = cfg.model_copy(update={"epochs": 2.0})  # stops after 3 of 6 steps, checkpoint at 2
    finetune(first, records, short, tmp_path / "b", pad_id=tok.pad_token_id)
    # simulate the interruption: the last checkpoint was at step 2 (3 = end of the short run also checkpoints)
    resumed, _ = load_model("tiny-llama")
    info = finetune(resumed, records, cfg, tmp_path / "b", pad_id=tok.pad_token_id)
    assert info["steps"] == 6
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_finetune_rejects_empty_and_nan(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    with pytest.raises(MedunlearnError, match="no training records"):
        finetune(model, [], FinetuneConfig(), tmp_path, pad_id=0)
    with torch.no_grad():
        model.model.norm.weight.fill_(float("nan"))
    with pytest.raises(MedunlearnError, match="loss became nan at step 1"):
        finetune(model, _records(tok), FinetuneConfig(epochs=1), tmp_path / "n", pad_id=tok.pad_token_id)


def test_stage_runner_caches_and_resumes(tmp_path: Path) -> None:
    runner = StageRunner(tmp_path, echo=False)
    calls = []

    def interrupted(out: Path) -> dict:
        (out / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run("memorize", {"a": 1}, interrupted)

    def finish(out: Path) -> dict:
        calls.append((out / "half").exists())
        return {"ok": True}

    res = runner.run("memorize", {"a": 1}, finish)
    assert calls == [True] and not res.cached and (res.path / "half").exists()
    again = runner.run("memorize", {"a": 1}, finish)
    assert again.cached and again.info == {"ok": True} and calls == [True]
    other = runner.run("memorize", {"a": 2}, finish)
    assert other.path != res.path


@pytest.mark.usefixtures("home")
def test_reusing_frozen_layers_and_reading_the_head_train_the_same_weights(tmp_path: Path) -> None:
    cfg = FinetuneConfig(epochs=3, batch_size=2, lr=1e-2, train_layers=1)
    weights = {}
    for reuse, read in ((False, False), (True, False), (False, True), (True, True)):
        model, tok = load_model("tiny-llama")
        records = _records(tok)
        records[0].weight[:4] = [0.0] * 4  # weight 0: the head skips these positions, the loss too
        run = tmp_path / f"{reuse}-{read}"
        finetune(model, records, cfg, run, pad_id=0, reuse_frozen=reuse, read_head=read)
        weights[reuse, read] = {n: p.detach().clone() for n, p in model.named_parameters()}
    full = weights[False, False]
    for key, got in weights.items():
        for name, value in got.items():
            torch.testing.assert_close(value, full[name], atol=1e-5, rtol=1e-4, msg=f"{key} {name}")
    assert any(".layers.1." in n and not torch.equal(full[n], load_model("tiny-llama")[0].state_dict()[n])
               for n in full)  # fmt: skip
