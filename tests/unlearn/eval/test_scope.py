"""A suite's scope: the suggestion reads the tuning split only, and the coverage keys of ``results.json``.

The suggestion runs on synthetic items over a hand-made MeSH tree: the reported forget items mention *panic
disorder*, the tuning forget items *carcinoma*, the retain items neither. Reading a reported item would show
(panic disorder suggested, or its id recorded by the spy on ``mcq_options``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.hierarchy.graphs import MESH_TREE
from unlearn.eval import datasets as D

CARCINOMA, PANIC = "MESH:D002277", "MESH:D016584"


def _item(id_: str, question: str) -> dict[str, Any]:
    return {"id": id_, "question": question, "options": ["yes", "no", "maybe", "never"], "answer": 1}


def _inputs(tmp_path: Path, size: str = "smoke", **suggest: Any) -> tuple[Any, set[str], set[str]]:
    """Suite inputs over 48 forget and 48 retain synthetic items (``suggest``: settings of ``ScopeSuggest``
    besides ``top=3``); the reported and the tuning ids."""
    from unlearn.eval.inputs import SuiteInputs
    from unlearn.eval.suite import ScopeSuggest, load_suite

    forget = D.ItemSet([_item(f"f{i}", "") for i in range(48)], "forget.jsonl")
    retain = D.ItemSet([_item(f"r{i}", "Is the knee swollen?") for i in range(48)], "retain.jsonl")
    reported = D.split_items(forget, retain, "smoke", 0)
    rep_ids = {it["id"] for part in reported.values() for it in part}
    for it in forget.items:  # the split depends on ids only: the questions can be written afterwards
        it["question"] = "Is panic disorder likely?" if it["id"] in rep_ids else "Is a carcinoma likely?"
    cfg = load_suite("medmcqa-surgery").model_copy(
        update={"scope": ["E04.210.240"], "scope_suggest": ScopeSuggest(top=3, **suggest)}
    )
    inp = SuiteInputs(cfg, size, cfg.size(size), [], "none", "none", None, tmp_path, forget, retain, reported)
    tuning = {it["id"] for part in D.tuning_split(forget, retain, "smoke").values() for it in part}
    return inp, rep_ids, tuning


@pytest.fixture(scope="module")
def hier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hierarchy.levels import build_hierarchy
    from hierarchy.store import write_hierarchy
    from ontology.readers.mesh_tree import read_mesh_tree

    tmp = tmp_path_factory.mktemp("mesh")
    (tmp / "MeshTree.txt").write_text(MESH_TREE, encoding="utf-8")
    write_hierarchy(build_hierarchy(read_mesh_tree(tmp / "MeshTree.txt")), tmp / "hier")
    return tmp / "hier"


def _spy_items(mp: pytest.MonkeyPatch) -> list[str]:
    """Record the id of every item any module turns into text (through ``mcq_options``)."""
    import unlearn.prompts as prompts

    seen: list[str] = []
    original = prompts.mcq_options

    def recorded(row: Any) -> Any:
        seen.append(str(row["id"]))
        return original(row)

    for module in list(sys.modules.values()):
        if getattr(module, "mcq_options", None) is original:
            mp.setattr(module, "mcq_options", recorded)
    return seen


def test_suggestion_reads_the_tuning_split_only(tmp_path: Path, hier_dir: Path, monkeypatch) -> None:
    from unlearn.eval.scope import scope_stage, suggestion_parts

    inp, reported, tuning = _inputs(tmp_path)
    assert not reported & tuning
    seen = _spy_items(monkeypatch)
    parts = suggestion_parts(inp)
    info = scope_stage(inp, parts, hier_dir)(tmp_path)
    assert seen, "the spy saw no item: the check would pass vacuously"
    assert set(seen) == tuning and not set(seen) & reported
    assert set(info["from"]["forget"]) | set(info["from"]["retain"]) == tuning
    assert {i[0] for i in info["from"]["forget"]} == {"f"} and {i[0] for i in info["from"]["retain"]} == {"r"}
    # every tuning forget item mentions carcinoma, no retain item: its subtree, the deepest of the tie, is chosen
    assert info["named"] == ["E04.210.240"]
    assert [s["id"] for s in info["suggested"]] == [CARCINOMA]
    assert info["items"] == ["E04.210.240", CARCINOMA]
    best = info["suggested"][0]
    assert (best["forget_docs"], best["retain_docs"]) == (24, 0) and best["tree_number"] == "C04.557.470"
    assert info["coverage"] == [{"forget": 0.0, "retain": 0.0}, {"forget": 1.0, "retain": 0.0}]
    assert PANIC not in str(info)


@pytest.mark.parametrize(("limit", "kept"), [(0.2, [CARCINOMA]), (0.1, [])])
def test_max_retain_share_keeps_the_first_subtrees_within_it(
    tmp_path: Path, hier_dir: Path, limit: float, kept: list[str]
) -> None:
    from unlearn.eval.scope import scope_stage, suggestion_parts

    inp, _, _ = _inputs(tmp_path, max_retain_share=limit)
    parts = suggestion_parts(inp)
    assert parts is not None
    for it in parts["retain"][:4]:  # 4 of the 24 tuning retain items (0.167) mention carcinoma too
        it["question"] = "Is a carcinoma of the knee likely?"
    info = scope_stage(inp, parts, hier_dir)(tmp_path)
    assert [s["id"] for s in info["suggested"]] == kept and info["items"] == ["E04.210.240", *kept]
    assert [c["retain"] for c in info["coverage"]] == [0.0, 4 / 24][: len(kept) + 1]
    assert info["settings"]["max_retain_share"] == limit


def test_no_suggestion_without_a_tuning_split(tmp_path: Path, hier_dir: Path) -> None:
    from unlearn.eval.scope import scope_stage, suggestion_parts

    inp, _, _ = _inputs(tmp_path, size="full")
    assert suggestion_parts(inp) is None
    assert scope_stage(inp, None, hier_dir)(tmp_path) == {
        "named": ["E04.210.240"], "items": ["E04.210.240"], "suggested": None
    }  # fmt: skip


def test_items_with_target_and_the_masks_section(tmp_path: Path) -> None:
    from hierarchy.masks import MaskWriter
    from unlearn.eval.inputs import items_with_target
    from unlearn.eval.runner import masks_section, scope_text

    writer = MaskWriter(tmp_path / "m.parquet", {"scope": "E04"})
    for doc_id, roles in (("a", [0, 2, 0]), ("b", [1, 1, 0]), ("c", [2, 2, 1]), ("d", [0, 0, 0])):
        vals = np.array([(r, 3 if r else 0, 1.0 if r else 0.0) for r in roles], dtype=float)
        writer.add(doc_id, "x y z", np.arange(3), np.array([(0, 1), (2, 3), (4, 5)]), vals)
    writer.close()
    assert items_with_target(tmp_path / "m.parquet") == 2  # "a" and "c"
    scope = {"named": ["E04"], "items": ["E04", "MESH:D1"], "suggested": [{"id": "MESH:D1"}]}
    info = {"scope": scope, "parts": {"forget": {"tokens_by_role": {"target": 5}}},
            "items_with_target": {"forget": 3, "retain": 2}, "answer_fallback_items": 9,
            "anchored_retain_items": 8}  # fmt: skip
    section = masks_section(info, 12, 8)
    assert section["forget_items_with_target"] == 3 and section["answer_fallback_items"] == 9
    assert section["retain_items_with_target"] == 2 and section["retain_target_share"] == 0.25
    assert section["scope"] == scope and scope_text(scope) == "E04 + 1 suggested"
    assert scope_text({"named": ["E04"], "suggested": None}) == "E04"
