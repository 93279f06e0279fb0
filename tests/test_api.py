"""The Python API: the script of docs/api.md runs as written; the package entry points stay cheap to import."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def api_script(repo_root: Path) -> str:
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / "docs/api.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/api.md has one script"
    return blocks[0]


@pytest.mark.slow  # trains the tiny model for a few steps
def test_docs_api_script_runs_from_ontology_file_to_unlearned_model(
    repo_root: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    out = io.StringIO()
    scope: dict[str, object] = {"__name__": "api_script"}
    with contextlib.redirect_stdout(out):
        exec(compile(api_script(repo_root), "docs/api.md", "exec"), scope)  # noqa: S102
    words = out.getvalue().split()  # "completed N parameters changed -> DIR"
    assert words[0] == "completed" and int(words[1]) > 0
    assert (Path(words[-1]) / "config.json").is_file()
    manifest = scope["result"].manifest  # type: ignore[attr-defined]
    assert manifest["method"] == "dual" and manifest["data"]["forget_target_tokens"] > 0


def test_package_entry_points_are_lazy_and_complete() -> None:
    code = (
        "import sys, ontology, hierarchy, unlearn\n"
        "heavy = [m for m in ('torch', 'transformers', 'spacy', 'scispacy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from unlearn import Unlearner, RunConfig\n"
        "from hierarchy import build_nlp, tag_texts, write_masks\n"
        "from ontology import load, open_graph, export_graph\n"
        "for mod in (ontology, hierarchy, unlearn):\n"
        "    assert all(getattr(mod, n) is not None for n in mod.__all__), mod\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
