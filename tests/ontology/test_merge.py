"""merge_graphs: xref alignment (DO→MeSH, MeSH↔UMLS), survivor ids, conflicts."""

from __future__ import annotations

import pytest

from ontology.graph import ConceptGraph
from ontology.merge import merge_graphs, normalize_xref


def _graph(source: str, concepts: list[tuple], edges: list[tuple[str, str]]) -> ConceptGraph:
    cg = ConceptGraph()
    for cid, label, xrefs, *rest in concepts:
        cg.add_concept(cid, label, xrefs=xrefs, source=source, **(rest[0] if rest else {}))
    for a, b in edges:
        cg.add_parent(a, b)
    cg.graph.graph["sources"] = [{"file": f"{source.lower()}.src"}]
    cg.graph.graph["skipped"] = [f"{source.lower()}.src:1: x"]
    return cg


@pytest.fixture
def mesh() -> ConceptGraph:
    return _graph(
        "MESH",
        [
            ("MESH:D001523", "Mental Disorders", [], {"tree_numbers": ["F03"]}),
            ("MESH:D001008", "Anxiety Disorders", ["UMLS:C0003469"], {"tree_numbers": ["F03.080"]}),
            ("MESH:D016584", "Panic Disorder", [], {"tree_numbers": ["F03.080.725"]}),
        ],
        [("MESH:D001008", "MESH:D001523"), ("MESH:D016584", "MESH:D001008")],
    )


@pytest.fixture
def doid() -> ConceptGraph:
    return _graph(
        "DOID",
        [
            ("DOID:150", "disease of mental health", ["MESH:D001523"]),
            ("DOID:2030", "anxiety disorder", ["MESH:D001008"], {"synonyms": [("anxiety", "BROAD")]}),
            ("DOID:594", "panic disorder", ["MSH:D016584"]),
            ("DOID:9999", "agoraphobia", ["MESH:D000379"]),  # target not in any graph
        ],
        [("DOID:2030", "DOID:150"), ("DOID:594", "DOID:2030"), ("DOID:9999", "DOID:2030")],
    )


def test_do_to_mesh_alignment_keeps_first_graph_ids(mesh, doid):
    merged = merge_graphs([mesh, doid])
    assert sorted(merged) == ["DOID:9999", "MESH:D001008", "MESH:D001523", "MESH:D016584"]
    anx = merged.concept("MESH:D001008")
    assert anx["label"] == "Anxiety Disorders"
    assert anx["aliases"] == ["DOID:2030"]
    assert "DOID:2030" in anx["xrefs"] and "UMLS:C0003469" in anx["xrefs"]
    assert ("anxiety disorder", "EXACT") in anx["synonyms"] and ("anxiety", "BROAD") in anx["synonyms"]
    assert anx["tree_numbers"] == ["F03.080"]
    assert merged.parents("DOID:9999") == ["MESH:D001008"]  # edge redirected to the survivor
    assert merged.graph.number_of_edges() == 3
    assert [s["file"] for s in merged.sources] == ["mesh.src", "doid.src"]
    assert merged.skipped == ["mesh.src:1: x", "doid.src:1: x"]
    # "Mental Disorders" vs "disease of mental health": a label conflict, merged anyway
    conflicts = merged.graph.graph["merge_conflicts"]
    assert {
        "type": "label",
        "ids": ["MESH:D001523", "DOID:150"],
        "labels": ["Mental Disorders", "disease of mental health"],
    } in conflicts
    assert all(c["type"] == "label" for c in conflicts)


def test_order_decides_survivor(mesh, doid):
    merged = merge_graphs([doid, mesh])
    assert "DOID:2030" in merged and "MESH:D001008" not in merged
    assert merged.concept("DOID:2030")["aliases"] == ["MESH:D001008"]
    assert merged.concept("DOID:2030")["tree_numbers"] == ["F03.080"]


def test_umls_cui_alignment_from_either_side(mesh):
    umls = _graph(
        "UMLS", [("UMLS:C0003469", "Anxiety Disorders", []), ("UMLS:C0030319", "Panic", ["MSH:D016584"])], []
    )
    merged = merge_graphs([mesh, umls])
    assert len(merged) == 3
    assert merged.concept("MESH:D001008")["aliases"] == ["UMLS:C0003469"]
    assert merged.concept("MESH:D016584")["aliases"] == ["UMLS:C0030319"]


def test_many_to_one_is_reported_not_merged(mesh):
    do = _graph(
        "DOID",
        [("DOID:1", "anxiety disorder", ["MESH:D001008"]), ("DOID:2", "anxiety neurosis", ["MESH:D001008"])],
        [],
    )
    merged = merge_graphs([mesh, do])
    assert {"DOID:1", "DOID:2", "MESH:D001008"} <= set(merged)
    (conflict,) = [c for c in merged.graph.graph["merge_conflicts"] if c["type"] == "many_to_one"]
    assert conflict["ids"] == ["DOID:1", "DOID:2", "MESH:D001008"]


def test_obsolete_concepts_are_not_aligned(mesh):
    do = _graph("DOID", [("DOID:1", "anxiety disorder", ["MESH:D001008"], {"obsolete": True})], [])
    assert "DOID:1" in merge_graphs([mesh, do])


