"""Graph directories (Parquet) and exports: round trips, errors, reload speed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx
import pytest

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph
from ontology.readers.owl import read_owl
from ontology.store import export_graph, import_graph, read_graph, write_graph

FIX = Path(__file__).parent / "fixtures" / "owl"


@pytest.fixture
def rich_graph() -> ConceptGraph:
    cg = read_owl(FIX / "fixture.owl")
    cg.add_concept(
        "MESH:D001008",
        "Anxiety Disorders",
        synonyms=[("Anxiety States, Neurotic", "EXACT")],
        tree_numbers=["F03.080"],
        semantic_types=["T048"],
        source="MESH",
        kind="descriptor",
    )
    cg.add_parent("FIX:0000003", "MESH:D001008", relation="xref_parent")
    cg.graph.graph["skipped"] = ["f.owl:3: something"]
    return cg


def _same(a: ConceptGraph, b: ConceptGraph) -> None:
    assert dict(a.graph.nodes(data=True)) == dict(b.graph.nodes(data=True))
    assert set(a.graph.edges(data="relation")) == set(b.graph.edges(data="relation"))


def test_parquet_round_trip(rich_graph, tmp_path):
    out = write_graph(rich_graph, tmp_path / "g")
    assert sorted(p.name for p in out.iterdir()) == ["edges.parquet", "meta.json", "nodes.parquet"]
    back = read_graph(out)
    _same(rich_graph, back)
    assert back.graph.graph == rich_graph.graph.graph
    assert nx.utils.graphs_equal(back.graph, rich_graph.graph)  # adjacency built directly = public API's
    back.add_parent("FIX:0000004", "FIX:0000001")
    assert back.children("FIX:0000001") == ["FIX:0000002", "FIX:0000004", "FIX:0000005"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == {"concepts": 8, "edges": 7} and meta["format_version"] == 1


def test_write_replaces_atomically(rich_graph, tmp_path):
    write_graph(rich_graph, tmp_path / "g")
    small = ConceptGraph()
    small.add_concept("X:1", "one")
    write_graph(small, tmp_path / "g")
    assert list(read_graph(tmp_path / "g")) == ["X:1"]
    assert [p.name for p in tmp_path.iterdir()] == ["g"]  # no temporary left behind


@pytest.mark.parametrize("fmt", ["graphml", "obographs", "node-link"])
def test_export_round_trip(rich_graph, tmp_path, fmt):
    path = export_graph(rich_graph, tmp_path / f"g.{fmt}", fmt)
    _same(rich_graph, import_graph(path, fmt))


def test_obographs_uses_iris(rich_graph, tmp_path):
    data = json.loads(export_graph(rich_graph, tmp_path / "g.json", "obographs").read_text())
    ids = {n["id"] for n in data["graphs"][0]["nodes"]}
    assert "http://purl.obolibrary.org/obo/FIX_0000001" in ids and "http://id.nlm.nih.gov/mesh/D001008" in ids


def test_read_errors(tmp_path):
    with pytest.raises(InputError, match="not a graph directory"):
        read_graph(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "meta.json").write_text("{}")
    with pytest.raises(InputError, match="graph directory lacks nodes.parquet"):
        read_graph(tmp_path / "half")
    with pytest.raises(InputError, match="unknown export format 'dot'"):
        export_graph(ConceptGraph(), tmp_path / "x", "dot")


def _generated(n: int) -> ConceptGraph:
    cg = ConceptGraph()
    g = cg.graph
    for i in range(n):
        g.add_node(
            f"X:{i}",
            label=f"concept {i}",
            synonyms=[(f"syn {i}", "EXACT"), (f"other {i}", "RELATED")],
            definition=None,
            xrefs=[f"MESH:D{i:06d}"],
            tree_numbers=[f"A{i % 100:02d}.{i:03d}"],
            semantic_types=[],
            source="X",
            obsolete=False,
            replaced_by=[],
        )
        if i:
            g.add_edge(f"X:{i}", f"X:{(i - 1) // 3}", relation="is_a")
    return cg


def test_reload_30k_concepts(tmp_path):
    """Reload speed is measured in benchmarks/bench_ontology_owl.py (``cache``), not here."""
    cg = _generated(30_000)
    write_graph(cg, tmp_path / "g")
    back = read_graph(tmp_path / "g")
    assert len(back) == 30_000 and back.graph.number_of_edges() == 29_999
    assert back.concept("X:29999") == cg.concept("X:29999")


@pytest.mark.slow  # the whole MeSH tree
def test_mesh_2017_tree_round_trip(shared_data, tmp_path):
    mesh_tree = pytest.importorskip("ontology.readers.mesh_tree")
    path = shared_data / "mesh" / "raw" / "2017MeshTree.txt"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    descriptors = {r[1] for r in rows}
    cg = mesh_tree.read_mesh_tree(path)
    write_graph(cg, tmp_path / "mesh")
    back = read_graph(tmp_path / "mesh")
    assert descriptors <= {n.split(":", 1)[1] for n in back if n.startswith("MESH:")}
    _same(cg, back)
