"""Hand-made concept graphs and MeSH tree files shared by the tagging and scope tests."""

from __future__ import annotations

from ontology.graph import ConceptGraph

#: a MeSH tree file (tab-separated, with header): carcinoma, two digestive operations, panic disorder
MESH_TREE = """Tree Number\tDesc Ui\tTerm
C04\tD009369\tNeoplasms
C04.557\tD009370\tNeoplasms by Histologic Type
C04.557.470\tD002277\tCarcinoma
E04\tD013514\tSurgical Procedures, Operative
E04.210\tD004191\tDigestive System Surgical Procedures
E04.210.120\tD000009\tAppendectomy
E04.210.240\tD002763\tCholecystectomy
F03\tD001523\tMental Disorders
F03.080\tD001008\tAnxiety Disorders
F03.080.725\tD016584\tPanic Disorder
"""


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
