"""Hand-made concept graphs shared by the tagging tests."""

from __future__ import annotations

from ontology.graph import ConceptGraph


def disorders_and_procedures() -> ConceptGraph:
    """Three tagged concepts under one category (panic disorder, anxiety disorders, cholecystectomy) and an
    unrelated root ("Heart")."""
    cg = ConceptGraph()
    cg.add_concept("X:root", "Disorders and Procedures")
    cg.add_concept("X:cat", "Things Seen")
    cg.add_parent("X:cat", "X:root")
    for cid, label in [
        ("X:panic", "Panic Disorder"),
        ("X:anx", "Anxiety Disorders"),
        ("X:chole", "Cholecystectomy"),
    ]:
        cg.add_concept(cid, label)
        cg.add_parent(cid, "X:cat")
    cg.add_concept("X:heart", "Heart")
    return cg
