"""CURIE prefixes and their IRIs: one ``curies`` converter, built here from a fixed table (no network).

The preferred prefixes are the ones the Bioregistry and OBO use for these sources (``MESH``, ``DOID``, ``HP``,
``ICD10CM``, ``UMLS``, ``SNOMEDCT`` …); each record also lists the spellings other files use (``MSH:``,
``UMLS_CUI:``, ``SCTID:``) and other IRI forms of the same identifiers (BioPortal PURLs, identifiers.org), so
that :func:`compress` and :func:`standardize` map them onto the preferred prefix. IRIs are the sources' own
semantic-web ones: MeSH RDF, OBO PURLs, BioPortal PURLs where the source publishes none.

Our own ids: the 16 MeSH tree categories have no identifier in MeSH, so their nodes are ``MESHTREE:A`` …
``MESHTREE:Z`` (``docs/architecture.md``), expanded to ``urn:medunlearn:meshtree:A``: a URN, which names them
without claiming a web namespace we do not own. A prefix outside the table falls back to the OBO PURL
convention (``X:1`` ↔ ``http://purl.obolibrary.org/obo/X_1``), which is how OBO ontologies spell their ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

OBO = "http://purl.obolibrary.org/obo/"
_RELEASE = re.compile(r"_\d{4}_\d{2}_\d{2}$")
#: the records of the converter: preferred prefix, IRI prefix, other spellings of each
RECORDS: list[dict[str, Any]] = [
    {
        "prefix": "MESH",
        "uri_prefix": "http://id.nlm.nih.gov/mesh/",
        "prefix_synonyms": ["MSH", "MeSH", "mesh"],
        "uri_prefix_synonyms": [
            "https://id.nlm.nih.gov/mesh/",
            "http://purl.bioontology.org/ontology/MESH/",
            "http://identifiers.org/mesh/",
            "https://identifiers.org/mesh:",
        ],
    },
    {"prefix": "MESHTREE", "uri_prefix": "urn:medunlearn:meshtree:"},
    {"prefix": "DOID", "uri_prefix": f"{OBO}DOID_", "prefix_synonyms": ["doid"]},
    {"prefix": "HP", "uri_prefix": f"{OBO}HP_", "prefix_synonyms": ["HPO", "hp"]},
    {"prefix": "MONDO", "uri_prefix": f"{OBO}MONDO_", "prefix_synonyms": ["mondo"]},
    {"prefix": "NCIT", "uri_prefix": f"{OBO}NCIT_", "prefix_synonyms": ["NCI", "ncit", "NCIt"]},
    {"prefix": "EFO", "uri_prefix": "http://www.ebi.ac.uk/efo/EFO_", "prefix_synonyms": ["efo"]},
    {
        "prefix": "Orphanet",
        "uri_prefix": "http://www.orpha.net/ORDO/Orphanet_",
        "prefix_synonyms": ["ORDO", "ORPHA", "ORPHANET"],
    },
    {"prefix": "OMIM", "uri_prefix": "https://omim.org/entry/", "prefix_synonyms": ["MIM", "omim"]},
    {
        "prefix": "GARD",
        "uri_prefix": "https://rarediseases.info.nih.gov/diseases/",
        "prefix_synonyms": ["gard"],
    },
    {
        "prefix": "ICD10CM",
        "uri_prefix": "http://purl.bioontology.org/ontology/ICD10CM/",
        "prefix_synonyms": ["icd10cm", "ICD-10-CM"],
    },
    {
        "prefix": "ICD9CM",
        "uri_prefix": "http://purl.bioontology.org/ontology/ICD9CM/",
        "prefix_synonyms": ["icd9cm", "ICD9"],
    },
    {
        "prefix": "ICD10",
        "uri_prefix": "https://icd.who.int/browse10/2019/en#/",
        "prefix_synonyms": ["icd10", "ICD10WHO"],
    },
    {
        "prefix": "UMLS",
        "uri_prefix": "http://linkedlifedata.com/resource/umls/id/",
        "prefix_synonyms": ["UMLS_CUI", "umls", "CUI"],
        "uri_prefix_synonyms": ["https://uts.nlm.nih.gov/uts/umls/concept/", "http://identifiers.org/umls/"],
    },
    {
        "prefix": "SNOMEDCT",
        "uri_prefix": "http://snomed.info/id/",
        "prefix_synonyms": ["SCTID", "SNOMEDCT_US", "snomedct", "SNOMED"],
        "uri_prefix_synonyms": ["http://purl.bioontology.org/ontology/SNOMEDCT/"],
    },
    # vocabularies the writers use
    {"prefix": "rdfs", "uri_prefix": "http://www.w3.org/2000/01/rdf-schema#"},
    {"prefix": "owl", "uri_prefix": "http://www.w3.org/2002/07/owl#"},
    {"prefix": "skos", "uri_prefix": "http://www.w3.org/2004/02/skos/core#"},
    {"prefix": "oboInOwl", "uri_prefix": "http://www.geneontology.org/formats/oboInOwl#"},
    {"prefix": "IAO", "uri_prefix": f"{OBO}IAO_"},
    {"prefix": "dcterms", "uri_prefix": "http://purl.org/dc/terms/"},
    {"prefix": "meshv", "uri_prefix": "http://id.nlm.nih.gov/mesh/vocab#"},
    {"prefix": "semapv", "uri_prefix": "https://w3id.org/semapv/vocab/"},
]


@cache
def converter() -> Any:
    """The ``curies.Converter`` of :data:`RECORDS`."""
    import curies

    return curies.Converter.from_extended_prefix_map(RECORDS)


def expand(curie: str) -> str:
    """The IRI of a CURIE (standard prefixes from the table, others as OBO PURLs); IRIs pass through.

    Examples
    --------
    >>> expand("MESH:D001008"), expand("MSH:D001008"), expand("MESHTREE:F")
    ('http://id.nlm.nih.gov/mesh/D001008', 'http://id.nlm.nih.gov/mesh/D001008', 'urn:medunlearn:meshtree:F')
    >>> expand("FIX:0000001")
    'http://purl.obolibrary.org/obo/FIX_0000001'
    """
    if "://" in curie or curie.startswith("urn:") or ":" not in curie:
        return curie
    iri = converter().expand(curie)
    if iri is not None:
        return str(iri)
    prefix, local = curie.split(":", 1)
    return f"{OBO}{prefix}_{local}"


def compress(iri: str) -> str | None:
    """The CURIE of an IRI under a prefix of the table (preferred spelling), or None.

    Examples
    --------
    >>> compress("http://purl.bioontology.org/ontology/MESH/D001008"), compress("http://example.org/x")
    ('MESH:D001008', None)
    """
    curie = converter().compress(iri)
    return str(curie) if curie is not None else None


def standardize(curie: str) -> str:
    """A CURIE with its prefix in the preferred spelling (``MSH:D1`` → ``MESH:D1``); unknown ones unchanged.

    Examples
    --------
    >>> standardize("UMLS_CUI:C0011849"), standardize("SNOMEDCT_US_2023_03_01:73211009"), standardize("XYZ:1")
    ('UMLS:C0011849', 'SNOMEDCT:73211009', 'XYZ:1')
    """
    prefix, sep, local = curie.partition(":")
    curie = (
        _RELEASE.sub("", prefix) + sep + local
    )  # DO's xrefs name the SNOMED release: SNOMEDCT_US_2023_03_01
    out = converter().standardize_curie(curie)
    return str(out) if out is not None else curie


def prefix_map(curies: Iterable[str]) -> dict[str, str]:
    """``{prefix: IRI prefix}`` for every prefix of ``curies`` (OBO PURL for prefixes outside the table)."""
    conv = converter()
    out: dict[str, str] = {}
    for c in curies:
        prefix = c.split(":", 1)[0]
        if prefix and prefix not in out:
            out[prefix] = conv.prefix_map.get(prefix) or f"{OBO}{prefix}_"
    return out
