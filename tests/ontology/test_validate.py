"""validate(): cycles printed, dangling parents, duplicate labels, obsolete terms in use."""

from __future__ import annotations

from pathlib import Path

from ontology.graph import ConceptGraph
from ontology.readers.rdf import read_rdf
from ontology.validate import Issue, find_cycles, validate

FIX = Path(__file__).parent / "fixtures" / "owl"


def test_cyclic_fixture_exact_messages():
    path = FIX / "cyclic.ttl"
    issues = validate(read_rdf(path))
    assert [str(i) for i in issues] == [
        "error: cycle: is_a cycle: CYC:0000001 (alpha) → CYC:0000003 (gamma) → CYC:0000002 (beta) → CYC:0000001 (alpha)",
        f"error: dangling_parent: {path}: subClassOf target CYC:0000099 of CYC:0000004 is not a class in this file; "
        "edge dropped",
        "warning: duplicate_label: 'delta' is the label of CYC:0000004, CYC:0000005",
    ]
    assert issues[0].concepts == ("CYC:0000001", "CYC:0000003", "CYC:0000002", "CYC:0000001")


def test_obsolete_in_use_placeholder_and_self_loop():
    cg = ConceptGraph()
    cg.add_concept("X:1", "root")
    cg.add_concept("X:2", "old", obsolete=True)
    cg.add_concept("X:3", "kid")
    cg.add_concept("X:9", declared=False)
    cg.add_parent("X:2", "X:1")
    cg.add_parent("X:3", "X:2")
    cg.add_parent("X:3", "X:9")
    cg.add_parent("X:1", "X:1")
    codes = [(i.severity, i.code, i.message) for i in validate(cg)]
    assert ("error", "cycle", "is_a cycle: X:1 (root) → X:1 (root)") in codes
    assert ("error", "obsolete_in_use", "obsolete X:2 (old) is still parent of X:3 and child of X:1") in codes
    assert ("error", "dangling_parent", "X:9 is a parent of X:3 but is never declared") in codes
    assert len(codes) == 3


def test_clean_graph_and_other_skipped_notes_are_warnings():
    cg = ConceptGraph()
    cg.add_concept("X:1", "a")
    cg.add_concept("X:2", "a", source="Y")  # same label, other source: not a duplicate
    cg.graph.graph["skipped"] = ["f.obo:7: synonym without quotes"]
    assert validate(cg) == [Issue("warning", "skipped", "f.obo:7: synonym without quotes")]


def test_find_cycles_two_tangles():
    cg = ConceptGraph()
    for a, b in [("A:2", "A:1"), ("A:1", "A:2"), ("B:1", "B:2"), ("B:2", "B:3"), ("B:3", "B:1")]:
        cg.add_parent(a, b)
    assert find_cycles(cg) == [["A:1", "A:2", "A:1"], ["B:1", "B:2", "B:3", "B:1"]]
