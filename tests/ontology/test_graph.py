"""ConceptGraph helpers on a small hand-built DAG (edges child → parent)."""

from __future__ import annotations

import pytest

from ontology.graph import ConceptGraph


@pytest.fixture
def cg() -> ConceptGraph:
    #        R
    #      /   \
    #     A     B
    #    / \   /
    #   C   D-+        (D has parents A and B)
    #   |
    #   E
    g = ConceptGraph()
    for cid, label in [
        ("X:R", "root"),
        ("X:A", "Anxiety Disorders"),
        ("X:B", "b"),
        ("X:C", "c"),
        ("X:D", "d"),
    ]:
        g.add_concept(cid, label, source="X")
    g.add_concept("X:E", "panic", synonyms=[("Panic-Attacks", "EXACT")], source="X")
    g.add_concept("X:O", "old", obsolete=True, source="X")
    for child, parent in [
        ("X:A", "X:R"),
        ("X:B", "X:R"),
        ("X:C", "X:A"),
        ("X:D", "X:A"),
        ("X:D", "X:B"),
        ("X:E", "X:C"),
    ]:
        g.add_parent(child, parent)
    g.graph.graph["skipped"] = ["f.obo:3: bad line"]
    g.graph.graph["sources"] = [{"file": "f.obo"}]
    return g


def test_navigation(cg):
    assert cg.parents("X:D") == ["X:A", "X:B"]
    assert cg.children("X:A") == ["X:C", "X:D"]
    assert cg.ancestors("X:E") == {"X:C", "X:A", "X:R"}
    assert cg.descendants("X:A") == {"X:C", "X:D", "X:E"}
    assert cg.depth("X:R") == 0 and cg.depth("X:D") == 2 and cg.depth("X:E") == 3
    assert cg.paths_to_root("X:D") == [["X:D", "X:A", "X:R"], ["X:D", "X:B", "X:R"]]
    assert cg.lowest_common_ancestors("X:E", "X:D") == {"X:A"}


def test_stats_counts_by_hand(cg):
    s = cg.stats()
    assert s["concepts"] == 7 and s["edges"] == 6
    assert s["roots"] == 1  # X:O is obsolete: not a root of the hierarchy
    assert s["leaves"] == 3  # X:E, X:D, X:O
    assert s["max_depth"] == 3 and s["obsolete"] == 1 and s["skipped"] == 1
    assert s["sources"] == ["f.obo"] and s["by_source"] == {"X": 7}


def test_depth_cache_is_dropped_on_change(cg):
    assert cg.max_depth() == 3
    cg.add_concept("X:F", "f")
    cg.add_parent("X:F", "X:E")
    assert cg.depth("X:F") == 4 and cg.max_depth() == 4


def test_search_exact_then_normalised(cg):
    assert cg.search("Anxiety Disorders") == ["X:A"]
    assert cg.search("anxiety-disorder") == ["X:A"]
    assert cg.search("anxiety-disorder", normalized=False) == []
    assert cg.search("panic attack") == ["X:E"]
    cg.add_concept("X:G", "Panic Attacks")
    assert cg.search("panic attack") == ["X:G", "X:E"]  # the index follows the change; labels rank first


def test_concept_unknown_id(cg):
    with pytest.raises(KeyError, match="no concept 'X:nope'"):
        cg.concept("X:nope")
    assert cg.concept("X:A")["id"] == "X:A"
