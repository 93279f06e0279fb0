"""Slow: on the real SmolLM2-135M, ``dual`` removes memorised target tokens far more than preserved ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unlearn.engine_helpers import (
    FORGET_TEXTS,
    RETAIN_TEXTS,
    role_logprob,
    run_config,
    write_jsonl,
    write_masks,
)
from unlearn.finetune import FinetuneConfig, finetune
from unlearn.harness import text_records
from unlearn.models import load_model
from unlearn.outputs import save_model
from unlearn.trainer import Unlearner

TOP = list(range(26, 30))  # SmolLM2 has 30 decoder layers: memorise and unlearn in the top four


@pytest.mark.slow
def test_dual_on_smollm2_forgets_targets_not_preserved_tokens(tmp_path: Path) -> None:
    model, tok = load_model("smollm2")  # the default cache: converted at most once per machine
    docs = [{"doc_id": str(i), "text": t} for i, t in enumerate(FORGET_TEXTS + RETAIN_TEXTS)]
    recipe = FinetuneConfig(epochs=12, batch_size=7, lr=5e-4, train_layers=4)
    finetune(model, text_records(tok, docs), recipe, tmp_path / "memo", pad_id=tok.pad_token_id)
    save_model(model, tok, tmp_path / "memorised")
    masks = write_masks(tmp_path / "forget.parquet", tok, FORGET_TEXTS)
    retain = write_jsonl(tmp_path / "retain.jsonl", [{"text": t} for t in RETAIN_TEXTS])
    before = role_logprob(model, masks)
    cfg = run_config(
        tmp_path,
        masks,
        [retain],
        model={"name": str(tmp_path / "memorised")},
        method={"fisher_batches": 1},
        train={"steps": 8, "batch_size": 3, "lr": 1e-3, "layers": TOP},
    )
    result = Unlearner(cfg).run()
    after = role_logprob(load_model(tmp_path / "out" / "model")[0], masks)
    drop_target, drop_preserve = before[2] - after[2], before[1] - after[1]
    assert drop_target > 2.0  # nats per target token
    assert drop_target > 10 * max(drop_preserve, 0.05)
    m = result.manifest
    assert m is not None and m["changed_parameters"] == m["mask_size"]
    assert m["changed_fraction"] <= 0.001
