"""OWL ontologies (RDF/XML and OWL/XML) into a :class:`~ontology.graph.ConceptGraph`.

Parsing uses owlready2's compiled RDF/XML and OWL/XML parsers (``owlready2_optimized``; its pure-Python
parsers where the compiled module is missing) and receives their triples directly, without filling owlready2's SQLite quadstore or building Python class objects: that is
faster and smaller than ``get_ontology(...).load()`` (see ``docs/benchmarks.md``). The vocabulary
mapping (:class:`TripleCollector`) is shared with the Turtle/N-Triples/JSON-LD reader in
:mod:`ontology.readers.rdf`.

What is read
------------
- Concepts: named subjects typed ``owl:Class``, ``rdfs:Class`` or ``skos:Concept``, and named subjects of
  ``rdfs:subClassOf``. ``owl:Thing``/``owl:Nothing`` and blank nodes are never concepts.
- Label: ``rdfs:label``, else ``skos:prefLabel`` (English or untagged literals; the first one read wins).
- Duplicate ids: a class with two different values of ``rdfs:label`` (or of ``skos:prefLabel``) in one
  language (or both untagged) is the same id defined twice (ROBOT's ``multiple_labels``, SKOS's one
  ``prefLabel`` per language); the first value read is kept and ``duplicate id X: …`` is noted in ``skipped``,
  as are two IRIs that give one CURIE (their attributes merged). A repeated triple, or one label in several
  languages, is not a duplicate: RDF states facts, and stating one twice changes nothing.
- Synonyms: ``oboInOwl:hasExactSynonym``/``hasRelatedSynonym``/``hasBroadSynonym``/``hasNarrowSynonym`` with
  that scope; ``skos:altLabel`` as ``EXACT``.
- Definition: ``IAO:0000115`` or ``skos:definition``. Xrefs: ``oboInOwl:hasDbXref``. SKOS mappings
  (``skos:exactMatch`` … to a named class) → ``mappings`` as ``(predicate, target)``, the target also an xref, as
  the OBO reader does. MeSH tree numbers: ``meshv:treeNumber`` (a literal or MeSH RDF's tree-number resource). Alternative ids
  (``oboInOwl:hasAlternativeId``) in ``graph.graph["alt_ids"]`` (alt id → primary id), as the OBO reader does.
- Parents: ``rdfs:subClassOf`` and ``skos:broader`` whose object is a named class (restrictions and class
  expressions are ignored); an edge to ``owl:Thing`` is dropped.
- Obsolete: ``owl:deprecated true``; ``IAO:0100001`` (term replaced by) fills ``replaced_by``. Obsolete
  concepts stay out of the hierarchy: their edges are dropped and noted in ``skipped``.
- A parent that the file never declares as a class: the edge is dropped and noted in ``skipped`` (as the
  OBO reader does; :func:`ontology.validate.validate` reports it as a dangling parent).
- Restrictions (``owl:someValuesFrom``…) are not read: the graph is the ``is_a`` hierarchy only.

CURIEs from IRIs (:func:`iri_to_curie`)
---------------------------------------
1. A namespace of the prefix table (:mod:`ontology.prefixes`, a ``curies`` converter: e.g.
   ``http://id.nlm.nih.gov/mesh/`` and BioPortal's MeSH PURLs → ``MESH``) → its preferred prefix.
2. An OBO PURL ``http://purl.obolibrary.org/obo/PREFIX_LOCAL`` → ``PREFIX:LOCAL`` (``DOID_4`` → ``DOID:4``).
3. Otherwise the local name is the fragment after ``#`` (or the last path segment) and the prefix is the
   preceding path segment without its file extension, upper-cased:
   ``http://example.org/onto/heart.owl#Valve`` → ``HEART:Valve``. A local name that itself looks like
   ``PREFIX_123`` gives ``PREFIX:123``.
4. An IRI with no usable path is kept whole.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers.expat import ExpatError

from ontology.common.errors import InputError
from ontology.common.hashing import sha256_file
from ontology.graph import ConceptGraph, gc_paused
from ontology.prefixes import compress, expand
from ontology.readers.xmlsafe import check_xml

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OIO = "http://www.geneontology.org/formats/oboInOwl#"
OBO = "http://purl.obolibrary.org/obo/"

RDF_TYPE = RDF + "type"
CLASS_TYPES = frozenset({OWL + "Class", RDFS + "Class", SKOS + "Concept"})
PARENT_PREDICATES = frozenset({RDFS + "subClassOf", SKOS + "broader"})
NOT_CONCEPTS = frozenset({OWL + "Thing", OWL + "Nothing"})
LABEL_PREDICATES = {RDFS + "label": 0, SKOS + "prefLabel": 1}
_LABEL_NAMES = ("rdfs:label", "skos:prefLabel")  # by rank
SYNONYM_PREDICATES = {
    OIO + "hasExactSynonym": "EXACT",
    OIO + "hasRelatedSynonym": "RELATED",
    OIO + "hasBroadSynonym": "BROAD",
    OIO + "hasNarrowSynonym": "NARROW",
    SKOS + "altLabel": "EXACT",
}
DEFINITION_PREDICATES = frozenset({OBO + "IAO_0000115", SKOS + "definition"})
XREF = OIO + "hasDbXref"
ALT_ID = OIO + "hasAlternativeId"
DEPRECATED = OWL + "deprecated"
REPLACED_BY = OBO + "IAO_0100001"
TREE_NUMBER = "http://id.nlm.nih.gov/mesh/vocab#treeNumber"
MAPPING_PREDICATES = {
    SKOS + m: m for m in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
}
VERSION_PREDICATES = frozenset({OWL + "versionIRI", OWL + "versionInfo"})
LICENCE_PREDICATES = frozenset(
    {"http://purl.org/dc/terms/license", "http://purl.org/dc/elements/1.1/license"}
)

_OBO_LOCAL = re.compile(r"^([A-Za-z][A-Za-z0-9.]*)_(\w[\w.\-]*)$")


def iri_to_curie(iri: str) -> str:
    """The CURIE of an IRI by the rules in the module docstring.

    Examples
    --------
    >>> iri_to_curie("http://purl.obolibrary.org/obo/DOID_4")
    'DOID:4'
    >>> iri_to_curie("http://id.nlm.nih.gov/mesh/D003920")
    'MESH:D003920'
    >>> iri_to_curie("http://example.org/onto/heart.owl#Valve")
    'HEART:Valve'
    >>> iri_to_curie("http://example.org/terms/EX_0001")
    'EX:0001'
    """
    known = compress(iri)
    if known is not None:
        return known
    if iri.startswith(OBO):
        local = iri[len(OBO) :]
        m = _OBO_LOCAL.match(local)
        if m:
            return f"{m.group(1)}:{m.group(2)}"
    if "#" in iri:
        base, local = iri.rsplit("#", 1)
    else:
        base, _, local = iri.rstrip("/").rpartition("/")
    m = _OBO_LOCAL.match(local)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    segment = base.rstrip("/").rpartition("/")[2].split(".")[0]
    if not local or not segment or segment.endswith(":"):
        return iri
    return f"{segment.upper()}:{local}"


def curie_to_iri(curie: str) -> str:
    """The IRI for a CURIE (:func:`ontology.prefixes.expand`: the source's own IRIs, else an OBO PURL).

    Examples
    --------
    >>> curie_to_iri("DOID:4"), curie_to_iri("MESH:D003920")
    ('http://purl.obolibrary.org/obo/DOID_4', 'http://id.nlm.nih.gov/mesh/D003920')
    """
    return expand(curie)


def _is_english(lang: str | None) -> bool:
    return not lang or lang.lstrip("@").lower().split("-")[0] == "en"


def _assign_curies(classes: Iterable[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The CURIE of each class IRI, and a duplicate note for each IRI whose CURIE an earlier one already gives."""
    curie: dict[str, str] = {}
    owner: dict[str, str] = {}
    duplicates: list[tuple[str, str]] = []
    for iri in classes:
        c = iri_to_curie(iri)
        if c in owner:
            duplicates.append((f"duplicate id {c}: {iri} and {owner[c]} both give it", "attributes merged"))
        owner.setdefault(c, iri)
        curie[iri] = c
    return curie, duplicates


class TripleCollector:
    """Receives triples (IRIs as strings, blank nodes starting with ``_``) and builds the concept graph.

    ``add_objects`` takes ``(s, p, o)`` with ``o`` an IRI or blank node; ``add_literals`` takes
    ``(s, p, value, lang_or_datatype)``.
    """

    def __init__(self) -> None:
        self.classes: dict[str, None] = {}  # ordered: nodes keep the file's order
        self.ontologies: set[str] = set()
        self.edges: list[tuple[str, str]] = []
        self.records: dict[str, list[tuple[str, Any, Any]]] = defaultdict(list)
        self.ontology_meta: dict[str, list[str]] = defaultdict(list)
        #: ``(fault, what was done about it)`` for each duplicate id, in the order found
        self.duplicates: list[tuple[str, str]] = []

    def add_objects(self, triples: Iterable[tuple[str, str, str]]) -> None:
        classes, edges, records = self.classes, self.edges, self.records
        for s, p, o in triples:
            if not s or not o or s[0] == "_":  # blank nodes, and empty IRIs of a broken file
                continue
            if p == RDF_TYPE:
                if o in CLASS_TYPES:
                    classes[s] = None
                elif o == OWL + "Ontology":
                    self.ontologies.add(s)
            elif p in PARENT_PREDICATES:
                if o[0] != "_":
                    edges.append((s, o))
            elif p == REPLACED_BY:
                records[s].append(("replaced_by", o, None))
            elif p in VERSION_PREDICATES or p in LICENCE_PREDICATES:
                self.ontology_meta[p].append(o)
            elif p == XREF:
                records[s].append(("xref", iri_to_curie(o), None))
            elif p in MAPPING_PREDICATES:
                records[s].append(("mapping", (MAPPING_PREDICATES[p], iri_to_curie(o)), None))
            elif p == TREE_NUMBER:  # MeSH RDF: a TreeNumber resource named by the tree number
                records[s].append(("tree_number", o.rstrip("/").rpartition("/")[2], None))

    def add_literals(self, triples: Iterable[tuple[str, str, Any, Any]]) -> None:
        records = self.records
        labels, synonyms = LABEL_PREDICATES, SYNONYM_PREDICATES
        for s, p, o, d in triples:
            if not s or s[0] == "_":
                continue
            if p in labels:
                lang = d.lower() if d and d[0] == "@" else ""
                if _is_english(lang):
                    records[s].append(("label", str(o), (labels[p], lang)))
            elif p in synonyms:
                if _is_english(d if d and d[0] == "@" else None):
                    records[s].append(("synonym", str(o), synonyms[p]))
            elif p in DEFINITION_PREDICATES:
                if _is_english(d if d and d[0] == "@" else None):
                    records[s].append(("definition", str(o), None))
            elif p == XREF:
                records[s].append(("xref", str(o), None))
            elif p == DEPRECATED:
                records[s].append(("deprecated", str(o).strip().lower() in ("true", "1"), None))
            elif p == ALT_ID:
                records[s].append(("alt_id", str(o), None))
            elif p == TREE_NUMBER:
                records[s].append(("tree_number", str(o), None))
            elif p == REPLACED_BY:
                records[s].append(("replaced_by", str(o), None))
            elif p in VERSION_PREDICATES or p in LICENCE_PREDICATES:
                self.ontology_meta[p].append(str(o))

    def build(self, path: Path, fmt: str) -> ConceptGraph:
        """The concept graph of everything collected, with ``path`` as its source."""
        classes = self.classes
        for s, _ in self.edges:
            classes.setdefault(s, None)
        for iri in NOT_CONCEPTS:
            classes.pop(iri, None)
        curie, duplicates = _assign_curies(classes)
        nodes: dict[str, dict[str, Any]] = {}
        alt_ids: dict[str, str] = {}
        notes: list[str] = []
        records = self.records
        no_records: list[tuple[str, Any, Any]] = []
        for iri in classes:
            cid = curie[iri]
            label, label_rank = "", 99
            synonyms: list[tuple[str, str]] = []
            definition = None
            xrefs: list[str] = []
            replaced: list[str] = []
            trees: list[str] = []
            mappings: list[tuple[str, str]] = []
            obsolete = False
            first_labels: dict[tuple[int, str], str] | None = None  # by (rank, language)
            for kind, value, extra in records.pop(iri, no_records):  # pop: free them as we go
                if kind == "label":
                    if extra[0] < label_rank:
                        label, label_rank = value, extra[0]
                    if first_labels is None:
                        first_labels = {extra: value}
                    elif (first := first_labels.setdefault(extra, value)) != value:
                        duplicates.append((_two_labels(cid, extra, first, value), "kept the first"))
                elif kind == "synonym":
                    synonyms.append((value, extra))
                elif kind == "xref":
                    xrefs.append(value)
                elif kind == "definition":
                    definition = definition or value
                elif kind == "deprecated":
                    obsolete = obsolete or value
                elif kind == "alt_id":
                    alt_ids.setdefault(value, cid)
                elif kind == "replaced_by":
                    replaced.append(iri_to_curie(value) if "://" in value or value[:4] == "urn:" else value)
                elif kind == "tree_number":
                    trees.append(value)
                elif kind == "mapping":
                    mappings.append(value)
                    xrefs.append(value[1])
            if cid in nodes:  # two IRIs with one CURIE
                old = nodes[cid]
                old["label"] = old["label"] or label
                old["synonyms"] += synonyms
                old["xrefs"] += xrefs
                continue
            # the keys of ontology.graph.node_attrs, built inline: this loop runs once per class
            nodes[cid] = {
                "label": label,
                "synonyms": synonyms,
                "definition": definition,
                "xrefs": xrefs,
                "tree_numbers": trees,
                "semantic_types": [],
                "source": cid.split(":", 1)[0] if ":" in cid else path.stem,
                "obsolete": obsolete,
                "replaced_by": replaced,
            }
            if mappings:
                nodes[cid]["mappings"] = mappings
        edges: dict[tuple[str, str], None] = {}
        for s, o in self.edges:
            if o in NOT_CONCEPTS or s == o:
                continue
            child = curie[s]
            parent = curie.get(o) or iri_to_curie(o)
            parent = alt_ids.get(parent, parent)
            if parent not in nodes:
                notes.append(
                    f"subClassOf target {parent} of {child} is not a class in this file; edge dropped"
                )
                continue
            if nodes[child]["obsolete"] or nodes[parent]["obsolete"]:
                notes.append(f"{child} subClassOf {parent}: obsolete term kept out of the hierarchy")
                continue
            edges[(child, parent)] = None
        cg = ConceptGraph.from_records(
            nodes,
            ((c, p, "is_a") for c, p in edges),
            sources=[self.provenance(path, fmt)],
            skipped=[f"{path}: {fault}; {done}" for fault, done in duplicates]
            + [f"{path}: {n}" for n in notes],
            alt_ids={a: c for a, c in alt_ids.items() if a not in nodes},
        )
        self.duplicates = duplicates
        return cg

    def provenance(self, path: Path, fmt: str) -> dict[str, Any]:
        """``{"file", "format", "version", "sha256", "licence"}`` for the graph's ``sources``."""
        meta = self.ontology_meta
        versions = meta.get(OWL + "versionIRI") or meta.get(OWL + "versionInfo") or []
        licences = [v for p in LICENCE_PREDICATES for v in meta.get(p, [])]
        return {
            "file": path.name,
            "format": fmt,
            "version": versions[0] if versions else None,
            "sha256": sha256_file(path),
            "licence": licences[0] if licences else None,
        }


def _two_labels(cid: str, key: tuple[int, str], first: str, second: str) -> str:
    rank, lang = key
    return (
        f"duplicate id {cid}: two {lang or 'untagged'} {_LABEL_NAMES[rank]} values, {first!r} and {second!r}"
    )


class _Sink:
    """The queue owlready2's compiled parser writes its triple batches to."""

    def __init__(self, collector: TripleCollector) -> None:
        self.collector = collector

    def put(self, item: tuple[str, Any]) -> None:
        kind, batch = item
        if kind == "objs":
            self.collector.add_objects(batch)
        elif kind == "datas":
            self.collector.add_literals(batch)


_ROOT = re.compile(rb"<(?![?!])([\w.\-]+:)?([\w.\-]+)")


def sniff_xml_flavour(path: Path) -> str:
    """``"rdfxml"`` or ``"owlxml"`` from the root element of an XML file.

    Raises
    ------
    InputError
        When the file is empty or its root element is neither ``rdf:RDF`` nor ``Ontology``.
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise InputError("empty file", path)
    body = re.sub(rb"<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", b"", head, flags=re.S)
    m = _ROOT.search(body)
    root = m.group(2).decode("ascii", "replace") if m else ""
    if root == "RDF":
        return "rdfxml"
    if root == "Ontology":
        return "owlxml"
    shown = f"<{root}>" if root else "no XML element"
    raise InputError(f"not RDF/XML or OWL/XML (root element is {shown})", path)


_LINE = re.compile(r"line (\d+)")
_ENCODING = re.compile(rb"<\?xml[^>]*encoding=[\"']([\w.\-]+)")


def _invalid_utf8(path: Path) -> tuple[int, int] | None:
    """(byte offset, line) of the first invalid UTF-8 byte of a file declared (or defaulting to) UTF-8."""
    data = path.read_bytes()
    m = _ENCODING.match(data[:200])
    if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start, data.count(b"\n", 0, exc.start) + 1
    return None


def _parse_xml(fh: BinaryIO, flavour: str, collector: TripleCollector) -> None:
    """Run owlready2's compiled parser, or its pure-Python one where the compiled module is missing."""
    try:
        import owlready2_optimized
    except ImportError:
        owlready2_optimized = None
    if owlready2_optimized is not None:
        parse = owlready2_optimized.parse_rdfxml if flavour == "rdfxml" else owlready2_optimized.parse_owlxml
        parse(fh, _Sink(collector), "", 1 << 16)
        return
    objs: list[tuple[str, str, str]] = []
    datas: list[tuple[str, str, Any, Any]] = []

    def on_obj(s: str, p: str, o: str) -> None:
        objs.append((s, p, o))

    def on_data(s: str, p: str, o: Any, d: Any) -> None:
        datas.append((s, p, o, d))

    if flavour == "rdfxml":
        from owlready2 import rdfxml_2_ntriples

        rdfxml_2_ntriples.parse(fh, on_obj, on_data, None, None, "")
    else:
        from owlready2 import owlxml_2_ntriples

        owlxml_2_ntriples.parse(fh, on_obj, on_data, None, "")
    collector.add_objects(objs)
    collector.add_literals(datas)


def read_owl(path: str | Path, strict: bool = False) -> ConceptGraph:
    """Read an OWL file in RDF/XML or OWL/XML (told apart by the root element).

    Parameters
    ----------
    path : str or Path
        The ``.owl``/``.rdf``/``.owx`` file.
    strict : bool
        Raise :class:`~ontology.common.errors.InputError` at the first duplicate id (two IRIs that give one
        CURIE, two labels in one language) instead of noting it. Dropped edges (undeclared parents, obsolete
        terms) are always only noted in ``skipped``.

    Raises
    ------
    InputError
        Missing or empty file, unknown root element, or malformed XML (``file:line: message``);
        :class:`~ontology.readers.xmlsafe.EntityRefused` for entity declarations or an external DTD.
    """
    from owlready2.base import OwlReadyOntologyParsingError

    path = Path(path)
    if not path.is_file():
        raise InputError("is a directory, expected a file" if path.is_dir() else "file not found", path)
    flavour = sniff_xml_flavour(path)
    check_xml(path, external_dtd=False)
    collector = TripleCollector()
    try:
        with gc_paused(), open(path, "rb") as fh:
            _parse_xml(fh, flavour, collector)
    except (OwlReadyOntologyParsingError, ExpatError, UnicodeDecodeError) as exc:
        cause = exc.__cause__ or exc
        line = getattr(cause, "lineno", None)
        if line is None:
            m = _LINE.search(str(exc))
            line = int(m.group(1)) if m else None
        detail = str(cause) if cause is not exc else str(exc)
        detail = re.sub(r":? ?line \d+, column \d+\.?", "", detail).strip() or type(cause).__name__
        bad_byte = _invalid_utf8(path)
        if bad_byte is not None:
            raise InputError(f"invalid UTF-8 at byte offset {bad_byte[0]}", path, bad_byte[1]) from None
        what = "RDF/XML" if flavour == "rdfxml" else "OWL/XML"
        raise InputError(f"malformed {what}: {detail}", path, line) from None
    with gc_paused():
        cg = collector.build(path, flavour)
    if strict and collector.duplicates:
        raise InputError(f"{collector.duplicates[0][0]} (strict mode)", path)
    return cg
