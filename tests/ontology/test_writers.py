"""Exports that `ontology build` reads back (OBO, OWL RDF/XML and Turtle, OBO Graphs JSON), SSSOM mappings,
standard prefixes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import ontology
from ontology.graph import ConceptGraph
from ontology.merge import merge_graphs
from ontology.readers.obo import read_obo
from ontology.store import export_graph, read_graph
from ontology.writers.sssom import COLUMNS

FIX = Path(__file__).parent / "fixtures"
READ_BACK = ["obo", "owl", "ttl", "obographs"]
SUFFIX = {"obo": ".obo", "owl": ".owl", "ttl": ".ttl", "obographs": ".json"}


def rich_graph() -> ConceptGraph:
    """OBO fixture terms (alt ids, obsolete, replaced_by, xrefs, scopes) plus MeSH-like nodes with tree numbers,
    a tree category node and a declared SKOS mapping; texts with quotes, backslashes and line breaks."""
    cg = read_obo(FIX / "obo" / "small.obo")
    cg.add_concept("MESHTREE:F", "Psychiatry and Psychology", tree_numbers=["F"], source="MESH")
    cg.add_concept(
        "MESH:D001523",
        "Mental Disorders",
        synonyms=[('Disorder, "Mental"', "EXACT"), ("back\\slash", "NARROW")],
        definition="Psychiatric illness.\nSecond line.",
        tree_numbers=["F03"],
        xrefs=["UMLS_CUI:C0004936"],
        source="MESH",
    )
    cg.add_concept(
        "MESH:D001008",
        "Anxiety Disorders",
        tree_numbers=["F03.080", "F01.100"],
        source="MESH",
        semantic_types=[],
    )
    cg.add_parent("MESH:D001523", "MESHTREE:F")
    cg.add_parent("MESH:D001008", "MESH:D001523")
    cg.graph.nodes["SM:0000003"]["mappings"] = [("exactMatch", "MESH:D001008")]
    cg.graph.nodes["SM:0000003"]["xrefs"] = ["MESH:D001008"]
    return cg


def view(cg: ConceptGraph) -> tuple[dict, set]:
    """What a read-back must keep: per concept label, synonyms, definition, xrefs, tree numbers,
    obsolete, replaced_by, mappings; and the is_a edges."""
    nodes = {
        cid: {
            "label": d["label"],
            "synonyms": sorted(tuple(s) for s in d["synonyms"]),  # RDF keeps no order
            "definition": d["definition"],
            "xrefs": sorted(d["xrefs"]),
            "tree_numbers": sorted(d["tree_numbers"]),
            "obsolete": d["obsolete"],
            "replaced_by": d["replaced_by"],
            "mappings": [tuple(m) for m in d.get("mappings") or ()],
        }
        for cid, d in cg.graph.nodes(data=True)
    }
    return nodes, {(a, b) for a, b, r in cg.graph.edges(data="relation") if r == "is_a"}


@pytest.mark.parametrize("fmt", READ_BACK)
def test_export_is_read_back_by_load_to_the_same_graph(tmp_path: Path, fmt: str) -> None:
    cg = rich_graph()
    path = export_graph(cg, tmp_path / f"g{SUFFIX[fmt]}", fmt)
    back = ontology.load(path)  # format detected, as `ontology build` does
    before, after = view(cg), view(back)
    assert set(after[0]) == set(before[0])
    for cid in before[0]:
        assert after[0][cid] == before[0][cid], (fmt, cid)
    assert after[1] == before[1]
    assert back.graph.graph["alt_ids"] == {"SM:0000099": "SM:0000002"}
    if fmt == "obo":  # a relationship is an attribute in OBO, as the reader has it
        assert back.graph.nodes["SM:0000002"]["relationships"] == [("has_symptom", "SM:0000005")]


def test_iris_are_standard_and_no_invented_namespace(tmp_path: Path) -> None:
    cg = rich_graph()
    ttl = export_graph(cg, tmp_path / "g.ttl", "ttl").read_text()
    graphs = export_graph(cg, tmp_path / "g.json", "obographs").read_text()
    for text in (ttl, graphs):
        assert "MESHTREE_" not in text and "http://medunlearn" not in text
        assert "http://id.nlm.nih.gov/mesh/vocab#" in text  # meshv:treeNumber
    assert "<http://id.nlm.nih.gov/mesh/D001008>" in ttl or "mesh:D001008" in ttl.replace("MESH:", "mesh:")
    assert "urn:medunlearn:meshtree:F" in graphs
    nodes = {n["id"] for n in json.loads(graphs)["graphs"][0]["nodes"]}
    assert {"http://purl.obolibrary.org/obo/SM_0000001", "http://id.nlm.nih.gov/mesh/D001523"} <= nodes
    obo = export_graph(cg, tmp_path / "g.obo", "obo").read_text()
    assert "idspace: MESH http://id.nlm.nih.gov/mesh/" in obo
    assert 'synonym: "Disorder, \\"Mental\\"" EXACT []' in obo


def test_obographs_from_elsewhere_keeps_is_a_as_edges_and_part_of_as_relationships(tmp_path: Path) -> None:
    obo = "http://purl.obolibrary.org/obo/"
    doc = {
        "graphs": [
            {
                "id": "http://purl.obolibrary.org/obo/uberon.owl",
                "meta": {"version": "2026-01-01"},
                "nodes": [
                    {"id": f"{obo}UBERON_1", "lbl": "organ", "type": "CLASS"},
                    {"id": f"{obo}UBERON_2", "lbl": "heart", "type": "CLASS",
                     "meta": {"synonyms": [{"pred": "hasExactSynonym", "val": "cor"}]}},
                    {"id": f"{obo}UBERON_3", "lbl": "body", "type": "CLASS"},
                    {"id": f"{obo}BFO_0000050", "lbl": "part of", "type": "PROPERTY"},
                ],
                "edges": [
                    {"sub": f"{obo}UBERON_2", "pred": "is_a", "obj": f"{obo}UBERON_1"},
                    {"sub": f"{obo}UBERON_2", "pred": f"{obo}BFO_0000050", "obj": f"{obo}UBERON_3"},
                ],
            }
        ]
    }  # fmt: skip
    path = tmp_path / "uberon.json"
    path.write_text(json.dumps(doc, indent=2))
    cg = ontology.load(path)
    assert sorted(cg) == ["UBERON:1", "UBERON:2", "UBERON:3"]
    assert cg.parents("UBERON:2") == ["UBERON:1"]
    assert cg.graph.nodes["UBERON:2"]["relationships"] == [("BFO:0000050", "UBERON:3")]
    assert cg.graph.nodes["UBERON:2"]["synonyms"] == [("cor", "EXACT")]
    assert cg.sources[0]["format"] == "obographs" and cg.sources[0]["version"] == "2026-01-01"


def test_cli_export_then_build_round_trip_on_the_demo_ontology(tmp_path: Path, repo_root: Path) -> None:
    from unlearn.cli import app

    runner = CliRunner()
    built = runner.invoke(
        app, ["ontology", "build", str(repo_root / "data/demo_ontology.owl"), "-o", str(tmp_path / "g")]
    )
    assert built.exit_code == 0, built.output
    original = read_graph(tmp_path / "g")
    for fmt in READ_BACK:
        out = tmp_path / f"demo{SUFFIX[fmt]}"
        res = runner.invoke(app, ["ontology", "export", str(tmp_path / "g"), "--format", fmt, "-o", str(out)])
        assert res.exit_code == 0, res.output
        res = runner.invoke(app, ["ontology", "build", str(out), "-o", str(tmp_path / f"g-{fmt}")])
        assert res.exit_code == 0, res.output
        assert view(read_graph(tmp_path / f"g-{fmt}")) == view(original), fmt


def _sssom(text: str) -> tuple[dict, list[dict[str, str]]]:
    meta = yaml.safe_load("\n".join(line[1:] for line in text.splitlines() if line.startswith("#")))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return meta, list(csv.DictReader(io.StringIO(body), delimiter="\t"))


def test_sssom_lists_declared_mappings_xrefs_and_merges(tmp_path: Path) -> None:
    mesh = ConceptGraph()
    mesh.add_concept("MESH:D001523", "Mental Disorders", source="MESH")
    mesh.add_concept("MESH:D001008", "Anxiety Disorders", source="MESH")
    do = ConceptGraph()
    do.add_concept("DOID:150", "disease of mental health", xrefs=["MSH:D001523", "UMLS_CUI:C0004936"])
    do.add_concept(
        "DOID:2030",
        "anxiety disorder",
        xrefs=["MESH:D001008", "SNOMEDCT_US_2023_03_01:197480006", "http://example.org/x", "DOID:9999"],
        mappings=[("exactMatch", "MESH:D001008")],
    )
    merged = merge_graphs([mesh, do])
    meta, rows = _sssom(export_graph(merged, tmp_path / "m.sssom.tsv", "sssom").read_text())
    assert tuple(rows[0]) == COLUMNS
    got = {(r["subject_id"], r["predicate_id"], r["object_id"], r["mapping_justification"]) for r in rows}
    assert got == {
        ("MESH:D001523", "oboInOwl:hasDbXref", "DOID:150", "semapv:UnspecifiedMatching"),
        ("MESH:D001523", "oboInOwl:hasDbXref", "UMLS:C0004936", "semapv:UnspecifiedMatching"),
        ("MESH:D001008", "oboInOwl:hasDbXref", "DOID:2030", "semapv:UnspecifiedMatching"),
        ("MESH:D001008", "oboInOwl:hasDbXref", "DOID:9999", "semapv:UnspecifiedMatching"),
        ("MESH:D001008", "oboInOwl:hasDbXref", "SNOMEDCT:197480006", "semapv:UnspecifiedMatching"),
    }
    merged_rows = [r for r in rows if r["comment"]]
    assert {r["object_id"] for r in merged_rows} == {"DOID:150", "DOID:2030"}
    # every prefix used has an IRI in the curie map; standard ones are the sources' own
    used = {r[k].split(":")[0] for r in rows for k in ("subject_id", "predicate_id", "object_id")}
    assert used <= set(meta["curie_map"])
    assert meta["curie_map"]["MESH"] == "http://id.nlm.nih.gov/mesh/"
    assert meta["curie_map"]["UMLS"] == "http://linkedlifedata.com/resource/umls/id/"
    assert meta["license"].startswith("https://") and meta["mapping_set_id"].startswith(
        "urn:medunlearn:sssom:"
    )
    # a DO graph alone: its declared skos mapping is a curated row
    _, rows = _sssom(export_graph(do, tmp_path / "do.sssom.tsv", "sssom").read_text())
    declared = [r for r in rows if r["predicate_id"] == "skos:exactMatch"]
    assert [(r["subject_id"], r["object_id"], r["mapping_justification"]) for r in declared] == [
        ("DOID:2030", "MESH:D001008", "semapv:ManualMappingCuration")
    ]


@pytest.mark.slow
def test_mesh_2017_through_obo_keeps_levels(shared_data: Path, tmp_path: Path) -> None:
    """The whole MeSH tree exported to OBO and read back gives the same graph and the same four levels."""
    from hierarchy.levels import build_hierarchy
    from ontology.readers.mesh_tree import read_mesh_tree

    cg = read_mesh_tree(shared_data / "mesh" / "raw" / "2017MeshTree.txt")
    back = ontology.load(export_graph(cg, tmp_path / "mesh.obo", "obo"))
    assert view(back) == view(cg)
    assert build_hierarchy(back).levels == build_hierarchy(cg).levels


def test_real_disease_ontology_slim_round_trips(shared_data: Path, tmp_path: Path) -> None:
    cg = ontology.load(shared_data / "disease_ontology" / "DO_AGR_slim.obo")
    for fmt in ("obo", "ttl", "owl"):
        back = ontology.load(export_graph(cg, tmp_path / f"do{SUFFIX[fmt]}", fmt))
        assert view(back) == view(cg), fmt
