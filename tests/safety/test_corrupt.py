"""Corrupt artefacts, impossible configs, oversized input and ``--strict`` through the console script: each ends
in one line naming the file and line or the key (exit 2), never a traceback; ``validate`` lists graph errors
(exit 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.safety.artefacts import snapshot, tiny_patch, write_obo
from tests.safety.console import medunlearn, one_line_error

pytestmark = pytest.mark.slow  # console-script processes

BROKEN_OBO = {
    "cycle": ("[Term]\nid: X:1\nname: a\nis_a: X:2\n\n[Term]\nid: X:2\nname: b\nis_a: X:1\n", "is_a cycle: X:1"),
    "duplicate_id": ("[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:1\nname: b\n", ":6: duplicate id X:1"),
    "dangling_parent": ("[Term]\nid: X:1\nname: a\nis_a: X:9\n", ":4: is_a target X:9 is not a term"),
}  # fmt: skip


@pytest.mark.parametrize("code", list(BROKEN_OBO))
def test_strict_fails_and_validate_lists(tmp_path: Path, code: str) -> None:
    text, expected = BROKEN_OBO[code]
    src = write_obo(tmp_path / "x.obo", text)
    one_line_error(
        medunlearn("ontology", "build", src, "--strict", "-o", tmp_path / "g"), "--strict", expected
    )
    assert not (tmp_path / "g").exists()
    checked = medunlearn("ontology", "validate", src)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"error: {code}:" in checked.stdout + checked.stderr
    assert medunlearn("ontology", "build", src, "-o", tmp_path / "g").returncode == 0  # tolerant: built


def test_a_line_over_the_limit_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A huge single-line JSONL (here: over a lowered limit) stops at once, naming file and line."""
    monkeypatch.setenv("MEDUNLEARN_MAX_LINE_BYTES", "1000")
    graph = write_obo(tmp_path / "x.obo")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "heart disease"}\n' + json.dumps({"text": "valve " * 400}) + "\n")
    one_line_error(
        medunlearn("hierarchy", "tag", graph, corpus, "-o", tmp_path / "s.jsonl"),
        f"{corpus}:2: line longer than 1,000 bytes",
    )
    write_obo(graph, "[Term]\nid: X:1\nname: " + "a" * 2000 + "\n")
    one_line_error(medunlearn("ontology", "build", graph, "-o", tmp_path / "g"), f"{graph}:3: line longer")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.adam_betas=[1.5, 0.9]", "train.adam_betas[0]: Input should be less than 1"),
        ("train.lr=.inf", "train.lr: Input should be a finite number"),
        ("train.lr=0", "train.lr: Input should be greater than 0"),
        ("method.name=[dual]", "expected a method name"),
        ("model=5", "model"),
    ],
)
def test_configs_that_cannot_be_right_are_refused(tmp_path: Path, override: str, expected: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("data:\n  forget: forget.parquet\ntrain: {steps: 2}\n")
    one_line_error(medunlearn("unlearn", "run", config, "--set", override), str(config), expected)


def test_set_into_a_scalar_section(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("data:\n  forget: forget.parquet\ntrain: 5\n")
    one_line_error(
        medunlearn("unlearn", "run", config, "--set", "train.steps=2"), str(config), "train is not a section"
    )


def test_garbage_hierarchy_and_masks(tmp_path: Path) -> None:
    graph = write_obo(tmp_path / "x.obo")
    hier = tmp_path / "hier"
    assert medunlearn("hierarchy", "build", graph, "-o", hier).returncode == 0
    (hier / "levels.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    one_line_error(medunlearn("hierarchy", "stats", hier), str(hier / "levels.parquet"))
    masks = tmp_path / "m.parquet"
    masks.write_bytes(b"\x00garbage" * 50)
    one_line_error(medunlearn("hierarchy", "masks", "preview", masks), str(masks))


def test_a_garbage_gguf_is_one_line(tmp_path: Path, home: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"not a model at all" * 100)
    one_line_error(medunlearn("model", "prepare", gguf, home=home), str(gguf), "not a GGUF file")


def test_corrupt_patches_and_model_directories(tmp_path: Path, home: Path) -> None:
    model_dir, patch = tiny_patch(tmp_path / "patch")
    manifest = json.loads((patch / "manifest.json").read_text())
    name = next(iter(manifest["tensors"]))
    manifest["tensors"][name]["shape"] = [2]  # the indices now lie outside the tensor
    (patch / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(
        medunlearn("unlearn", "apply-patch", model_dir, patch, "-o", tmp_path / "o1", home=home),
        str(patch / "manifest.json"),
        "indices must increase strictly within 0..1",
    )
    (patch / "manifest.json").write_text("[1, 2, 3]")
    one_line_error(
        medunlearn("unlearn", "apply-patch", model_dir, patch, "-o", tmp_path / "o2", home=home),
        "unknown patch format",
    )
    good_model, good_patch = tiny_patch(tmp_path / "patch2")
    for file, data, expected in [
        ("config.json", b"{not json", "config.json: not valid JSON"),
        ("config.json", b"[]", "config.json: not a model config"),
        ("model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!", "not a readable safetensors file"),
    ]:
        broken = tmp_path / "model"
        shutil.rmtree(broken, ignore_errors=True)
        shutil.copytree(good_model, broken)
        (broken / file).write_bytes(data)
        one_line_error(
            medunlearn("unlearn", "apply-patch", broken, good_patch, "-o", tmp_path / "o3", home=home),
            expected,
        )


def test_a_corrupt_cached_stage_is_one_line(tmp_path: Path, home: Path, shared_data: Path) -> None:
    """A cached stage whose stage.json is truncated is refused naming it (exit 2): not trusted, not run again
    over its outputs, and no other stage or file is touched."""
    out = tmp_path / "suite"
    args = ("eval", "suite", "medmcqa-surgery", "--size", "smoke", "--until", "masks", "--out", out)
    first = medunlearn(*args, home=home)
    assert first.returncode == 0, first.stderr
    record = next((out / "stages").glob("hierarchy-*")) / "stage.json"
    record.write_bytes(record.read_bytes()[:20])
    before, stages = snapshot(out), sorted((out / "stages").iterdir())
    again = medunlearn(*args, home=home)
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert errors == [again.stderr.strip().splitlines()[-1]], again.stderr
    assert errors[0].startswith(f"error: {record}: not a finished stage's record"), errors
    assert f"delete {record.parent} to run the stage again" in errors[0]
    assert snapshot(out) == before and sorted((out / "stages").iterdir()) == stages