def test_same_id_in_two_graphs_is_one_node(mesh):
    other = _graph(
        "MESH", [("MESH:D001008", "Anxiety Disorders", ["ICD10CM:F41"], {"tree_numbers": ["F03.080"]})], []
    )
    merged = merge_graphs([mesh, other])
    assert len(merged) == 3
    assert merged.concept("MESH:D001008")["xrefs"] == ["UMLS:C0003469", "ICD10CM:F41"]
    assert merged.graph.graph["merge_conflicts"] == []


def test_normalize_xref():
    assert normalize_xref(" MSH:D001008 ") == "MESH:D001008"
    assert normalize_xref("DOID:4") == "DOID:4"
    assert normalize_xref("url") == "url"


def test_real_do_to_mesh_2017_alignment(shared_data):
    import csv

    import networkx as nx

    from ontology import load

    tree_path = shared_data / "mesh" / "raw" / "2017MeshTree.txt"
    xref_path = shared_data / "disease_ontology" / "MESHinDO.tsv"
    with open(tree_path, encoding="utf-8-sig", newline="") as fh:
        uis = {row[1] for row in list(csv.reader(fh, delimiter="\t"))[1:]}
    with open(xref_path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    doids = {r["id"] for r in rows}
    links = nx.Graph(
        (r["id"], r["xrefs"]) for r in rows if r["xrefs"].startswith("MESH:") and r["xrefs"][5:] in uis
    )
    pairs = sum(1 for comp in nx.connected_components(links) if len(comp) == 2)
    tangles = sum(1 for comp in nx.connected_components(links) if len(comp) > 2)

    mesh, do = load(tree_path), load(xref_path)
    merged = merge_graphs([mesh, do])
    assert len(merged) == len(mesh) + len(doids) - pairs
    conflicts = merged.graph.graph["merge_conflicts"]
    assert sum(c["type"] == "many_to_one" for c in conflicts) == tangles
    survivors = [n for n, d in merged.graph.nodes(data=True) if d.get("aliases")]
    assert len(survivors) == pairs and all(n.startswith("MESH:") for n in survivors)


def test_joined_labels_are_exact_only_when_the_mapping_is(mesh, doid):
    merged = merge_graphs([mesh, doid])
    # an xref is a correspondence, not a synonymy: DO's broader wording is RELATED
    assert ("disease of mental health", "RELATED") in merged.concept("MESH:D001523")["synonyms"]
    assert ("disease of mental health", "EXACT") not in merged.concept("MESH:D001523")["synonyms"]
    # a label that normalises to the MeSH label is an exact name
    assert ("anxiety disorder", "EXACT") in merged.concept("MESH:D001008")["synonyms"]


def test_declared_skos_mappings_decide_the_scope(mesh):
    from ontology.merge import mapping_scope

    do = _graph(
        "DOID",
        [
            (
                "DOID:150",
                "mental health disease",
                ["MESH:D001523"],
                {"mappings": [("exactMatch", "MESH:D001523")]},
            ),
            (
                "DOID:2030",
                "anxiety state",
                ["MESH:D001008"],
                {"mappings": [("broadMatch", "MSH:D001008")], "synonyms": [("nervous state", "EXACT")]},
            ),
        ],
        [],
    )
    merged = merge_graphs([mesh, do])
    assert ("mental health disease", "EXACT") in merged.concept("MESH:D001523")["synonyms"]
    anx = merged.concept("MESH:D001008")["synonyms"]
    # "DOID:2030 broadMatch D001008": the DO term is narrower, its EXACT synonym too
    assert ("anxiety state", "NARROW") in anx and ("nervous state", "NARROW") in anx
    # declared on the target's side, the predicate is read backwards
    target = {"label": "T", "mappings": [("broadMatch", "X:1")]}
    assert mapping_scope({"label": "s"}, "X:1", target, "Y:1") == "BROAD"


def test_join_synonyms_adds_names_without_concepts(mesh):
    from ontology.merge import join_synonyms

    do = _graph(
        "DOID",
        [
            ("DOID:150", "disease of mental health", ["MESH:D001523"]),
            ("DOID:1", "panic disorder", ["MESH:D016584"], {"synonyms": [("panic attacks", "EXACT")]}),
            ("DOID:2", "panic disorder with agoraphobia", ["MESH:D016584"]),
            ("DOID:3", "agoraphobia", ["MESH:D000379"]),  # no such MeSH node here
        ],
        [("DOID:1", "DOID:150")],
    )
    before = len(mesh)
    summary = join_synonyms(mesh, do)
    assert len(mesh) == before and mesh.graph.number_of_edges() == 2  # no concept, no edge
    panic = mesh.concept("MESH:D016584")
    # two DO terms on one descriptor: a merge refuses the group, a join adds both
    assert panic["synonyms"] == [("panic attacks", "EXACT"), ("panic disorder with agoraphobia", "RELATED")]
    assert panic["xrefs"] == ["DOID:1", "DOID:2"]
    assert ("disease of mental health", "RELATED") in mesh.concept("MESH:D001523")["synonyms"]
    assert summary == {
        "files": ["doid.src"],
        "concepts": 4,
        "joined": 3,
        "targets": 2,
        "mappings": 3,
        "synonyms_added": 3,
        "by_scope": {"RELATED": 2, "EXACT": 1},
        "unknown_targets": 1,
    }
    assert mesh.graph.graph["synonym_sources"] == [summary]
