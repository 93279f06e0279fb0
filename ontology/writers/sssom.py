"""The cross-source mappings of a concept graph as an SSSOM table (https://w3id.org/sssom), TSV with its YAML
metadata block.

One row per (concept, other-source id) pair:

- a declared SKOS mapping (OBO ``property_value: skos:exactMatch …``, OWL ``skos:…Match``; node attribute
  ``mappings``): ``predicate_id`` that SKOS predicate, ``mapping_justification`` ``semapv:ManualMappingCuration``
  (curated by the ontology's editors);
- any other xref to an id of another prefix: ``oboInOwl:hasDbXref``, ``semapv:UnspecifiedMatching`` (an xref
  says that two concepts correspond, not how);
- when ``ontology build`` merged the other id into this concept (node attribute ``aliases``), the row's
  ``comment`` says so.

Prefixes are standardised (``MSH:`` → ``MESH:``, ``UMLS_CUI:`` → ``UMLS:``) and the ``curie_map`` lists the IRI
of each (:mod:`ontology.prefixes`). Xrefs that are no CURIE (URLs, free text) are left out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ontology.common.atomic import atomic_write_text
from ontology.graph import ConceptGraph
from ontology.prefixes import converter, prefix_map, standardize

COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "object_label",
    "mapping_justification",
    "comment",
)
#: the SSSOM licence to state when the sources' licences differ or are unknown
UNSPECIFIED_LICENSE = "https://w3id.org/sssom/license/unspecified"
_CURIE = re.compile(r"^[A-Za-z][\w.\-]*:[^\s:][^\s]*$")
MERGED = "merged into the subject by ontology build (one-to-one xref group)"


def mapping_rows(cg: ConceptGraph) -> Iterator[dict[str, str]]:
    """The SSSOM rows of ``cg`` (see the module docstring), in node order."""
    g = cg.graph
    for cid, d in g.nodes(data=True):
        prefix = cid.split(":", 1)[0]
        aliases = set(d.get("aliases") or ())
        seen: set[str] = set()
        declared = [(p, t, "semapv:ManualMappingCuration") for p, t in d.get("mappings") or ()]
        xrefs = [(None, x, "semapv:UnspecifiedMatching") for x in d.get("xrefs") or ()]
        for predicate, target, justification in declared + xrefs:
            raw = target.strip()
            if not _CURIE.match(raw) or "://" in raw:
                continue
            obj = standardize(raw)
            if obj in seen or obj.split(":", 1)[0] == prefix:
                continue
            seen.add(obj)
            yield {
                "subject_id": cid,
                "subject_label": d.get("label") or "",
                "predicate_id": f"skos:{predicate}" if predicate else "oboInOwl:hasDbXref",
                "object_id": obj,
                "object_label": g.nodes[obj].get("label", "") if obj in g else "",
                "mapping_justification": justification,
                "comment": MERGED if raw in aliases or obj in aliases else "",
            }


def sssom_metadata(cg: ConceptGraph, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The mapping-set metadata: ``curie_map``, ``mapping_set_id``, ``license``, the sources' versions."""
    used = [r["subject_id"] for r in rows] + [r["object_id"] for r in rows]
    curie_map = {
        p: converter().prefix_map[p] for p in ("skos", "semapv", "oboInOwl") if p in converter().prefix_map
    }
    curie_map |= prefix_map(used)
    licences = {str(s.get("licence")) for s in cg.sources if s.get("licence")}
    names = "+".join(str(s.get("file")) for s in cg.sources) or "graph"
    return {
        "curie_map": curie_map,
        "mapping_set_id": f"urn:medunlearn:sssom:{names}",
        "mapping_set_description": "cross-source mappings of a medunlearn concept graph",
        "mapping_tool": "medunlearn",
        "license": next(iter(licences))
        if len(licences) == 1 and "://" in next(iter(licences))
        else UNSPECIFIED_LICENSE,
        "subject_source_version": ", ".join(str(s.get("version")) for s in cg.sources if s.get("version"))
        or None,
    }


def sssom_text(cg: ConceptGraph) -> str:
    """The SSSOM/TSV text: ``#``-prefixed YAML metadata, then the table."""
    rows = list(mapping_rows(cg))
    meta = {k: v for k, v in sssom_metadata(cg, rows).items() if v is not None}
    head = "".join(
        f"#{line}\n" for line in yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).splitlines()
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return head + buf.getvalue()


def write_sssom(cg: ConceptGraph, path: str | Path) -> Path:
    """Write the SSSOM/TSV file of ``cg``'s cross-source mappings (atomically)."""
    return atomic_write_text(Path(path), sssom_text(cg))
