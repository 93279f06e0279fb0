"""``medunlearn hierarchy build|show|stats|roles`` on a small MeSH tree file written by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierarchy.cli import app
from ontology.graph import ConceptGraph
from ontology.store import write_graph

TREE = """Tree Number\tDesc Ui\tTerm
E04\tD013514\tSurgical Procedures, Operative
E04.210\tD004191\tDigestive System Surgical Procedures
E04.210.120\tD000009\tAppendectomy
F03\tD001523\tMental Disorders
F03.080\tD001008\tAnxiety Disorders
F03.080.100\tD000379\tAgoraphobia
F03.080.725\tD016584\tPanic Disorder
F03.080.725.100\tD999999\tVery Specific Panic
"""

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Run the real console script; return its exit code and stderr."""
    from unlearn.cli import main

    monkeypatch.setattr(sys, "argv", ["medunlearn", "hierarchy", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.fixture
def hier(tmp_path: Path) -> Path:
    tree = tmp_path / "MeshTree2017.txt"
    tree.write_text(TREE, encoding="utf-8")
    out = tmp_path / "HIER"
    stats = json.loads(invoke("build", str(tree), "-o", str(out), "--json"))
    assert (stats["L1"], stats["L2"], stats["L3"], stats["L4"], stats["unleveled"]) == (2, 2, 2, 4, 0)
    return out


def test_build_and_stats(hier: Path) -> None:
    assert sorted(p.name for p in hier.iterdir()) == ["graph", "levels.parquet", "meta.json"]
    stats = json.loads(invoke("stats", str(hier), "--json"))
    assert stats["L4"] == 4 and stats["rules"] == {"mesh": 10}
    meta = json.loads((hier / "meta.json").read_text())
    assert meta["rule"] == "auto" and meta["options"]["multi_parent"] == "shallowest"
    assert meta["sources"][0]["format"] == "mesh-tree"
    text = invoke("stats", str(hier))
    assert "domain" in text and "specific" in text


def test_show_tree(hier: Path) -> None:
    text = invoke("show", str(hier), "--root", "F03.080", "--depth", "1")
    assert "F03.080 Anxiety Disorders" in text and "F03.080.100 Agoraphobia" in text
    assert "Very Specific Panic" not in text  # below --depth 1
    whole = invoke("show", str(hier), "--depth", "1", "--max-children", "1")
    assert "2 root(s)" in whole and "Analytical, Diagnostic" in whole and "… 1 more roots" in whole


def test_roles_json(hier: Path) -> None:
    out = json.loads(invoke("roles", str(hier), "--scope", "F03.080", "--json"))
    assert out["roles"]["target"] == {"total": 4, "L0": 0, "L1": 0, "L2": 0, "L3": 1, "L4": 3}
    assert out["roles"]["preserve"]["total"] == 6
    kept = json.loads(
        invoke("roles", str(hier), "--scope", "F03,E04.210", "--keep", "Panic Disorder", "--json")
    )
    assert kept["scope"]["items"] == {"F03": ["MESH:D001523"], "E04.210": ["MESH:D004191"]}
    # targets: E04.210, Appendectomy, Agoraphobia; Anxiety Disorders is an ancestor of kept Panic Disorder → preserve
    assert kept["roles"]["target"]["total"] == 3


def test_build_options(tmp_path: Path) -> None:
    cg = ConceptGraph()
    for node, parent in [("X:root", None), ("X:a", "X:root"), ("X:b", "X:a"), ("X:c", "X:b")]:
        cg.add_concept(node, node[2:], source="X")
        if parent:
            cg.add_parent(node, parent)
    graph = write_graph(cg, tmp_path / "GRAPH")
    stats = json.loads(
        invoke("build", str(graph), "-o", str(tmp_path / "H1"), "--depth-starts", "1,2,3,4", "--json")
    )
    assert (stats["L1"], stats["L2"], stats["L3"], stats["L4"]) == (2, 1, 1, 0)
    table = tmp_path / "map.csv"
    table.write_text("id,level\nX:root,1\nX:c,4\n", encoding="utf-8")
    args = [
        "build",
        str(graph),
        "-o",
        str(tmp_path / "H2"),
        "--rule",
        "mapping",
        "--mapping",
        str(table),
        "--json",
    ]
    stats = json.loads(invoke(*args))
    assert stats["unleveled_reasons"] == {"not in the mapping table": 2}
    cfg = tmp_path / "h.yaml"
    cfg.write_text("multi_parent: deepest\ndepth_starts: [0, 0, 0, 0]\n", encoding="utf-8")
    stats = json.loads(
        invoke("build", str(graph), "-o", str(tmp_path / "H3"), "--config", str(cfg), "--json")
    )
    assert stats["L4"] == 4


def test_errors_are_one_line(
    hier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(monkeypatch, capsys, "roles", str(hier), "--scope", "Anxiety Disordrs")
    assert code == 2 and err.count("\n") == 1
    assert "scope item 'Anxiety Disordrs'" in err and "did you mean 'Anxiety Disorders' (MESH:D001008)" in err
    code, err = run_main(
        monkeypatch, capsys, "build", str(hier / "graph"), "-o", str(tmp_path / "x"), "--rule", "nope"
    )
    assert code == 2 and "rule: Input should be" in err and "'nope'" in err
    code, err = run_main(monkeypatch, capsys, "stats", str(tmp_path))
    assert code == 2 and "not a hierarchy directory" in err
    code, err = run_main(monkeypatch, capsys, "build", str(tmp_path / "missing"), "-o", str(tmp_path / "y"))
    assert code == 2 and "no such graph directory or ontology file" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("rulez: mesh\n", encoding="utf-8")
    code, err = run_main(
        monkeypatch, capsys, "build", str(hier / "graph"), "-o", str(tmp_path / "z"), "--config", str(bad)
    )
    assert code == 2 and "bad.yaml: rulez: unknown key" in err
