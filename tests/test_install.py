"""`pip install .` gives a working CLI: nothing the console script runs needs a package of an extra.

The packages of the extras (dev: pytest, ruff, mypy, benchmark peers, playwright …; dask) that no runtime
dependency needs are blocked from import in a fresh interpreter, which then imports every module of the three
packages (from this checkout) and runs the console script. The install commands themselves are in the README
("Installing for use, without the development tools"); this test does not create a new environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def _closure(names: set[str]) -> set[str]:
    """The installed distributions ``names`` need, transitively (extras' requirements left out)."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for raw in requires:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def extra_only_modules(repo_root: Path) -> list[str]:
    """Top-level modules provided only by distributions that an extra (``dev``, ``dask``) needs and the runtime
    does not (``tests``, which some distributions install at the top level, is ours)."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    runtime = _closure({Requirement(r).name for r in project["dependencies"]})
    extras = {Requirement(r).name for reqs in project["optional-dependencies"].values() for r in reqs}
    only = _closure(extras) - runtime
    modules = []
    for module, dists in metadata.packages_distributions().items():
        if module.isidentifier() and module != "tests" and {canonicalize_name(d) for d in dists} <= only:
            modules.append(module)
    return sorted(modules)


SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys
BLOCKED = set(json.loads(sys.argv[1]))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} belongs to an extra, not to the runtime dependencies")
        return None

sys.meta_path.insert(0, Block())
for pkg in ("ontology", "hierarchy", "unlearn"):
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        if not info.name.endswith(".__main__"):  # `python -m unlearn` runs the CLI on import
            importlib.import_module(info.name)
from unlearn.cli import main
main(sys.argv[2:])
"""


@pytest.mark.slow  # a fresh interpreter importing every module
def test_console_script_needs_no_package_of_an_extra(repo_root: Path, tmp_path: Path) -> None:
    blocked = extra_only_modules(repo_root)
    assert {"pytest", "mypy", "playwright", "obonet", "pronto", "dask", "distributed"} <= set(blocked)
    # this checkout's packages first (an editable install may point at another one)
    path = os.pathsep.join(p for p in (str(repo_root), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "OMP_NUM_THREADS": "1",
        "MEDUNLEARN_HOME": str(tmp_path / "home"),
    }
    graph, corpus = tmp_path / "graph", tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "1", "text": "An appendectomy."}) + "\n")

    def medunlearn(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, json.dumps(blocked), *args],
            capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
        )  # fmt: skip

    for args in (
        ["--help"],
        ["ontology", "build", str(repo_root / "data/demo_ontology.owl"), "-o", str(graph)],
        ["ontology", "export", str(graph), "--format", "obo", "-o", str(tmp_path / "g.obo")],
        ["hierarchy", "build", str(graph), "-o", str(tmp_path / "hier")],
        ["hierarchy", "tag", str(graph), str(corpus), "-o", str(tmp_path / "spans.jsonl")],
    ):
        res = medunlearn(*args)
        assert res.returncode == 0, (args, res.stderr[-2000:])
    assert (tmp_path / "hier" / "levels.parquet").is_file()
    # the dask extra missing: one line saying how to install it
    res = medunlearn(
        "hierarchy", "tag", str(graph), str(corpus), "--engine", "dask", "-o", str(tmp_path / "parts")
    )
    assert res.returncode == 2 and "pip install 'medunlearn[dask]'" in res.stderr, res.stderr[-2000:]
