"""``ontology.loader.load``: format detection, errors naming the file, several sources merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.loader import FORMATS, detect_format, load

FIX = Path(__file__).parent / "fixtures"


def test_detect_real_and_fixture_files(shared_data):
    raw = shared_data / "mesh" / "raw"
    assert detect_format(raw / "2017MeshTree.txt") == "mesh-tree"
    assert detect_format(next(raw.glob("mesh2026_descriptors*.csv"))) == "mesh-csv"
    assert detect_format(shared_data / "disease_ontology" / "HumanDO.tsv") == "tsv"
    assert detect_format(shared_data / "disease_ontology" / "GOLD.obo") == "obo"
    assert detect_format(FIX / "desc_small.xml") == "mesh-xml"
    assert detect_format(FIX / "umls") == "umls"
    assert detect_format(FIX / "umls" / "MRCONSO.RRF") == "umls"


def test_detect_by_first_bytes(tmp_path):
    cases = {
        "a.dat": ("format-version: 1.4\n\n[Term]\nid: X:1\n", "obo"),
        "b.dat": ("<?xml version='1.0'?>\n<rdf:RDF xmlns:rdf='x'/>", "owl"),
        "c.dat": ("<?xml version='1.0'?>\n<ICD10CM.tabular/>", "icd10cm"),
        "d.dat": ("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n", "ttl"),
        "e.dat": ("<http://a/b> <http://a/c> <http://a/d> .\n", "nt"),
        "f.dat": ('{"@context": {}}', "jsonld"),
        "g.dat": ("Anxiety;F01.470\n", "mesh-tree"),
    }
    for name, (text, fmt) in cases.items():
        (tmp_path / name).write_text(text)
        assert detect_format(tmp_path / name) == fmt, name


def test_load_auto_and_explicit():
    cg = load(FIX / "obo" / "small.obo")
    assert cg.label("SM:0000002") == "mental disorder"
    assert load(FIX / "umls", format="umls").label("UMLS:C0000004") == "Anxiety"
    assert load(FIX / "umls", languages=("FRE",)).label("UMLS:C0000001") == "Troubles mentaux"


def test_unknown_format_names_the_file(tmp_path):
    path = tmp_path / "notes.dat"
    path.write_text("just some prose\n")
    with pytest.raises(InputError) as exc:
        load(path)
    assert str(exc.value) == (
        f"{path}: unknown format: cannot tell it from the extension or the first bytes; "
        "pass format= one of owl, ttl, nt, jsonld, obo, obographs, mesh-tree, mesh-xml, mesh-csv, umls, tsv, icd10cm, pubtator"
    )
    with pytest.raises(InputError) as exc:
        load(path, format="xls")
    assert str(exc.value) == f"unknown format 'xls'; choose one of {', '.join(FORMATS)}"


def test_empty_and_missing(tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        load(empty)
    assert str(exc.value) == f"{empty}: empty file"
    with pytest.raises(InputError) as exc:
        load(tmp_path / "nope.obo")
    assert str(exc.value) == f"{tmp_path / 'nope.obo'}: file not found"


def test_several_sources_are_merged(shared_data):
    slims = [shared_data / "disease_ontology" / n for n in ("GOLD.obo", "DO_AGR_slim.obo")]
    ids = set()
    for p in slims:
        ids |= {
            line.split(": ", 1)[1].strip()
            for line in p.read_text().splitlines()
            if line.startswith("id: DOID:")
        }
    cg = load(slims)
    assert {n for n in cg if n.startswith("DOID:")} == ids
    assert sorted(s["file"] for s in cg.sources) == ["DO_AGR_slim.obo", "GOLD.obo"]
