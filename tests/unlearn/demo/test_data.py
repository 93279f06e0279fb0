"""The bundled demo data: reproducible, self-consistent, and in the shape the demo relies on.

Expected values are computed here from the files themselves (rdflib + networkx on the ontology,
plain string checks on the records), not taken from the generator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
import rdflib
from rdflib import OWL, RDF, RDFS

import unlearn.demo as demo
from ontology.common.errors import InputError
from unlearn.demo import DEFAULT_SCOPES, FILES, load_probes, load_qa, load_records, split_by_scope
from unlearn.demo.build import check, main
from unlearn.demo.ontology_spec import parse_spec

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data"
OBOINOWL = rdflib.Namespace("http://www.geneontology.org/formats/oboInOwl#")
DEFINITION = rdflib.URIRef("http://purl.obolibrary.org/obo/IAO_0000115")
CURIE = re.compile(r"^https://medunlearn\.example/onto/DEMO_(\d{4})$")


def curie(node: rdflib.term.Node) -> str:
    m = CURIE.match(str(node))
    assert m, node
    return f"DEMO:{m.group(1)}"


@pytest.fixture(scope="module")
def ttl() -> rdflib.Graph:
    return rdflib.Graph().parse(DATA / FILES["ontology_ttl"], format="turtle")


@pytest.fixture(scope="module")
def classes(ttl: rdflib.Graph) -> dict[str, dict]:
    """CURIE → {label, forms (label + synonyms, lower case), parents} read from the Turtle file."""
    out = {}
    for node in ttl.subjects(RDF.type, OWL.Class):
        labels = [str(o) for o in ttl.objects(node, RDFS.label)]
        syns = [
            str(o)
            for p in (OBOINOWL.hasExactSynonym, OBOINOWL.hasRelatedSynonym)
            for o in ttl.objects(node, p)
        ]
        out[curie(node)] = {
            "labels": labels,
            "forms": {f.lower() for f in labels + syns},
            "definitions": [str(o) for o in ttl.objects(node, DEFINITION)],
            "parents": {curie(o) for o in ttl.objects(node, RDFS.subClassOf)},
        }
    return out


@pytest.fixture(scope="module")
def tree(classes: dict[str, dict]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(classes)
    g.add_edges_from((child, parent) for child, c in classes.items() for parent in c["parents"])
    return g


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return load_records(DATA / FILES["records"])


@pytest.fixture(scope="module")
def probes() -> list[dict]:
    return load_probes(DATA / FILES["probes"])


# ------------------------------------------------------------------------------------------- reproducibility
def test_checked_in_data_matches_a_fresh_build() -> None:
    assert check(DATA, seed=demo.records.DEFAULT_SEED) == []


def test_rebuild_in_another_process_is_byte_identical(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    code = f"from unlearn.demo.build import build_all; build_all({str(tmp_path)!r})"
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
    for name in FILES.values():
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_check_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in FILES.values():
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    with open(tmp_path / FILES["qa"], "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert FILES["qa"] in capsys.readouterr().err


def test_data_is_small_and_says_it_is_synthetic() -> None:
    assert sum((DATA / n).stat().st_size for n in FILES.values()) < 1_000_000
    readme = (DATA / FILES["readme"]).read_text(encoding="utf-8")
    assert "synthetic" in readme.lower() and "fictitious" in readme and "Apache-2.0" in readme
    assert "python -m unlearn.demo.build" in readme


# ------------------------------------------------------------------------------------------------ ontology
def test_turtle_and_rdfxml_hold_the_same_triples(ttl: rdflib.Graph) -> None:
    owl = rdflib.Graph().parse(DATA / FILES["ontology_owl"], format="xml")
    assert len(ttl) > 1000
    assert set(ttl) == set(owl)


def test_every_class_has_one_label_and_one_definition(classes: dict[str, dict]) -> None:
    assert 250 <= len(classes) <= 450
    assert all(len(c["labels"]) == 1 and c["labels"][0].strip() for c in classes.values())
    assert all(len(c["definitions"]) == 1 for c in classes.values())
    labels = [c["labels"][0].lower() for c in classes.values()]
    assert len(set(labels)) == len(labels)


def test_surface_forms_are_unambiguous(classes: dict[str, dict]) -> None:
    owners = Counter(form for c in classes.values() for form in c["forms"])
    assert [f for f, n in owners.items() if n > 1] == []


def test_parent_structure_gives_four_levels(tree: nx.DiGraph) -> None:
    roots = [n for n in tree if tree.out_degree(n) == 0]
    assert len(roots) == 4
    assert nx.is_directed_acyclic_graph(tree)
    depth = nx.multi_source_dijkstra_path_length(tree.reverse(copy=True), roots)
    assert len(depth) == len(tree)
    assert set(depth.values()) == {0, 1, 2, 3}
    # every parent sits exactly one level up, so no concept's level depends on which parent is used
    assert all(depth[parent] == depth[child] - 1 for child, parent in tree.edges)
    multi = [n for n in tree if tree.out_degree(n) > 1]
    assert multi and all(depth[n] == 3 for n in multi)
    counts = Counter(depth.values())
    assert counts[0] < counts[1] < counts[2] < counts[3]


def test_default_scopes_are_the_named_categories(classes: dict[str, dict], tree: nx.DiGraph) -> None:
    assert classes[DEFAULT_SCOPES["surgery"]]["labels"] == ["surgical procedures"]
    assert classes[DEFAULT_SCOPES["mental"]]["labels"] == ["mental disorders"]
    roots = [n for n in tree if tree.out_degree(n) == 0]
    depth = nx.multi_source_dijkstra_path_length(tree.reverse(copy=True), roots)
    assert {depth[r] for r in DEFAULT_SCOPES.values()} == {1}


def test_spec_errors_name_the_line() -> None:
    with pytest.raises(InputError, match=r":2: indent of 3"):
        parse_spec("a | | A.\n   b | | B.")
    with pytest.raises(InputError, match=r":2: level 3 line has no parent"):
        parse_spec("a | | A.\n    b | | B.")
    with pytest.raises(InputError, match=r":3: unknown 'also' parent 'zz'"):
        parse_spec("a | | A.\n  b | | B.\n  c | | C. | also: zz")
    with pytest.raises(InputError, match=r":1: synonym 'X:y'"):
        parse_spec("a | X:y | A.")


# ------------------------------------------------------------------------------------------------- records
def test_records_are_marked_synthetic_and_unique(records: list[dict]) -> None:
    assert 120 <= len(records) <= 200
    assert all(r["text"].startswith("SYNTHETIC RECORD — fictitious patient.") for r in records)
    for key in ("record_id", "mrn", "patient_name"):
        values = [r[key] for r in records]
        assert len(set(values)) == len(values), key
    assert all(re.fullmatch(r"\d{7}", r["mrn"]) for r in records)


def test_records_are_short(records: list[dict]) -> None:
    words = [len(r["text"].split()) for r in records]
    assert max(words) <= 90, "records must stay near 128 tokens for CPU training"


def test_records_mention_their_concepts_literally(records: list[dict], classes: dict[str, dict]) -> None:
    for r in records:
        text = r["text"].lower()
        assert r["concepts"], r["record_id"]
        for cid in r["concepts"]:
            assert any(form in text for form in classes[cid]["forms"]), (r["record_id"], cid)
        named = [r["diagnosis"], *r["medications"]] + ([r["procedure"]] if r["procedure"] else [])
        assert set(named) <= set(r["concepts"]), r["record_id"]


def test_records_are_varied(records: list[dict]) -> None:
    surgical = [r["procedure"] for r in records if r["specialty"] == "surgery"]
    assert len(set(surgical)) >= 0.8 * len(surgical)
    assert len({r["diagnosis"] for r in records}) >= 80
    assert len({r["date"] for r in records}) >= 0.9 * len(records)


@pytest.mark.parametrize("scope", sorted(DEFAULT_SCOPES))
def test_scope_selection_is_a_proper_subset(scope: str, records: list[dict], tree: nx.DiGraph) -> None:
    forget, retain = split_by_scope(records, scope)
    assert 0 < len(forget) < len(records) and len(forget) + len(retain) == len(records)
    root = DEFAULT_SCOPES[scope]
    subtree = nx.ancestors(tree, root) | {root}  # edges point child → parent
    expected = {r["record_id"] for r in records if subtree & set(r["concepts"])}
    assert {r["record_id"] for r in forget} == expected
    assert all(scope in r["scopes"] for r in forget) and not any(scope in r["scopes"] for r in retain)
    assert {r["split"] for r in forget} == {"train", "holdout"}


def test_scope_by_concept_id_and_unknown_scope(records: list[dict]) -> None:
    forget, _ = split_by_scope(records, DEFAULT_SCOPES["mental"])
    assert forget == split_by_scope(records, "mental")[0]
    with pytest.raises(InputError, match="unknown demo scope 'nope'"):
        split_by_scope(records, "nope")


def test_split_holds_out_about_a_third_of_each_specialty(records: list[dict]) -> None:
    by = Counter((r["specialty"], r["split"]) for r in records)
    for specialty in {r["specialty"] for r in records}:
        held, total = by[(specialty, "holdout")], by[(specialty, "holdout")] + by[(specialty, "train")]
        assert 0.2 <= held / total <= 0.4, specialty


# -------------------------------------------------------------------------------------------------- probes
def test_probe_answers_are_among_the_options(probes: list[dict], classes: dict[str, dict]) -> None:
    mcq = [p for p in probes if p["kind"] == "mcq"]
    assert mcq
    for p in mcq:
        assert len(p["options"]) == 4 and len(set(p["options"])) == 4, p["probe_id"]
        assert 0 <= p["answer"] < 4
        assert p["options"][p["answer"]] == classes[p["concept_id"]]["labels"][0], p["probe_id"]


def test_probes_cover_every_record(probes: list[dict], records: list[dict]) -> None:
    by_record = Counter((p["record_id"], p["kind"]) for p in probes)
    for r in records:
        assert 1 <= by_record[(r["record_id"], "mcq")] <= 2
        assert by_record[(r["record_id"], "completion")] == 1


def test_completion_prompt_is_the_record_opening(probes: list[dict], records: list[dict]) -> None:
    text = {r["record_id"]: r for r in records}
    for p in (p for p in probes if p["kind"] == "completion"):
        record = text[p["record_id"]]
        assert record["text"].startswith(p["prompt"] + " " + p["target"]), p["probe_id"]
        assert record["patient_name"] in p["prompt"] and record["mrn"] in p["prompt"]
        # nothing clinical precedes the key concept: only the banner, the note's type and date, the patient
        assert p["prompt"].count(". ") == 2, p["probe_id"]


def test_surgery_scope_probes_ask_about_procedures(probes: list[dict]) -> None:
    in_scope = [p for p in probes if "surgery" in p["scopes"]]
    assert in_scope and {p["about"] for p in in_scope} == {"procedure"}


# ------------------------------------------------------------------------------------------------------ QA
def test_qa_items_are_well_formed(classes: dict[str, dict], tree: nx.DiGraph) -> None:
    qa = load_qa(DATA / FILES["qa"])
    assert 80 <= len(qa) <= 150
    roots = [n for n in tree if tree.out_degree(n) == 0]
    depth = nx.multi_source_dijkstra_path_length(tree.reverse(copy=True), roots)
    for item in qa:
        assert len(set(item["options"])) == 4 and 0 <= item["answer"] < 4, item["qa_id"]
        assert item["level"] in (1, 2, 3)
        assert all(c in classes for c in item["concept_ids"])
        assert all(depth[c] <= 2 for c in item["concept_ids"]), "QA items are about L1–L3 knowledge"
    assert {"surgery", "mental"} <= {s for item in qa for s in item["scopes"]}
    assert any(not item["scopes"] for item in qa)


def test_category_items_answer_with_the_parent(classes: dict[str, dict]) -> None:
    category = [item for item in load_qa(DATA / FILES["qa"]) if item["kind"] == "category"]
    assert category, "the demo QA has category items"
    for item in category:
        child, parent = item["concept_ids"]
        assert parent in classes[child]["parents"]
        assert item["options"][item["answer"]] == classes[parent]["labels"][0]


# ----------------------------------------------------------------------------------------- loading, caching
def test_loaders_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "r.jsonl"
    bad.write_text(json.dumps({"record_id": "x"}) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"r\.jsonl:1: missing field"):
        load_records(bad)
    bad.write_text("\n" + "{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"r\.jsonl:2: invalid JSON"):
        load_probes(bad)
    with pytest.raises(InputError, match="no such file"):
        load_qa(tmp_path / "missing.jsonl")


def test_data_dir_is_the_checkout_and_defaults_load_from_it() -> None:
    assert demo.data_dir() == DATA
    assert load_records() == load_records(DATA / FILES["records"])


def test_installed_package_generates_the_same_files(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_CHECKOUT_DATA", tmp_path / "no-checkout")
    where = demo.data_dir()
    assert where.parent == home / "demo-data"
    for name in FILES.values():
        assert (where / name).read_bytes() == (DATA / name).read_bytes(), name
    assert demo.ontology_path("owl") == where / FILES["ontology_owl"]
