"""The same ontology read from OBO, OWL (RDF/XML) and Turtle gives the same concepts and edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from ontology.graph import ConceptGraph
from ontology.readers.owl import read_owl
from ontology.readers.rdf import read_rdf

obo = pytest.importorskip("ontology.readers.obo", reason="the OBO reader is not there yet")

FIX = Path(__file__).parent / "fixtures" / "owl"
COMPARED = ("label", "definition", "obsolete", "source")


def _view(cg: ConceptGraph) -> tuple[dict, set]:
    nodes = {}
    for cid, d in cg.graph.nodes(data=True):
        nodes[cid] = {k: d.get(k) for k in COMPARED}
        nodes[cid]["synonyms"] = sorted(tuple(s) for s in d.get("synonyms") or [])
        nodes[cid]["xrefs"] = sorted(d.get("xrefs") or [])
        nodes[cid]["replaced_by"] = sorted(d.get("replaced_by") or [])
    edges = {(a, b, r) for a, b, r in cg.graph.edges(data="relation")}
    return nodes, edges


@pytest.mark.parametrize("other", ["fixture.owl", "fixture.ttl"])
def test_obo_and_owl_agree(other):
    from_obo = obo.read_obo(FIX / "fixture.obo")
    from_owl = read_owl(FIX / other) if other.endswith(".owl") else read_rdf(FIX / other)
    obo_nodes, obo_edges = _view(from_obo)
    owl_nodes, owl_edges = _view(from_owl)
    assert set(obo_nodes) == set(owl_nodes)
    for cid in obo_nodes:
        assert obo_nodes[cid] == owl_nodes[cid], cid
    assert obo_edges == owl_edges
    assert from_obo.stats()["max_depth"] == from_owl.stats()["max_depth"] == 3
    assert from_obo.sources[0]["version"] == from_owl.sources[0]["version"] == "fixture/2026-01-01"
