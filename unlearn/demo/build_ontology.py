"""Write the demo ontology as OWL: Turtle and RDF/XML, byte-identical on every run.

Vocabulary: ``owl:Class`` per concept, ``rdfs:label``, ``rdfs:subClassOf``, ``oboInOwl:hasExactSynonym`` /
``oboInOwl:hasRelatedSynonym`` (abbreviations are exact synonyms), ``oboInOwl:id`` (the CURIE) and
``obo:IAO_0000115`` (definition), the annotation conventions of OBO ontologies.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from ontology.common.atomic import atomic_write_bytes
from unlearn.demo.ontology_spec import IRI_BASE, PREFIX, SpecConcept, iri

OBO = Namespace("http://purl.obolibrary.org/obo/")
OBOINOWL = Namespace("http://www.geneontology.org/formats/oboInOwl#")
DEFINITION = OBO["IAO_0000115"]
SYNONYM_PREDICATE = {"EXACT": OBOINOWL.hasExactSynonym, "RELATED": OBOINOWL.hasRelatedSynonym}
#: the prefixes written into both files; RDF/XML declares those used as element names
NAMESPACES = {
    "dcterms": DCTERMS,
    "obo": OBO,
    "oboInOwl": OBOINOWL,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    PREFIX.lower(): Namespace(IRI_BASE + PREFIX + "_"),
}
XML_ELEMENT_PREFIXES = ("dcterms", "obo", "oboInOwl", "owl", "rdf", "rdfs")
ONTOLOGY_IRI = URIRef(IRI_BASE + "demo.owl")
LICENCE = URIRef("https://www.apache.org/licenses/LICENSE-2.0")
VERSION = "1.0"


def to_graph(concepts: Iterable[SpecConcept]) -> Graph:
    """The rdflib graph of the demo ontology.

    Examples
    --------
    >>> from unlearn.demo.ontology_spec import parse_spec
    >>> g = to_graph(parse_spec("a | A:AA | Root a.\\n  b | | Child b."))
    >>> sorted(str(g.value(c, RDFS.label)) for c in g.subjects(RDF.type, OWL.Class))
    ['a', 'b']
    """
    g = Graph(bind_namespaces="core")
    for prefix, ns in NAMESPACES.items():
        g.bind(prefix, ns, replace=True)
    g.add((ONTOLOGY_IRI, RDF.type, OWL.Ontology))
    g.add((ONTOLOGY_IRI, DCTERMS.title, Literal("medunlearn demo medical ontology")))
    g.add(
        (
            ONTOLOGY_IRI,
            DCTERMS.description,
            Literal(
                "A small four-level medical concept hierarchy written by the medunlearn developers for the demo. "
                "Labels, synonyms and definitions are our own words; nothing is copied from other ontologies."
            ),
        )
    )
    g.add((ONTOLOGY_IRI, DCTERMS.license, LICENCE))
    g.add((ONTOLOGY_IRI, OWL.versionInfo, Literal(VERSION)))
    for prop in (DEFINITION, OBOINOWL.hasExactSynonym, OBOINOWL.hasRelatedSynonym, OBOINOWL.id):
        g.add((prop, RDF.type, OWL.AnnotationProperty))
    g.add((DEFINITION, RDFS.label, Literal("definition")))
    for c in concepts:
        node = URIRef(iri(c.id))
        g.add((node, RDF.type, OWL.Class))
        g.add((node, RDFS.label, Literal(c.label)))
        g.add((node, OBOINOWL.id, Literal(c.id)))
        g.add((node, DEFINITION, Literal(c.definition)))
        for parent in c.parents:
            g.add((node, RDFS.subClassOf, URIRef(iri(parent))))
        for syn in c.synonyms:
            g.add((node, SYNONYM_PREDICATE[syn.scope], Literal(syn.text)))
    return g


def serialize_turtle(graph: Graph) -> bytes:
    """Turtle with a stable order: rdflib sorts subjects and predicates; objects are re-added sorted."""
    ordered = Graph()
    for prefix, ns in graph.namespaces():
        ordered.bind(prefix, ns, replace=True)
    for triple in sorted(graph, key=_triple_key):
        ordered.add(triple)
    data = ordered.serialize(format="turtle", encoding="utf-8")
    return data if data.endswith(b"\n") else data + b"\n"


def serialize_rdfxml(graph: Graph) -> bytes:
    """RDF/XML with subjects and statements sorted.

    rdflib's own RDF/XML writers follow the store's hash order, which changes between runs; this
    writer covers what the demo graph holds (IRIs, plain or typed literals, one ``rdf:type`` per
    subject written as a typed node) and nothing more.
    """

    def qname(term: object) -> str:
        iri = str(term)
        for prefix in XML_ELEMENT_PREFIXES:
            ns = str(NAMESPACES[prefix])
            if iri.startswith(ns) and iri[len(ns) :].isidentifier():
                return f"{prefix}:{iri[len(ns) :]}"
        raise ValueError(f"{term}: no XML element prefix for this IRI")

    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<rdf:RDF"]
    lines += [f"   xmlns:{p}={quoteattr(str(NAMESPACES[p]))}" for p in XML_ELEMENT_PREFIXES]
    lines[-1] += ">"
    if any(isinstance(term, BNode) for triple in graph for term in triple):
        raise ValueError("blank nodes are not supported by this RDF/XML writer")
    for subject in sorted(set(graph.subjects()), key=str):
        types = sorted(graph.objects(subject, RDF.type), key=str)
        element = qname(types[0]) if len(types) == 1 else "rdf:Description"
        lines.append(f"  <{element} rdf:about={quoteattr(str(subject))}>")
        for _, p, o in sorted(graph.triples((subject, None, None)), key=_triple_key):
            if p == RDF.type and element != "rdf:Description":
                continue
            tag = qname(p)
            if isinstance(o, Literal):
                attrs = f" rdf:datatype={quoteattr(str(o.datatype))}" if o.datatype else ""
                attrs += f" xml:lang={quoteattr(o.language)}" if o.language else ""
                lines.append(f"    <{tag}{attrs}>{escape(str(o))}</{tag}>")
            else:
                lines.append(f"    <{tag} rdf:resource={quoteattr(str(o))}/>")
        if lines[-1].startswith(f"  <{element} "):
            lines[-1] = lines[-1][:-1] + "/>"
        else:
            lines.append(f"  </{element}>")
    lines.append("</rdf:RDF>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _triple_key(triple: tuple) -> tuple[str, ...]:
    return tuple(f"{type(term).__name__}:{term}" for term in triple)


def write_ontology(concepts: Iterable[SpecConcept], out_dir: Path) -> list[Path]:
    """Write ``demo_ontology.ttl`` and ``demo_ontology.owl`` (RDF/XML) into ``out_dir`` atomically."""
    graph = to_graph(concepts)
    paths = [out_dir / "demo_ontology.ttl", out_dir / "demo_ontology.owl"]
    atomic_write_bytes(paths[0], serialize_turtle(graph))
    atomic_write_bytes(paths[1], serialize_rdfxml(graph))
    return paths
