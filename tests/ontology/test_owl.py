"""OWL (RDF/XML, OWL/XML) and RDF (Turtle, N-Triples, JSON-LD) readers on hand-written fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import rdflib

from ontology.common.errors import InputError
from ontology.readers.owl import curie_to_iri, iri_to_curie, read_owl
from ontology.readers.rdf import read_rdf
from ontology.readers.xmlsafe import EntityRefused

FIX = Path(__file__).parent / "fixtures" / "owl"
EDGES = {
    ("FIX:0000002", "FIX:0000001"),
    ("FIX:0000003", "FIX:0000002"),
    ("FIX:0000004", "FIX:0000003"),
    ("FIX:0000005", "FIX:0000001"),
    ("FIX:0000006", "FIX:0000003"),
    ("FIX:0000006", "FIX:0000005"),
}


@pytest.fixture(params=["rdfxml", "turtle-oxigraph", "turtle-rdflib", "nt", "json-ld"])
def fixture_graph(request, tmp_path):
    kind = request.param
    if kind == "rdfxml":
        return read_owl(FIX / "fixture.owl")
    if kind.startswith("turtle"):
        return read_rdf(FIX / "fixture.ttl", engine=kind.split("-")[1])
    g = rdflib.Graph().parse(FIX / "fixture.ttl")
    out = tmp_path / f"fixture.{kind}"
    g.serialize(out, format=kind, encoding="utf-8")
    return read_rdf(out, format=kind)


def test_fixture_concepts_and_edges(fixture_graph):
    cg = fixture_graph
    assert sorted(cg) == [f"FIX:000000{i}" for i in range(1, 8)]
    assert set(cg.graph.edges) == EDGES
    assert all(r == "is_a" for _, _, r in cg.graph.edges(data="relation"))
    mental = cg.concept("FIX:0000002")
    assert mental["label"] == "mental disorder"
    assert sorted(mental["synonyms"]) == [("mental illness", "RELATED"), ("psychiatric disorder", "EXACT")]
    assert mental["definition"] == "A disease of mental health."
    assert mental["xrefs"] == ["MESH:D001523"]
    assert mental["source"] == "FIX"
    assert cg.label("FIX:0000001") == "disease"  # the @en label, not the @fr one
    assert cg.concept("FIX:0000003")["synonyms"] == [("anxiety", "BROAD")]
    assert cg.concept("FIX:0000004")["synonyms"] == [("panic attacks", "NARROW")]
    old = cg.concept("FIX:0000007")
    assert old["obsolete"] is True and old["replaced_by"] == ["FIX:0000003"]
    assert cg.parents("FIX:0000006") == ["FIX:0000003", "FIX:0000005"]
    (src,) = cg.sources
    assert src["version"] == "fixture/2026-01-01" and len(src["sha256"]) == 64


def test_owl_xml_fixture():
    cg = read_owl(FIX / "fixture.owx")
    assert sorted(cg) == ["FIX:0000001", "FIX:0000002", "FIX:0000003"]
    assert set(cg.graph.edges) == {("FIX:0000002", "FIX:0000001"), ("FIX:0000003", "FIX:0000002")}
    assert cg.label("FIX:0000003") == "anxiety disorder"
    assert cg.concept("FIX:0000003")["xrefs"] == ["MESH:D001008"]
    assert cg.concept("FIX:0000002")["synonyms"] == [("psychiatric disorder", "EXACT")]
    assert cg.sources[0]["format"] == "owlxml"


def test_skos_vocabulary_prefers_english_and_uses_broader():
    cg = read_rdf(FIX / "skos.ttl")
    assert sorted(cg) == ["PSYCH:Anxiety", "PSYCH:Disorder"]
    assert cg.label("PSYCH:Anxiety") == "Anxiety disorder"
    assert cg.parents("PSYCH:Anxiety") == ["PSYCH:Disorder"]
    d = cg.concept("PSYCH:Disorder")
    assert d["synonyms"] == [("psychiatric illness", "EXACT")]
    assert d["definition"] == "A clinically significant disturbance."


def test_undeclared_parent_is_dropped_and_noted():
    cg = read_rdf(FIX / "cyclic.ttl")
    assert "CYC:0000099" not in cg
    assert cg.parents("CYC:0000004") == ["CYC:0000001"]
    assert any("CYC:0000099" in s and "not a class in this file" in s for s in cg.skipped)


def test_obsolete_class_with_parent_stays_out_of_hierarchy(tmp_path):
    ttl = tmp_path / "obs.ttl"
    ttl.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix obo: <http://purl.obolibrary.org/obo/> .\n"
        "obo:X_1 a owl:Class .\n"
        "obo:X_2 a owl:Class ; rdfs:subClassOf obo:X_1 ; owl:deprecated true .\n"
        'obo:X_3 a owl:Class ; rdfs:subClassOf obo:X_1 ; obo:IAO_0000115 "d" .\n'
        'obo:X_3 <http://www.geneontology.org/formats/oboInOwl#hasAlternativeId> "X:9" .\n'
    )
    cg = read_rdf(ttl)
    assert cg.parents("X:2") == [] and cg.children("X:1") == ["X:3"]
    assert cg.skipped == [f"{ttl}: X:2 subClassOf X:1: obsolete term kept out of the hierarchy"]
    assert cg.graph.graph["alt_ids"] == {"X:9": "X:3"}


@pytest.mark.parametrize(
    ("iri", "curie"),
    [
        ("http://purl.obolibrary.org/obo/DOID_4", "DOID:4"),
        ("http://purl.obolibrary.org/obo/HP_0000118", "HP:0000118"),
        ("http://purl.obolibrary.org/obo/NCBITaxon_9606", "NCBITaxon:9606"),
        ("http://id.nlm.nih.gov/mesh/D001008", "MESH:D001008"),
        ("http://linkedlifedata.com/resource/umls/id/C0003467", "UMLS:C0003467"),
        ("http://example.org/onto/heart.owl#Valve", "HEART:Valve"),
        ("http://example.org/onto/Valve", "ONTO:Valve"),
        ("http://example.org/x#EFO_0000408", "EFO:0000408"),
        ("urn:x", "urn:x"),
    ],
)
def test_iri_to_curie(iri, curie):
    assert iri_to_curie(iri) == curie


def test_curie_to_iri_inverts_obo_and_known_namespaces():
    for curie in ["DOID:4", "HP:0000118", "MESH:D001008", "UMLS:C0003467"]:
        assert iri_to_curie(curie_to_iri(curie)) == curie


def test_id_clash_is_noted_or_raised_in_strict_mode(tmp_path):
    ttl = tmp_path / "clash.ttl"
    ttl.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "<http://purl.obolibrary.org/obo/X_1> a owl:Class .\n<http://other.org/x#X_1> a owl:Class .\n"
    )
    assert len(read_rdf(ttl)) == 1
    with pytest.raises(InputError, match=r"duplicate id X:1: .* both give it \(strict mode\)"):
        read_rdf(ttl, strict=True)


# -- malformed input: exact one-line messages -------------------------------------------------------------
def test_missing_file():
    with pytest.raises(InputError) as e:
        read_owl(FIX / "nope.owl")
    assert str(e.value) == f"{FIX / 'nope.owl'}: file not found"


def test_empty_file():
    with pytest.raises(InputError) as e:
        read_owl(FIX / "empty.owl")
    assert str(e.value) == f"{FIX / 'empty.owl'}: empty file"
    with pytest.raises(InputError, match="empty file"):
        read_rdf(FIX / "empty.owl", format="turtle")


def test_malformed_rdfxml_names_the_line():
    with pytest.raises(InputError) as e:
        read_owl(FIX / "malformed.owl")
    assert str(e.value) == f"{FIX / 'malformed.owl'}:34: malformed RDF/XML: mismatched tag"


def test_invalid_utf8():
    with pytest.raises(InputError) as e:
        read_owl(FIX / "invalid_utf8.owl")
    assert str(e.value) == f"{FIX / 'invalid_utf8.owl'}:3: invalid UTF-8 at byte offset 255"


def test_entity_bomb_is_refused():
    """Refused at its first entity declaration, before the parser could expand anything."""
    with pytest.raises(EntityRefused) as e:
        read_owl(FIX / "entity_bomb.owl")
    assert str(e.value) == (
        f"{FIX / 'entity_bomb.owl'}:3: "
        "XML entity declarations are refused (entity expansion or external entity attack): <!ENTITY a ...>"
    )


def test_not_an_owl_file(tmp_path):
    p = tmp_path / "x.owl"
    p.write_text("<?xml version='1.0'?>\n<html><body/></html>\n")
    with pytest.raises(InputError) as e:
        read_owl(p)
    assert str(e.value) == f"{p}: not RDF/XML or OWL/XML (root element is <html>)"


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_malformed_turtle_names_the_line(engine):
    with pytest.raises(InputError, match=r"malformed\.ttl:4: malformed turtle: "):
        read_rdf(FIX / "malformed.ttl", engine=engine)


def test_unknown_rdf_format():
    with pytest.raises(InputError) as e:
        read_rdf(FIX / "fixture.ttl", format="n3")
    assert "unknown RDF format 'n3'" in str(e.value)


@pytest.mark.parametrize("name", ["fixture.owl", "fixture.owx"])
def test_pure_python_parser_fallback_gives_the_same_graph(monkeypatch, name):
    compiled = read_owl(FIX / name)
    monkeypatch.setitem(sys.modules, "owlready2_optimized", None)  # import now raises ImportError
    fallback = read_owl(FIX / name)
    assert dict(fallback.graph.nodes(data=True)) == dict(compiled.graph.nodes(data=True))
    assert set(fallback.graph.edges) == set(compiled.graph.edges)


def test_pure_python_parser_fallback_reports_malformed_xml(monkeypatch):
    monkeypatch.setitem(sys.modules, "owlready2_optimized", None)
    with pytest.raises(InputError, match=r"malformed\.owl:34: malformed RDF/XML: mismatched tag"):
        read_owl(FIX / "malformed.owl")
