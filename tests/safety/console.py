"""The real console script, run as a user (or an attacker) runs it, and what a one-line error looks like."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("medunlearn")
#: the checkout under test: the console script imports from it even when the venv's editable install points at
#: another checkout (a git worktree)
ROOT = Path(__file__).resolve().parents[2]


def medunlearn(
    *args: str | Path, home: Path | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``medunlearn ARGS`` in a fresh process; ``home`` becomes ``$MEDUNLEARN_HOME``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MEDUNLEARN_QUIET="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    if home is not None:
        env["MEDUNLEARN_HOME"] = str(home)
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


def one_line_error(done: subprocess.CompletedProcess[str], *expected: str, code: int = 2) -> str:
    """Assert exit ``code`` and a stderr whose only error is one ``error:`` line containing ``expected``;
    return that line."""
    err = done.stderr
    assert done.returncode == code, (done.returncode, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.strip().splitlines() if not line.startswith(("INFO ", "WARNING "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


class _Payload:
    """Unpickling this runs ``touch MARKER``: what a forged checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def pickle_payload(marker: Path) -> bytes:
    """A pickle that creates ``marker`` when loaded (``torch.load(weights_only=False)``, ``pickle.load``)."""
    return pickle.dumps(_Payload(marker))
