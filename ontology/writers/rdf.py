"""A concept graph as OWL in RDF/XML or Turtle, which ``ontology build`` reads back
(:mod:`ontology.readers.owl`, :mod:`ontology.readers.rdf`).

Every concept is an ``owl:Class`` named by the IRI of its CURIE (:func:`ontology.prefixes.expand`) with
``rdfs:label``, oboInOwl synonyms of its scope and ``hasDbXref`` literals, the IAO definition,
``rdfs:subClassOf`` its parents, ``owl:deprecated`` and IAO ``term replaced by``, SKOS mapping triples,
``meshv:treeNumber`` and ``oboInOwl:hasAlternativeId``. Not carried: ``semantic_types`` and medunlearn's own
attributes (``docs/architecture.md``).
"""

from __future__ import annotations

from pathlib import Path

from ontology.common.atomic import atomic_path
from ontology.graph import ConceptGraph
from ontology.prefixes import OBO, converter, expand, prefix_map
from ontology.writers.vocab import DEFINITION, OIO, REPLACED_BY, SKOS, SYNONYM_PREDICATES, TREE_NUMBER

#: ``ontology export --format`` name → rdflib serialiser
RDF_FORMATS = {"owl": "xml", "ttl": "turtle"}


def rdf_graph(cg: ConceptGraph) -> object:
    """The rdflib ``Graph`` of ``cg``."""
    from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, URIRef

    g = Graph()
    for prefix in ("rdfs", "owl", "skos", "oboInOwl", "IAO", "meshv"):
        g.bind(prefix, converter().prefix_map[prefix])
    for prefix, namespace in prefix_map(cg.graph.nodes).items():
        g.bind(prefix, namespace, override=False)
    name = cg.graph.graph.get("ontology")
    onto = URIRef(f"{OBO}{name}.owl" if name else "urn:medunlearn:graph")
    g.add((onto, RDF.type, OWL.Ontology))
    versions = [s["version"] for s in cg.sources if s.get("version")]
    if versions:
        g.add((onto, OWL.versionInfo, Literal(versions[0])))
    alt_ids = cg.graph.graph.get("alt_ids") or {}
    iri = {cid: URIRef(expand(cid)) for cid in cg.graph.nodes}
    xref, alt = URIRef(OIO + "hasDbXref"), URIRef(OIO + "hasAlternativeId")
    for cid, d in cg.graph.nodes(data=True):
        s = iri[cid]
        g.add((s, RDF.type, OWL.Class))
        if d.get("label"):
            g.add((s, RDFS.label, Literal(d["label"])))
        for text, scope in d.get("synonyms") or ():
            g.add((s, URIRef(OIO + SYNONYM_PREDICATES.get(scope, "hasRelatedSynonym")), Literal(text)))
        if d.get("definition"):
            g.add((s, URIRef(DEFINITION), Literal(d["definition"])))
        mapped = {t for _, t in d.get("mappings") or ()}
        for x in d.get("xrefs") or ():
            if x not in mapped:
                g.add((s, xref, Literal(x)))
        for predicate, target in d.get("mappings") or ():
            g.add((s, URIRef(SKOS + predicate), URIRef(expand(target))))
        for tn in d.get("tree_numbers") or ():
            g.add((s, URIRef(TREE_NUMBER), Literal(tn)))
        if d.get("obsolete"):
            g.add((s, OWL.deprecated, Literal(True, datatype=XSD.boolean)))
        for r in d.get("replaced_by") or ():
            g.add((s, URIRef(REPLACED_BY), URIRef(expand(r))))
        for parent in cg.graph.successors(cid):
            g.add((s, RDFS.subClassOf, iri[parent]))
    for a, primary in alt_ids.items():
        if primary in iri:
            g.add((iri[primary], alt, Literal(a)))
    return g


def write_rdf(cg: ConceptGraph, path: str | Path, format: str) -> Path:
    """Write ``cg`` as OWL: ``format`` ``owl`` (RDF/XML) or ``ttl`` (Turtle), atomically."""
    path = Path(path)
    data = rdf_graph(cg).serialize(format=RDF_FORMATS[format], encoding="utf-8")  # type: ignore[attr-defined]
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
