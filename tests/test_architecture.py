"""The shape of the code: imports flow ontology -> hierarchy -> unlearn, no import cycle, small modules.

The import graph is read from the source (``ast``), every ``import`` statement counted wherever it stands
(inside functions and ``TYPE_CHECKING`` blocks too): a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("ontology", "hierarchy", "unlearn")  # the order of the flow
MAX_MODULE_LINES = 600
MAX_FUNCTION_STATEMENTS = 80


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return (found & known) - {module}


def import_graph() -> nx.DiGraph:
    """Module -> modules it imports, over the three packages."""
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in _imported(name, path, set(modules)))
    return graph


def test_the_import_graph_reads_relative_and_submodule_imports() -> None:
    graph = import_graph()
    assert graph.has_edge(
        "unlearn.methods.registry", "unlearn.methods.dual"
    )  # from unlearn.methods import dual
    assert graph.has_edge("unlearn.trainer.loop", "unlearn.outputs")
    assert not graph.has_edge("unlearn.methods.registry", "unlearn.methods")


def test_no_import_cycle() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert cycles == []


def test_no_package_imports_one_to_its_right() -> None:
    rank = {p: i for i, p in enumerate(PACKAGES)}
    rightward = [(a, b) for a, b in import_graph().edges if rank[b.split(".")[0]] > rank[a.split(".")[0]]]
    assert rightward == []


def test_outputs_and_trainer_do_not_import_each_other() -> None:
    graph = import_graph()
    trainer = {m for m in graph if m.startswith("unlearn.trainer")}
    assert not set(graph.successors("unlearn.outputs")) & trainer


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_and_functions_stay_small(package: str) -> None:
    big_modules, big_functions = [], []
    for path in sorted((REPO / package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(str(path.relative_to(REPO)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                statements = sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1
                if statements > MAX_FUNCTION_STATEMENTS:
                    big_functions.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({statements})")
    assert big_modules == [] and big_functions == []
