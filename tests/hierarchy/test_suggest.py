"""Scope suggestion: log-odds by hand, a hand-made MeSH tree and texts, the scope file and `masks --scope @FILE`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierarchy.levels import build_hierarchy
from hierarchy.scope import Scope, read_scope_file
from hierarchy.suggest import log_odds, suggest_scope, write_scope_file
from ontology.common.errors import InputError
from ontology.readers.mesh_tree import read_mesh_tree
from tests.hierarchy.graphs import MESH_TREE

FORGET = [
    "The appendectomy went well.",
    "An appendectomy after pain.",
    "Appendectomy under general anaesthesia.",
    "Carcinoma found at appendectomy.",
    "A cholecystectomy was done.",
    "Cholecystectomy for stones.",
]
RETAIN = [
    "Panic disorder in adults.",
    "Panic disorder responds to therapy.",
    "Panic disorder and sleep.",
    "Anxiety disorders are common.",
    "Carcinoma of the lung.",
    "Carcinoma and smoking.",
]


@pytest.fixture(scope="module")
def hier(tmp_path_factory: pytest.TempPathFactory):
    tree = tmp_path_factory.mktemp("mesh") / "MeshTree.txt"
    tree.write_text(MESH_TREE, encoding="utf-8")
    return build_hierarchy(read_mesh_tree(tree))


def by_hand(y_f: int, n_f: int, y_r: int, n_r: int, prior: float) -> tuple[float, float]:
    p = (y_f + y_r) / (n_f + n_r)
    a, b = prior * p, prior * (1 - p)
    d = math.log((y_f + a) / (n_f - y_f + b)) - math.log((y_r + a) / (n_r - y_r + b))
    return d, d / math.sqrt(1 / (y_f + a) + 1 / (n_f - y_f + b) + 1 / (y_r + a) + 1 / (n_r - y_r + b))


def test_log_odds_by_hand() -> None:
    # 6 of 6 forget documents, 0 of 6 retain, prior 10: p = 1/2, a = b = 5
    d, z = log_odds(6, 6, 0, 6, prior=10.0)
    assert d == pytest.approx(2 * math.log(11 / 5))
    assert z == pytest.approx(2 * math.log(11 / 5) / math.sqrt(2 / 11 + 2 / 5))
    assert log_odds(4, 6, 0, 6, 10.0) == pytest.approx(by_hand(4, 6, 0, 6, 10.0))
    # a stronger prior pulls the same counts towards no difference
    assert log_odds(4, 6, 0, 6, 100.0)[0] < log_odds(4, 6, 0, 6, 10.0)[0]
    # a subtree every document of both corpora mentions (a small tuning split): no difference, no division by 0
    assert log_odds(6, 6, 6, 6, 10.0) == (0.0, 0.0)


def test_suggestion_on_hand_texts(hier) -> None:
    result = suggest_scope(hier, FORGET, RETAIN, top=3)
    scores = {s.id: s for s in result.ranked}
    digestive = scores["MESH:D004191"]
    # every forget document mentions an operation under E04.210, no retain document does
    assert (digestive.forget_docs, digestive.retain_docs, digestive.own_forget_docs) == (6, 0, 0)
    assert (digestive.log_odds, digestive.z) == pytest.approx(by_hand(6, 6, 0, 6, 10.0))
    assert digestive.kind == "subtree" and digestive.level == 3 and digestive.tree_number == "E04.210"
    # appendectomy (4 of 6 forget documents) has z 1.47 < 1.96: not a candidate; carcinoma is 1 forget doc
    assert "MESH:D000009" not in scores and "MESH:D002277" not in scores
    # E04 and the category E have the same counts and scores: the deeper subtree comes first and is chosen,
    # the wider ones around it are skipped
    assert [s.id for s in result.ranked] == ["MESH:D004191", "MESH:D013514", "MESHTREE:E"]
    assert [s.id for s in result.chosen] == ["MESH:D004191"]
    assert result.coverage == [(0.0, 0.0), (1.0, 0.0)]
    # with the z rule off, appendectomy is a candidate but nests inside the chosen subtree
    loose = suggest_scope(hier, FORGET, RETAIN, top=3, min_z=0.0)
    assert "MESH:D000009" in {s.id for s in loose.ranked}
    assert [s.id for s in loose.chosen] == ["MESH:D004191"]


def test_a_base_scope_is_not_suggested_again(hier) -> None:
    result = suggest_scope(hier, FORGET, RETAIN, base=["E04"], min_z=0.0)
    assert result.items()[0] == "E04"
    assert not {"MESH:D013514", "MESH:D004191", "MESH:D000009"} & {s.id for s in result.ranked}
    assert result.coverage[0] == (1.0, 0.0)


def test_scope_file_round_trip(hier, tmp_path: Path) -> None:
    result = suggest_scope(hier, FORGET, RETAIN, base=["F03.080.725"], top=2)
    path = write_scope_file(result, tmp_path / "scope.txt", header=["made by a test"])
    text = path.read_text()
    assert text.startswith("# made by a test\n")
    assert (
        "MESH:D004191     # Digestive System Surgical Procedures E04.210 | L3 subtree | forget 6/6, retain 0/6"
        in text
    )
    assert read_scope_file(path) == ["F03.080.725", "MESH:D004191"]
    scope = Scope.parse(f"@{path}", hier)
    assert scope.root_ids == ["MESH:D004191", "MESH:D016584"]
    assert Scope.parse([f"@{path}"], hier).root_ids == scope.root_ids


def test_bad_input_is_one_clear_error(hier, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="one corpus is empty"):
        suggest_scope(hier, FORGET, [])
    with pytest.raises(InputError, match="unknown rank 'best'"):
        suggest_scope(hier, FORGET, RETAIN, rank="best")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty.txt: scope file names no item"):
        read_scope_file(empty)
    with pytest.raises(InputError, match="missing.txt: scope file not found"):
        Scope.parse(f"@{tmp_path / 'missing.txt'}", hier)


def test_cli_suggest_then_masks_read_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unlearn.cli import app
    from unlearn.models import prepare

    monkeypatch.setenv("MEDUNLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps the table at the terminal width
    tree = tmp_path / "MeshTree.txt"
    tree.write_text(MESH_TREE, encoding="utf-8")
    for name, texts in (("forget", FORGET), ("retain", RETAIN)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"q": t}) + "\n" for t in texts))
    runner = CliRunner()
    scope = tmp_path / "scope.txt"
    res = runner.invoke(
        app,
        ["hierarchy", "scope", "suggest", str(tree), "--forget", str(tmp_path / "forget.jsonl"),
         "--retain", str(tmp_path / "retain.jsonl"), "--text-field", "q", "--top", "2", "-o", str(scope)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Digestive System Surgical Procedures" in res.output
    assert "forget 0% → 100%, retain 0% → 0%" in res.output
    assert read_scope_file(scope) == ["MESH:D004191"]
    res = runner.invoke(
        app,
        ["hierarchy", "tag", str(tree), str(tmp_path / "forget.jsonl"), "--text-field", "q",
         "-o", str(tmp_path / "s.jsonl")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["hierarchy", "masks", "build", str(tmp_path / "s.jsonl"), "--tokenizer", str(prepare("tiny-llama")),
         "--hierarchy", str(tree), "--scope", f"@{scope}", "-o", str(tmp_path / "m.parquet"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tokens_by_role"]["target"] > 0
