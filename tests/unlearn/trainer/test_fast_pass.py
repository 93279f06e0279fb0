"""``train.fast_pass``: every method takes the same steps with it as with full forward passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.unlearn.engine_helpers import FORGET_TEXTS, RETAIN_TEXTS, run_config, write_jsonl, write_masks
from unlearn.methods import METHODS
from unlearn.models import load_model
from unlearn.trainer import Unlearner

torch.set_num_threads(1)
pytestmark = pytest.mark.usefixtures("home")


@pytest.fixture()
def data(home: Path, tmp_path: Path) -> tuple[Path, Path]:
    _, tok = load_model("tiny-llama")
    masks = write_masks(tmp_path / "forget.parquet", tok, FORGET_TEXTS)
    retain = write_jsonl(tmp_path / "retain.jsonl", [{"text": t} for t in RETAIN_TEXTS])
    return masks, retain


def _run(tmp: Path, data: tuple[Path, Path], method: str, fast: bool) -> Unlearner:
    masks, retain = data
    train = {"steps": 4, "layers": [1], "fast_pass": fast, "checkpoint_every": 10}
    name, _, term = method.partition("+")
    options = {"forget_loss": term, "forget_context_weight": 1.0} if term else {}
    cfg = run_config(tmp / str(fast), masks, [retain], name, train=train, method=options)
    run = Unlearner(cfg)
    run.run()
    return run


@pytest.mark.parametrize("method", [*sorted(METHODS), "dual+ref_kl"])
def test_fast_pass_takes_the_same_steps(method: str, tmp_path: Path, data: tuple[Path, Path]) -> None:
    fast, full = _run(tmp_path, data, method, True), _run(tmp_path, data, method, False)
    assert full.fast is None and fast.fast is not None and fast.fast.first == 1
    for a, b in zip(fast.history, full.history, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (method, a["step"], key)
    weights = dict(full.model.named_parameters())
    for name, value in fast.model.named_parameters():
        torch.testing.assert_close(value, weights[name], atol=1e-6, rtol=1e-4, msg=f"{method} {name}")
    if method != "rmu":  # RMU reads hidden states of its own full passes
        cached = fast.fast.states
        # 4 steps of 2 forget records from 3: every forget record's lower layer ran once, however often drawn
        assert 0 < len(cached["forget"]) <= len(FORGET_TEXTS)


def test_fast_pass_is_off_where_it_does_not_apply(tmp_path: Path, data: tuple[Path, Path]) -> None:
    masks, retain = data
    cfg = run_config(tmp_path, masks, [retain], "graddiff", train={"steps": 1, "lora": {"enabled": True}})
    run = Unlearner(cfg)
    run.run()
    assert run.fast is None
    everything = run_config(tmp_path / "all", masks, [retain], "graddiff", train={"steps": 1})
    run = Unlearner(everything)
    run.run()
    assert run.fast is not None and run.fast.first is None  # every layer trains: the LM head part only
