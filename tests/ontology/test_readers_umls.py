"""UMLS RRF reader on synthetic files (UMLS itself is licensed): names, direction of MRREL, semantic types."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.readers.umls import read_umls

FIX = Path(__file__).parent / "fixtures" / "umls"


def test_names_filters_and_xrefs():
    cg = read_umls(FIX)
    assert sorted(cg) == [f"UMLS:C000000{i}" for i in range(1, 6)]  # C0000006 is French only
    # preferred name (TS=P, STT=PF, ISPREF=Y) wins over an earlier variant row
    anxiety_disorders = cg.concept("UMLS:C0000002")
    assert anxiety_disorders["label"] == "Anxiety Disorders"
    # the suppressible (SUPPRESS=O) SNOMED name is dropped with its code
    assert anxiety_disorders["synonyms"] == [("anxiety disorder", "EXACT")]
    assert anxiety_disorders["xrefs"] == ["MESH:D001008"]
    assert cg.concept("UMLS:C0000003")["xrefs"] == ["MESH:D010698", "HP:0000762"]
    assert cg.concept("UMLS:C0000001")["synonyms"] == [("Psychiatric Diseases", "EXACT")]
    assert cg.concept("UMLS:C0000001")["definition"].startswith("Psychiatric illness")


def test_mrrel_direction():
    cg = read_umls(FIX)
    edges = {(a, b): d["relation"] for a, b, d in cg.graph.edges(data=True)}
    assert edges == {
        ("UMLS:C0000002", "UMLS:C0000001"): "is_a",  # C2 PAR C1 and C1 CHD C2: C1 is the parent
        ("UMLS:C0000003", "UMLS:C0000002"): "is_a",  # C2 CHD C3: C3 is a child of C2
        ("UMLS:C0000005", "UMLS:C0000002"): "broader",  # C5 RB C2: C2 is broader
        ("UMLS:C0000004", "UMLS:C0000001"): "broader",  # C1 RN C4: C4 is narrower
    }
    only_par = read_umls(FIX, relations=("PAR", "CHD"))
    assert only_par.parents("UMLS:C0000005") == []


def test_semantic_types_and_provenance():
    cg = read_umls(FIX)
    assert cg.concept("UMLS:C0000004")["semantic_types"] == ["T041"]
    assert cg.graph.graph["semantic_type_names"]["T048"] == "Mental or Behavioral Dysfunction"
    assert [s["file"] for s in cg.sources] == ["MRCONSO.RRF", "MRREL.RRF", "MRSTY.RRF", "MRDEF.RRF"]
    assert "UMLS Metathesaurus License" in cg.sources[0]["licence"]


def test_language_and_source_filters():
    french = read_umls(FIX, languages=("FRE",))
    assert sorted(french) == ["UMLS:C0000001", "UMLS:C0000006"]
    assert french.label("UMLS:C0000001") == "Troubles mentaux"
    msh = read_umls(FIX / "MRCONSO.RRF", sources=("MSH",))
    assert "UMLS:C0000005" not in msh
    assert msh.parents("UMLS:C0000003") == ["UMLS:C0000002"]


def test_columns_from_mrfiles(tmp_path):
    (tmp_path / "MRFILES.RRF").write_text(
        "MRCONSO.RRF|names|STR,CUI,LAT,TS,STT,ISPREF,SAB,CODE,SUPPRESS|9|1|10|\n"
    )
    (tmp_path / "MRCONSO.RRF").write_text("Anxiety|C0000004|ENG|P|PF|Y|MSH|D001007|N|\n")
    cg = read_umls(tmp_path)
    assert cg.label("UMLS:C0000004") == "Anxiety" and cg.concept("UMLS:C0000004")["xrefs"] == ["MESH:D001007"]


def test_malformed_rows(tmp_path):
    for f in FIX.iterdir():
        shutil.copy(f, tmp_path / f.name)
    with open(tmp_path / "MRREL.RRF", "a") as fh:
        fh.write("C0000001|A1|AUI|PAR\n")
    cg = read_umls(tmp_path)
    assert cg.skipped == [f"{tmp_path / 'MRREL.RRF'}:8: expected 16 '|'-separated fields, got 4"]
    with pytest.raises(InputError) as exc:
        read_umls(tmp_path, strict=True)
    assert str(exc.value) == f"{tmp_path / 'MRREL.RRF'}:8: expected 16 '|'-separated fields, got 4"


def test_missing_mrconso(tmp_path):
    with pytest.raises(InputError) as exc:
        read_umls(tmp_path)
    assert str(exc.value) == f"{tmp_path}: no MRCONSO.RRF here: expected a UMLS META directory"
