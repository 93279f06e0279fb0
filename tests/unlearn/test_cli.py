"""The console script: groups listed, bad input as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

GROUPS = ["ontology", "hierarchy", "unlearn", "eval", "model", "demo"]


def _run(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if env_home is not None:
        env["MEDUNLEARN_HOME"] = str(env_home)
    return subprocess.run(
        [sys.executable, "-m", "unlearn", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_help_lists_every_group() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for group in GROUPS:
        assert group in out.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_has_help(group: str) -> None:
    out = _run(group, "--help")
    assert out.returncode == 0, out.stderr


@pytest.mark.slow  # console-script processes
def test_model_list_json_and_error_line(tmp_path: Path) -> None:
    import json

    out = _run("model", "list", "--json", env_home=tmp_path)
    rows = json.loads(out.stdout)
    assert {r["name"] for r in rows} >= {"smollm2", "tiny-llama"}
    assert all(r["cached"] is None for r in rows)
    smollm2 = next(r for r in rows if r["name"] == "smollm2")["description"]
    assert "Q4_1 GGUF" in smollm2 and "de-quantised to fp32" in smollm2  # what the weights really are
    assert "Q4_1 GGUF" in _run("model", "list", env_home=tmp_path).stdout
    bad = _run("model", "prepare", "no-such-model", env_home=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: no-such-model: unknown model; use one of smollm2, tiny-llama, "
        "a local model directory or a .gguf file"
    ]


@pytest.mark.slow  # the demo in a console-script process
def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    """sysfs refuses new directories even to root: the demo stops at its first stage with one line."""
    import os

    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no sysfs to stand for a read-only location")
    out = _run("-q", "demo", "--model", "tiny-llama", "--out", "/sys/medunlearn-demo", env_home=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: /sys/medunlearn-demo/tiny-llama-surgery/stages/")
    assert "cannot create the stage directory" in lines[0]


def test_disk_full_during_a_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import errno

    from unlearn import cli

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "model.safetensors"))

    monkeypatch.setattr(cli, "app", full)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"error: {tmp_path / 'model.safetensors'}: No space left on device; finished stages"
    )


def _file_size_limit(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG, as a full disk fails them with ENOSPC."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow  # a console-script process preparing the tiny model
def test_a_failing_model_write_is_one_line(tmp_path: Path) -> None:
    """The model file is written by safetensors' Rust writer inside ``save_pretrained``: before its I/O errors
    were mapped to OSError, a full disk there gave a SafetensorError traceback. A file-size limit makes the
    same writer fail the same way (small files still succeed), so the whole command runs for real."""
    import os

    env = dict(os.environ, MEDUNLEARN_HOME=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-m", "unlearn", "model", "prepare", "tiny-llama"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        preexec_fn=lambda: _file_size_limit(100_000),
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    cache = tmp_path / "models" / "tiny-llama"
    assert lines[0].startswith(f"error: {cache}: File too large (disk quota or file-size limit)")
    assert not cache.exists()  # the half-written model stayed in the removed temporary directory
    assert [p for p in cache.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.usefixtures("home")
def test_hierarchy_masks_takes_a_prepared_model_name(tmp_path: Path) -> None:
    """hierarchy reads tokenizer directories only; the `medunlearn` script maps registry names to them."""
    from hierarchy.levels import build_hierarchy
    from hierarchy.store import write_hierarchy
    from ontology.graph import ConceptGraph
    from unlearn.cli import app
    from unlearn.models import prepare

    prepare("tiny-llama")
    cg = ConceptGraph()
    cg.add_concept("X:panic", "Panic Disorder")
    write_hierarchy(build_hierarchy(cg), tmp_path / "HIER")
    spans = tmp_path / "s.jsonl"
    spans.write_text(
        json.dumps({"doc_id": "d", "text": "panic disorder", "spans": []}) + "\n", encoding="utf-8"
    )
    args = ["hierarchy", "masks", str(spans), "--hierarchy", str(tmp_path / "HIER"), "--scope", "X:panic"]
    res = CliRunner().invoke(
        app, [*args, "--tokenizer", "tiny-llama", "-o", str(tmp_path / "m.parquet"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["documents"] == 1
