"""A concept graph as an OBO 1.4 file that :func:`ontology.readers.obo.read_obo` reads back.

Carried: ids, ``name``, ``def``, synonyms with their scopes, ``xref``, ``is_a`` (other relations as
``relationship``), ``alt_id`` (from ``graph.graph["alt_ids"]``), ``is_obsolete``, ``replaced_by``, SKOS
``mappings`` as ``property_value: skos:…Match`` and MeSH tree numbers as ``property_value: meshv:treeNumber``.
The header names the IRI of every id prefix (``idspace``, :mod:`ontology.prefixes`). Not carried (OBO has no
tag for them): ``semantic_types`` and medunlearn's own attributes (``kind``, ``aliases``, ``corpus_evidence``);
``source`` is read back as the id's prefix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from ontology.common.atomic import atomic_path
from ontology.graph import ConceptGraph
from ontology.prefixes import prefix_map


def quote(text: str) -> str:
    """An OBO quoted string: backslashes, quotes and line breaks escaped.

    Examples
    --------
    >>> quote('say "hi"\\nnow')
    '"say \\\\"hi\\\\"\\\\nnow"'
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _one_line(text: str) -> str:
    return " ".join(text.split())


def obo_lines(cg: ConceptGraph) -> Iterator[str]:
    """The lines of the OBO file of ``cg`` (without line ends)."""
    g = cg.graph
    versions = [s["version"] for s in cg.sources if s.get("version")]
    yield "format-version: 1.4"
    if versions:
        yield f"data-version: {versions[0]}"
    yield f"ontology: {g.graph.get('ontology') or 'medunlearn'}"
    for prefix, iri in sorted(prefix_map(g.nodes).items()):
        yield f"idspace: {prefix} {iri}"
    alt_ids: dict[str, list[str]] = defaultdict(list)
    for alt, primary in (g.graph.get("alt_ids") or {}).items():
        alt_ids[primary].append(alt)
    for cid, d in g.nodes(data=True):
        yield ""
        yield "[Term]"
        yield f"id: {cid}"
        if d.get("label"):
            yield f"name: {_one_line(d['label'])}"
        yield from (f"alt_id: {a}" for a in alt_ids.get(cid, ()))
        if d.get("definition"):
            yield f"def: {quote(d['definition'])} []"
        yield from (f"synonym: {quote(t)} {s} []" for t, s in d.get("synonyms") or ())
        mapped = {t for _, t in d.get("mappings") or ()}
        yield from (f"xref: {x}" for x in d.get("xrefs") or () if x not in mapped and " " not in x)
        for _, parent, rel in g.out_edges(cid, data="relation", default="is_a"):
            label = g.nodes[parent].get("label") or ""
            comment = f" ! {_one_line(label)}" if label else ""
            yield f"is_a: {parent}{comment}" if rel == "is_a" else f"relationship: {rel} {parent}{comment}"
        yield from (f"relationship: {r} {t}" for r, t in d.get("relationships") or ())
        yield from (f"property_value: skos:{p} {t}" for p, t in d.get("mappings") or ())
        yield from (
            f"property_value: meshv:treeNumber {quote(t)} xsd:string" for t in d.get("tree_numbers") or ()
        )
        if d.get("obsolete"):
            yield "is_obsolete: true"
        yield from (f"replaced_by: {r}" for r in d.get("replaced_by") or ())


def write_obo(cg: ConceptGraph, path: str | Path) -> Path:
    """Write ``cg`` as an OBO 1.4 file (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for line in obo_lines(cg):
            fh.write(line + "\n")
    return path
