"""Offline model registry: tiny model, cache integrity, SmolLM2 conversion and offline reload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ontology.common.errors import MedunlearnError
from unlearn import models
from unlearn.prompts import chat_prompt


def test_tiny_llama_prepare_and_load(home: Path) -> None:
    path = models.prepare("tiny-llama")
    assert path == home / "models" / "tiny-llama"
    assert models.verify_cache(path)
    model, tok = models.load_model("tiny-llama")
    assert model.config.num_hidden_layers == 2
    prompt = chat_prompt(tok, "What is surgery?")
    assert prompt.startswith("<|im_start|>user\nWhat is surgery?<|im_end|>\n<|im_start|>assistant\n")
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape[-1] == len(tok)
    assert len(models.tokenizer_hash(tok)) == 64


def test_tiny_llama_is_deterministic(home: Path) -> None:
    first = models.prepare("tiny-llama")
    hashes = dict(models._file_hashes(first))
    models.prepare("tiny-llama", force=True)
    assert models._file_hashes(first)["model.safetensors"] == hashes["model.safetensors"]


def test_corrupted_cache_is_rebuilt(home: Path) -> None:
    path = models.prepare("tiny-llama")
    weights = path / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-10] + b"0123456789")
    assert not models.verify_cache(path)
    models.prepare("tiny-llama")
    assert weights.read_bytes() == good
    assert models.verify_cache(path)


def test_unknown_model_and_bad_paths(home: Path, tmp_path: Path) -> None:
    with pytest.raises(MedunlearnError, match="unknown model; use one of smollm2, tiny-llama"):
        models.prepare("gpt-17")
    with pytest.raises(MedunlearnError, match="not a Hugging Face model directory"):
        models.prepare(tmp_path)
    with pytest.raises(MedunlearnError, match="no such file"):
        models.prepare(tmp_path / "missing.gguf")


@pytest.mark.slow
def test_smollm2_converts_once_and_reloads_offline_in_another_process() -> None:
    """Uses the default cache: conversion happens at most once per machine."""
    path = models.prepare("smollm2")
    assert models.verify_cache(path)
    assert not (path / "tokenizer.model").exists()
    code = (
        "from unlearn.models import load_model, answer;"
        "m, tok = load_model('smollm2');"
        "print(answer(m, tok, 'Which organ does an appendectomy remove?', max_new_tokens=24))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    # a process without gguf importable proves the cached copy is used
    env["PYTHONPATH"] = ""
    out = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['gguf'] = None;" + code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "append" in out.stdout.lower()


def test_tokenizer_hash_ignores_padding_state(home: Path) -> None:
    tok = models.load_tokenizer("tiny-llama")
    before = models.tokenizer_hash(tok)
    tok(["a", "a longer text"], padding=True)
    tok(["x y z"], truncation=True, max_length=2)
    assert models.tokenizer_hash(tok) == before
    other = models._build_tiny_tokenizer(vocab_size=400)
    assert models.tokenizer_hash(other) != before
