"""The IRIs the writers (and the readers that read them back) give each node attribute.

Standard vocabularies where one exists: oboInOwl synonyms and xrefs, IAO definitions and ``term replaced by``,
SKOS mappings, MeSH RDF's ``meshv:treeNumber``, BioPortal's UMLS ``hasSTY`` for semantic types and Dublin Core
``source``. Attributes that only medunlearn has (``kind``, ``aliases``, ``corpus_evidence`` …) travel as JSON
under ``urn:medunlearn:attribute:NAME`` (a URN: named without claiming anyone's web namespace).
"""

from __future__ import annotations

OIO = "http://www.geneontology.org/formats/oboInOwl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SYNONYM_PREDICATES = {
    "EXACT": "hasExactSynonym",
    "RELATED": "hasRelatedSynonym",
    "BROAD": "hasBroadSynonym",
    "NARROW": "hasNarrowSynonym",
}
SYNONYM_SCOPES = {v: k for k, v in SYNONYM_PREDICATES.items()}
ALT_ID = OIO + "hasAlternativeId"
DEFINITION = "http://purl.obolibrary.org/obo/IAO_0000115"
REPLACED_BY = "http://purl.obolibrary.org/obo/IAO_0100001"
TREE_NUMBER = "http://id.nlm.nih.gov/mesh/vocab#treeNumber"
SEMANTIC_TYPE = "http://bioportal.bioontology.org/ontologies/umls/hasSTY"
SOURCE = "http://purl.org/dc/terms/source"
EXTRA = "urn:medunlearn:attribute:"
#: SKOS mapping predicates an OBO ``property_value`` / a node's ``mappings`` may hold
MAPPING_PREDICATES = ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
