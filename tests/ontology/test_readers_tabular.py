"""Tabular readers on real data: the Disease Ontology's HumanDO.tsv and ICD-10-CM from simple-icd-10-cm."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.readers.icd10cm import read_icd10cm
from ontology.readers.tabular import read_tabular


def test_humando_by_parent_label(shared_data):
    path = shared_data / "disease_ontology" / "HumanDO.tsv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    ids = {r["id"] for r in rows}
    label_of = {r["id"]: r["label"] for r in rows}
    id_of = {v: k for k, v in label_of.items()}
    cg = read_tabular(path)
    assert len(cg) == len(ids) == 12246
    expected = {(r["id"], id_of[r["subClassOf"]]) for r in rows if r["subClassOf"] in id_of}
    assert set(cg.graph.edges) == expected
    unresolved = {r["subClassOf"] for r in rows if r["subClassOf"] not in id_of}
    assert len(cg.skipped) == len(unresolved)
    assert "parent 'disease' is not a concept of this table" in cg.skipped[0]
    assert cg.label("DOID:150") == "disease of mental health"


def test_mesh_xrefs_in_do(shared_data):
    path = shared_data / "disease_ontology" / "MESHinDO.tsv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    cg = read_tabular(path)
    assert sum(len(d["xrefs"]) for _, d in cg.graph.nodes(data=True)) == len(
        {(r["id"], r["xrefs"]) for r in rows}
    )


def test_parent_by_id_with_prefix(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("code,name,parent\n1,root,\n2,child,1\n3,grandchild,2\n4,orphan,99\n")
    cg = read_tabular(path, prefix="X")
    assert cg.parents("X:3") == ["X:2"] and cg.parents("X:2") == ["X:1"]
    assert cg.skipped == [
        f"{path}:5: parent '99' is not a concept of this table; X:4 and its siblings become roots"
    ]


def test_bad_rows_and_mapping(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("id\tlabel\tparent\nX:1\troot\t\nX:2\tchild\n")
    assert read_tabular(path).skipped == [f"{path}:3: expected 3 fields, got 2"]
    with pytest.raises(InputError) as exc:
        read_tabular(path, strict=True)
    assert str(exc.value) == f"{path}:3: expected 3 fields, got 2"
    with pytest.raises(InputError) as exc:
        read_tabular(path, parent_col="broader")
    assert str(exc.value) == f"{path}:1: no parent column 'broader'; the header has ['id', 'label', 'parent']"


def _icd_xml() -> Path:
    pkg = pytest.importorskip("simple_icd_10_cm")
    return next((Path(pkg.__file__).parent / "data").glob("icd10c*-tabular*.xml"))


def test_icd10cm_tree():
    path = _icd_xml()
    text = path.read_text(encoding="utf-8")
    cg = read_icd10cm(path)
    kinds = Counter(d["kind"] for _, d in cg.graph.nodes(data=True))
    assert kinds["chapter"] == text.count("<chapter>")
    assert kinds["section"] == len(re.findall(r"<section id=", text))
    assert kinds["category"] + kinds["code"] == len(re.findall(r"<diag[\s>]", text))
    assert len(cg.roots()) == kinds["chapter"]
    assert cg.paths_to_root("ICD10CM:F41.1") == [
        ["ICD10CM:F41.1", "ICD10CM:F41", "ICD10CM:F40-F48", "ICD10CM:chapter-5"]
    ]
    f411 = cg.concept("ICD10CM:F41.1")
    assert f411["label"] == "Generalized anxiety disorder" and f411["kind"] == "code"
    assert f411["tree_numbers"] == ["5/F40-F48/F41/F41.1"]
    assert ("Anxiety neurosis", "RELATED") in f411["synonyms"]
    assert cg.concept("ICD10CM:B99-B99")["kind"] == "section"  # a one-category section keeps its own node
    assert cg.sources[0]["version"] == "2026"


def test_icd10cm_seventh_characters_match_the_package_code_list():
    pkg = pytest.importorskip("simple_icd_10_cm")
    cg = read_icd10cm(_icd_xml(), seventh_characters=True)
    ours = {n.split(":", 1)[1] for n in cg.graph if not n.startswith("ICD10CM:chapter-")}
    theirs = {c for c in pkg.get_all_codes(True) if not c.isdigit()}
    assert theirs <= ours
    assert cg.label("ICD10CM:S00.00XA") == "Unspecified superficial injury of scalp, initial encounter"


def test_icd10cm_wrong_root(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text("<?xml version='1.0'?><ICD10PCS.tabular/>")
    with pytest.raises(InputError) as exc:
        read_icd10cm(path)
    assert str(exc.value) == f"{path}: root element is <ICD10PCS.tabular>, expected <ICD10CM.tabular>"
