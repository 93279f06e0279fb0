"""`medunlearn ontology …` through typer's CliRunner, and one run of the real console script."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unlearn.cli import app

FIX = Path(__file__).parent / "fixtures" / "owl"
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["ontology", *args])


@pytest.fixture
def graph_dir(tmp_path) -> Path:
    out = tmp_path / "g"
    res = _run("build", str(FIX / "fixture.owl"), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "7 concepts, 6 is_a edges, 1 roots, max depth 3, 1 obsolete, 0 skipped" in res.output
    return out


def test_stats_json(graph_dir):
    res = _run("stats", str(graph_dir), "--json")
    assert res.exit_code == 0
    stats = json.loads(res.output)
    assert {k: stats[k] for k in ("concepts", "edges", "roots", "max_depth", "obsolete", "skipped")} == {
        "concepts": 7,
        "edges": 6,
        "roots": 1,
        "max_depth": 3,
        "obsolete": 1,
        "skipped": 0,
    }
    assert stats["sources"] == ["fixture.owl"]


def test_show(graph_dir):
    res = _run("show", str(graph_dir), "FIX:0000006", "--json")
    info = json.loads(res.output)
    assert info["label"] == "post-operative anxiety"
    assert [p["id"] for p in info["parents"]] == ["FIX:0000003", "FIX:0000005"]
    assert info["depth"] == 2
    assert info["paths_to_root"][0] == ["FIX:0000006", "FIX:0000005", "FIX:0000001"]
    text = _run("show", str(graph_dir), "FIX:0000006").output
    assert "path: FIX:0000001 (disease) > FIX:0000005 (surgical complication) > FIX:0000006" in text
    missing = _run("show", str(graph_dir), "FIX:404")
    assert missing.exit_code != 0 and "no concept 'FIX:404'" in str(missing.exception)


def test_search(graph_dir):
    res = _run("search", str(graph_dir), "Post Operative Anxieties", "--json")
    assert [r["id"] for r in json.loads(res.output)] == ["FIX:0000006"]
    assert _run("search", str(graph_dir), "Post Operative Anxieties", "--exact").exit_code == 1
    assert _run("search", str(graph_dir), "illness").output.strip() == "FIX:0000001\tdisease"


@pytest.mark.parametrize("fmt", ["graphml", "obographs", "node-link"])
def test_export(graph_dir, tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    res = _run("export", str(graph_dir), "--format", fmt, "-o", str(out))
    assert res.exit_code == 0 and out.stat().st_size > 0


def test_validate_exit_codes(graph_dir):
    clean = _run("validate", str(FIX / "fixture.ttl"))
    assert clean.exit_code == 0
    assert _run("validate", str(graph_dir)).exit_code == 0
    bad = _run("validate", str(FIX / "cyclic.ttl"), "--json")
    assert bad.exit_code == 1
    codes = [i["code"] for i in json.loads(bad.output)]
    assert codes == ["cycle", "dangling_parent", "duplicate_label"]


def test_build_merges_several_sources(tmp_path):
    out = tmp_path / "m"
    res = _run("build", str(FIX / "fixture.ttl"), str(FIX / "skos.ttl"), "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["concepts"] == 9


def test_console_script_reports_bad_input_in_one_line(tmp_path):
    exe = Path(sys.executable).with_name("medunlearn")
    res = subprocess.run(
        [str(exe), "ontology", "build", str(FIX / "malformed.owl"), "-o", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    assert res.stderr == f"error: {FIX / 'malformed.owl'}:34: malformed RDF/XML: mismatched tag\n"
    assert not (tmp_path / "x").exists()


@pytest.mark.slow  # the whole MeSH tree through the CLI
def test_build_and_stats_on_the_2017_mesh_tree(shared_data, tmp_path):
    path = shared_data / "mesh" / "raw" / "2017MeshTree.txt"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t")][1:]
    ui = {tree: desc for tree, desc, _ in rows}
    categories = {tree[0] for tree in ui}
    edges = set()
    for tree, desc in ui.items():
        parent = tree.rsplit(".", 1)[0] if "." in tree else None
        edges.add((f"MESH:{desc}", f"MESH:{ui[parent]}" if parent else f"MESHTREE:{tree[0]}"))
    edges = {(a, b) for a, b in edges if a != b}
    out = tmp_path / "mesh"
    assert _run("build", str(path), "-o", str(out)).exit_code == 0
    stats = json.loads(_run("stats", str(out), "--json").output)
    assert stats["concepts"] == len(set(ui.values())) + len(categories)
    assert stats["edges"] == len(edges)
    assert stats["roots"] == len(categories)
    assert stats["max_depth"] == max(t.count(".") for t in ui) + 1
    assert stats["sources"] == ["2017MeshTree.txt"]
    found = json.loads(_run("search", str(out), "anxiety disorder", "--json").output)
    assert found[0]["id"] == "MESH:" + next(d for _, d, term in rows if term == "Anxiety Disorders")


def test_package_exports():
    import ontology

    for name in (
        "ConceptGraph",
        "load",
        "read_graph",
        "write_graph",
        "merge_graphs",
        "validate",
        "export_graph",
    ):
        assert callable(getattr(ontology, name)), name
    cg = ontology.load(FIX / "fixture.ttl")
    assert isinstance(cg, ontology.ConceptGraph) and ontology.validate(cg) == []
