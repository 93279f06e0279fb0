"""Scope resolution on a small hand-made MeSH-like graph."""

from __future__ import annotations

import pytest

from hierarchy.levels import Hierarchy, build_hierarchy
from hierarchy.scope import Scope, split_items
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph

NODES = {
    "MESHTREE:E": ("Analytical, Diagnostic and Therapeutic Techniques, and Equipment", ["E"]),
    "MESH:D013514": ("Surgical Procedures, Operative", ["E04"]),
    "MESH:D004191": ("Digestive System Surgical Procedures", ["E04.210"]),
    "MESH:D000009": ("Appendectomy", ["E04.210.120"]),
    "MESHTREE:F": ("Psychiatry and Psychology", ["F"]),
    "MESH:D001523": ("Mental Disorders", ["F03"]),
    "MESH:D001008": ("Anxiety Disorders", ["F03.080"]),
    "MESH:D016584": ("Panic Disorder", ["F03.080.725"]),
    "MESH:D000379": ("Agoraphobia", ["F03.080.100"]),
}
EDGES = [
    ("MESH:D013514", "MESHTREE:E"),
    ("MESH:D004191", "MESH:D013514"),
    ("MESH:D000009", "MESH:D004191"),
    ("MESH:D001523", "MESHTREE:F"),
    ("MESH:D001008", "MESH:D001523"),
    ("MESH:D016584", "MESH:D001008"),
    ("MESH:D000379", "MESH:D001008"),
]


@pytest.fixture
def hier() -> Hierarchy:
    cg = ConceptGraph()
    for cid, (label, tns) in NODES.items():
        syn = [("Panic Attacks Disorder", "EXACT"), ("panicky", "RELATED")] if cid == "MESH:D016584" else []
        cg.add_concept(cid, label, tree_numbers=tns, source="MESH", synonyms=syn)
    for child, parent in EDGES:
        cg.add_parent(child, parent)
    return build_hierarchy(cg)


ANXIETY_SUBTREE = {"MESH:D001008", "MESH:D016584", "MESH:D000379"}


@pytest.mark.parametrize(
    "item", ["MESH:D001008", "F03.080", "D001008", "Anxiety Disorders", "anxiety-disorder"]
)
def test_each_item_form(hier: Hierarchy, item: str) -> None:
    scope = Scope.parse([item], hier)
    assert scope.concepts == ANXIETY_SUBTREE
    assert scope.roots == {item: ["MESH:D001008"]}


def test_synonym_category_and_union(hier: Hierarchy) -> None:
    assert Scope.parse(["panic attacks disorders"], hier).concepts == {"MESH:D016584"}
    assert Scope.parse(["E"], hier).root_ids == ["MESHTREE:E"]
    assert len(Scope.parse(["E"], hier)) == 4
    both = Scope.parse(["E04.210", "Panic Disorder"], hier)
    assert both.concepts == {"MESH:D004191", "MESH:D000009", "MESH:D016584"}
    with pytest.raises(InputError, match="'panicky'"):
        Scope.parse(["panicky"], hier)  # RELATED synonyms do not name a concept


def test_keep_carves_a_subtree(hier: Hierarchy) -> None:
    scope = Scope.parse(["F03"], hier, keep=["Agoraphobia"])
    assert scope.concepts == {"MESH:D001523", "MESH:D001008", "MESH:D016584"}
    assert scope.kept == {"MESH:D000379"}
    assert scope.describe()["kept"] == 1


def test_comma_string_rejoins_labels_with_commas(hier: Hierarchy) -> None:
    text = "F03.080,Surgical Procedures, Operative"
    assert split_items(text, hier) == ["F03.080", "Surgical Procedures, Operative"]
    scope = Scope.parse(text, hier)
    assert set(scope.root_ids) == {"MESH:D001008", "MESH:D013514"}
    assert len(scope) == 6


def test_unknown_item_suggests_near_labels(hier: Hierarchy) -> None:
    with pytest.raises(InputError) as err:
        Scope.parse(["E04", "Anxiety Disordrs x"], hier)
    msg = str(err.value)
    assert "scope item 'Anxiety Disordrs x' is not a concept id, tree number or label" in msg
    assert "did you mean 'Anxiety Disorders' (MESH:D001008)" in msg
    with pytest.raises(InputError, match="keep item 'Z99'"):
        Scope.parse(["E04"], hier, keep=["Z99"])
    with pytest.raises(InputError, match="empty scope"):
        Scope.parse([" ", ""], hier)
