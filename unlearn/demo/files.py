"""Names of the bundled demo files, the fields each row must have, and the named forget scopes."""

from __future__ import annotations

from unlearn.demo.ontology_spec import id_of

#: named forget scopes: the root concept of each subtree
DEFAULT_SCOPES = {"surgery": id_of("surgical procedures"), "mental": id_of("mental disorders")}
#: the generated files, by role
FILES = {
    "ontology_ttl": "demo_ontology.ttl",
    "ontology_owl": "demo_ontology.owl",
    "records": "demo_records.jsonl",
    "probes": "demo_probes.jsonl",
    "qa": "demo_qa.jsonl",
    "readme": "README.md",
}
REQUIRED_FIELDS = {
    "records": ("record_id", "split", "specialty", "patient_name", "mrn", "text", "concepts"),
    "probes": ("probe_id", "record_id", "split", "kind", "concept_id"),
    "qa": ("qa_id", "question", "options", "answer", "concept_ids", "level"),
}
