"""``medunlearn unlearn run | methods | apply-patch | revert-patch``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ontology.common.errors import MedunlearnError
from tests.unlearn.engine_helpers import write_cli_run
from unlearn.cli import app
from unlearn.methods import METHODS
from unlearn.models import prepare
from unlearn.outputs import input_weights

runner = CliRunner()


@pytest.fixture()
def setup(home: Path, tmp_path: Path) -> Path:
    config = write_cli_run(tmp_path, "{steps: 3, batch_size: 2, lr: 0.01, cpu: true}")
    config.write_text(config.read_text() + "output:\n  dir: out\n", encoding="utf-8")
    return tmp_path


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_methods_lists_the_registry() -> None:
    res = runner.invoke(app, ["unlearn", "methods", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert set(rows) == set(METHODS) and rows["dual"]["selection"] == "fisher"
    plain = runner.invoke(app, ["unlearn", "methods"])
    assert all(name in plain.output for name in METHODS)


def test_run_with_overrides_then_patch_round_trip(setup: Path) -> None:
    res = runner.invoke(app, ["unlearn", "run", str(setup / "run.yaml"), "--set", "train.steps=2", "--json"])
    assert res.exit_code == 0, res.output
    manifest = json.loads(res.output)
    assert manifest["steps"] == 2 and manifest["method"] == "dual"
    assert manifest["changed_parameters"] == manifest["mask_size"] > 0
    on_disk = json.loads((setup / "out" / "manifest.json").read_text())
    assert on_disk["config_hash"] == manifest["config_hash"]
    assert (
        (setup / "out" / "config.resolved.yaml")
        .read_text()
        .startswith(f"# config hash: {manifest['config_hash']}")
    )

    original = input_weights(prepare("tiny-llama"))
    unlearned = input_weights(setup / "out" / "model")
    res = runner.invoke(
        app, ["unlearn", "apply-patch", "tiny-llama", str(setup / "out" / "patch"), "-o", str(setup / "p")]
    )
    assert res.exit_code == 0, res.output
    assert _equal(input_weights(setup / "p"), unlearned)
    res = runner.invoke(
        app,
        ["unlearn", "revert-patch", str(setup / "p"), str(setup / "out" / "patch"), "-o", str(setup / "r")],
    )
    assert res.exit_code == 0, res.output
    assert _equal(input_weights(setup / "r"), original)
    # the patch refuses a model it was not made from (applying twice)
    res = runner.invoke(
        app,
        ["unlearn", "apply-patch", str(setup / "p"), str(setup / "out" / "patch"), "-o", str(setup / "x")],
    )
    assert isinstance(res.exception, MedunlearnError) and "not the original" in str(res.exception)


@pytest.mark.slow  # console-script processes
def test_bad_config_is_one_line_exit_2(setup: Path) -> None:
    bad = setup / "bad.yaml"
    bad.write_text("data:\n  forget: forget.parquet\nmethod:\n  name: dual\n  rho: 0\n", encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "unlearn", "unlearn", "run", str(setup / "run.yaml"), "--set", "train.stepz=3"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith(f"error: {setup / 'run.yaml'}: ")
        and "train.stepz: unknown key" in lines[0]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "unlearn", "unlearn", "run", str(bad)],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}: method.rho: Value error, rho must lie in (0, 1] (got 0)"
