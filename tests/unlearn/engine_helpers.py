"""Helpers for the unlearning-engine tests: MASKS files for the tiny model, memorisation, run configs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from hierarchy.masks import MASKS_SCHEMA
from unlearn.config import RunConfig
from unlearn.losses import token_logprobs
from unlearn.models import tokenizer_hash

# forget texts: the L4 procedure names are targets, "patient"/"surgery" are preserved (L1/L2)
FORGET_TEXTS = [
    "The patient had surgery: a laparoscopic cholecystectomy removed the gallbladder.",
    "After surgery the patient recovered from the appendectomy in two weeks.",
    "The patient needed hernia repair surgery on the abdominal wall.",
]
TARGET_WORDS = ("cholecystectomy", "appendectomy", "hernia repair", "gallbladder")
PRESERVE_WORDS = ("patient", "surgery")
RETAIN_TEXTS = [
    "The heart pumps blood through the arteries.",
    "The lungs exchange oxygen and carbon dioxide.",
    "Depression and panic disorder are mental disorders.",
    "Psychiatry, pediatrics and pharmacology are medical specialties.",
]


def _spans(text: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for w in words for m in re.finditer(re.escape(w), text)]


def mask_rows(tokenizer: Any, texts: list[str]) -> list[dict[str, Any]]:
    """MASKS rows: tokens overlapping a target word get role 2 / level 4 / weight 1, preserve words role 1."""
    rows = []
    for i, text in enumerate(texts):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        targets, keeps = _spans(text, TARGET_WORDS), _spans(text, PRESERVE_WORDS)
        role, level, weight = [], [], []
        for s, e in enc["offset_mapping"]:
            if any(s < b and e > a for a, b in targets):
                role.append(2), level.append(4), weight.append(1.0)
            elif any(s < b and e > a for a, b in keeps):
                role.append(1), level.append(1), weight.append(1.0)
            else:
                role.append(0), level.append(0), weight.append(0.0)
        rows.append(
            {
                "doc_id": f"f{i}",
                "text": text,
                "input_ids": enc["input_ids"],
                "offsets": [list(o) for o in enc["offset_mapping"]],
                "role": role,
                "level": level,
                "weight": weight,
            }
        )
    return rows


def write_masks(
    path: Path, tokenizer: Any, texts: list[str], *, tok_hash: str | None = None, scope: str = "E04"
) -> Path:
    """Write a MASKS Parquet file following the docs/architecture.md contract."""
    rows = mask_rows(tokenizer, texts)
    table = pa.Table.from_pylist(rows, schema=MASKS_SCHEMA)
    meta = {
        "tokenizer_name": "tiny-llama",
        "tokenizer_hash": tok_hash or tokenizer_hash(tokenizer),
        "scope": scope,
        "config_hash": "test",
    }
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def memorise(model: Any, tokenizer: Any, texts: list[str], steps: int = 60, lr: float = 3e-3) -> None:
    """Full fine-tuning of the tiny model on ``texts`` until it knows them."""
    torch.manual_seed(0)
    # pad by hand: tokenizer(..., padding=True) leaves padding settings in the backend JSON (and its hash)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, ids))
    enc = {
        "input_ids": torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i in ids]),
        "attention_mask": torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids]),
    }
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


@torch.no_grad()
def role_logprob(model: Any, masks: Path) -> dict[int, float]:
    """Mean log-probability of the tokens of each role (1 preserve, 2 target) over a MASKS file."""
    table = pq.read_table(masks).to_pylist()
    sums: dict[int, list[float]] = {1: [], 2: []}
    for row in table:
        ids = torch.tensor([row["input_ids"]])
        logp = token_logprobs(model(input_ids=ids).logits, ids)[0]
        for t, r in enumerate(row["role"][1:]):
            if r in sums:
                sums[r].append(float(logp[t]))
    return {r: sum(v) / len(v) for r, v in sums.items()}


def run_config(tmp: Path, forget: Path, retain: list[Path], name: str = "dual", **sections: Any) -> RunConfig:
    """A small run config for the tiny model (CPU, quiet, few steps)."""
    data = {
        "model": {"name": "tiny-llama"},
        "data": {"forget": str(forget), "retain": [str(p) for p in retain]},
    }
    data["method"] = {"name": name, **sections.pop("method", {})}
    data["train"] = {
        "steps": 4,
        "batch_size": 2,
        "lr": 1e-2,
        "cpu": True,
        "checkpoint_every": 2,
        **sections.pop("train", {}),
    }
    data["output"] = {"dir": str(tmp / "out"), **sections.pop("output", {})}
    data.update(sections)
    return RunConfig.model_validate(data)


def write_cli_run(directory: Path, train: str) -> Path:
    """Forget masks, retain JSONL and ``run.yaml`` (tiny model) for ``medunlearn unlearn run``; ``train`` is YAML."""
    from unlearn.models import load_model

    _, tok = load_model("tiny-llama")
    write_masks(directory / "forget.parquet", tok, FORGET_TEXTS)
    write_jsonl(directory / "retain.jsonl", [{"text": t} for t in RETAIN_TEXTS])
    config = directory / "run.yaml"
    config.write_text(
        f"data:\n  forget: forget.parquet\n  retain: [retain.jsonl]\ntrain: {train}\n", encoding="utf-8"
    )
    return config
