"""The bundled suites' configs: their scopes name the right MeSH subtrees."""

from __future__ import annotations

from pathlib import Path


def test_suite_scopes_name_the_right_mesh_subtrees(shared_data: Path) -> None:
    from unlearn.eval.suite import load_suite

    names = {}
    with open(shared_data / "mesh" / "raw" / "2017MeshTree.txt", encoding="utf-8-sig") as fh:
        for line in fh:
            number, _, term = line.rstrip("\n").split("\t")
            names[number] = term
    expected = {"Trauma": "Trauma and Stressor Related Disorders", "Anxiety": "Anxiety Disorders",
                "Depression": "Depressive Disorder", "Obsessive/Compulsive Disorders": "Obsessive-Compulsive Disorder"}  # fmt: skip
    for topic, label in expected.items():
        cfg = load_suite("mhqa", forget_topic=topic)
        assert [names[t] for t in cfg.scope_items()] == [label]
    assert [names[t] for t in load_suite("medmcqa-surgery").scope_items()] == [
        "Surgical Procedures, Operative"
    ]
