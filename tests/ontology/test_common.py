"""Shared plumbing: configs, atomic writes, hashing, errors."""

from __future__ import annotations

import errno
import importlib
import json
import os
from pathlib import Path

import pytest
from pydantic import Field

from ontology.common.atomic import atomic_path, atomic_write_json, atomic_write_text
from ontology.common.config import StrictModel, load_config, save_resolved
from ontology.common.errors import ConfigError, InputError, MedunlearnError
from ontology.common.hashing import config_hash, sha256_file


class Train(StrictModel):
    steps: int = 10
    lr: float = 1e-4


class Run(StrictModel):
    model: str
    train: Train = Field(default_factory=Train)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_config_loads_and_hashes(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "model: tiny-llama\ntrain:\n  steps: 3\n"), Run)
    assert cfg.train.steps == 3 and cfg.train.lr == 1e-4
    digest = save_resolved(cfg, tmp_path / "out")
    saved = (tmp_path / "out" / "config.resolved.yaml").read_text()
    assert saved.startswith(f"# config hash: {digest}\n")
    assert digest == cfg.hash() == config_hash({"model": "tiny-llama", "train": {"steps": 3, "lr": 1e-4}})


def test_config_unknown_key_names_file_and_key_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "model: x\ntrain:\n  stepz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, Run)
    assert str(err.value) == f"{path}: train.stepz: unknown key"


def test_config_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "model: x\ntrain:\n  steps: many\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, Run)
    assert str(err.value).startswith(f"{path}: train.steps: Input should be a valid integer")
    assert "'many'" in str(err.value)


def test_config_missing_key_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run.yaml: model: required key is missing"):
        load_config(_write(tmp_path, "train: {}\n"), Run)
    with pytest.raises(ConfigError, match=r"nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml", Run)


def test_config_bad_yaml_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "model: x\ntrain: [1,\n")
    with pytest.raises(ConfigError, match=r"run.yaml:\d+: invalid YAML"):
        load_config(path, Run)


def test_config_overrides(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "model: x\n"), Run, overrides={"train.steps": 7})
    assert cfg.train.steps == 7


def test_atomic_write_keeps_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_directory_replace(tmp_path: Path) -> None:
    target = tmp_path / "d"
    for value in ("one", "two"):
        with atomic_path(target, is_dir=True) as tmp:
            (tmp / "f.txt").write_text(value)
    assert (target / "f.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.EROFS, "cannot write here"),
        (errno.ENOSPC, "no space left on device; nothing already written was lost"),
    ],
)
def test_atomic_write_unwritable_or_full_is_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, expected: str
) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("ontology.common.atomic.tempfile.mkstemp", refuse)
    with pytest.raises(MedunlearnError, match=expected) as err:
        atomic_write_text(target, "new")
    assert str(err.value).startswith(str(target))
    assert target.read_text() == "old"


def test_sha256_and_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert str(InputError("bad", path="f.obo", line=4)) == "f.obo:4: bad"
    assert str(InputError("bad", path="f.obo")) == "f.obo: bad"


@pytest.fixture
def loud(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress output on (the test session runs with MEDUNLEARN_QUIET=1)."""
    mod = importlib.import_module("ontology.common.progress")  # the package exports a function of that name
    monkeypatch.delenv("MEDUNLEARN_QUIET", raising=False)
    monkeypatch.setattr(mod, "_QUIET", False)


def test_progress_off_a_terminal_is_one_plain_line_per_stage(
    loud, capsys: pytest.CaptureFixture[str]
) -> None:
    from ontology.common.progress import StageLine, bar, progress, set_quiet

    assert list(progress(range(5), desc="tagging", unit="doc")) == [0, 1, 2, 3, 4]
    with bar(desc="masks", unit="doc") as b:
        assert isinstance(b, StageLine)
        b.update(3)
    steps = bar(desc="memorize", total=4, unit="step")
    for _ in range(4):
        steps.update(1)
        steps.set_postfix(loss="0.125")
    steps.close()
    steps.close()  # closing twice prints once
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "tagging: 5 doc",
        "masks: 3 doc",
        "memorize: 4/4 step",
    ]
    assert lines[2].endswith(" s, loss=0.125")
    set_quiet(True)
    try:
        list(progress(range(3), desc="quiet"))
        bar(desc="quiet").close()
    finally:
        set_quiet(False)
    assert capsys.readouterr().err == ""


def test_progress_on_a_terminal_is_a_tqdm_bar(loud, monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.auto import tqdm

    mod = importlib.import_module("ontology.common.progress")
    monkeypatch.setattr(mod, "on_terminal", lambda: True)
    b = mod.bar(desc="x", total=2)
    assert isinstance(b, tqdm)
    b.close()
