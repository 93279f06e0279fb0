"""Tagging rules (hierarchy.lexicon.TaggingRules) on hand-written graphs and texts, expected spans by hand."""

from __future__ import annotations

from typing import Any

import pytest

from hierarchy.levels import build_hierarchy
from hierarchy.lexicon import Lexicon, TaggingRules
from hierarchy.tagger import build_nlp, make_pipeline, tag_text
from ontology.common.config import validate_config
from ontology.common.errors import ConfigError
from ontology.graph import ConceptGraph

# id: (label, tree number, synonyms)
MESHLIKE: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "MESH:D009272": ("Persons", "M01", []),
    "MESH:D010361": ("Patients", "M01.643", []),
    "MESH:D016433": ("News", "V01.630", []),
    "MESH:D013995": ("Time", "G01.910", []),
    "MESH:D006664": ("History", "K01.400", []),
    "MESH:D000388": ("Air", "G16.500", []),
    "MESH:D001523": ("Mental Disorders", "F03", []),
    "MESH:D001008": ("Anxiety Disorders", "F03.080", []),
    "MESH:D007501": ("Iron", "D01.268", []),
    "MESH:D001120": ("Arginine", "D12.125", []),
    "MESH:D000661": ("Amphetamine", "D02.092", []),
    "MESH:D009569": ("Nitric Oxide", "D01.339", [("NO", "RELATED")]),
    "MESH:D008094": ("Lithium", "D01.552", [("Li", "RELATED")]),
    "MESH:D007827": ("Large Intestine", "A03.556", [("LI", "RELATED")]),
    "MESH:D004798": ("Enzymes", "D08.811", []),
    "MESH:D003863": ("Depression", "F01.145", []),
    "MESH:D003866": ("Depressive Disorder", "F03.600", [("depression", "RELATED")]),
    "MESH:D010919": ("Placebos", "D26.660", [("sugar pill", "RELATED")]),
}


def meshlike(evidence: dict[str, dict[str, list[int]]] | None = None) -> ConceptGraph:
    cg = ConceptGraph()
    for cid, (label, tn, syns) in MESHLIKE.items():
        attrs: dict[str, Any] = {"tree_numbers": [tn], "source": "MESH", "synonyms": syns}
        if evidence and cid in evidence:
            attrs["corpus_evidence"] = {"train.txt": evidence[cid]}
        cg.add_concept(cid, label, **attrs)
    cg.add_parent("MESH:D010361", "MESH:D009272")
    cg.add_parent("MESH:D001008", "MESH:D001523")
    return cg


def tagger(rules: TaggingRules | None = None, evidence: dict | None = None, **kw: Any) -> Any:
    cg = meshlike(evidence)
    return build_nlp(build_hierarchy(cg), rules=rules, **kw)


def spans(nlp: Any, text: str) -> list[tuple[str, str]]:
    return [(s["text"], s["concept_id"]) for s in tag_text(nlp, text)]


TEXT = "New patients with a history of anxiety disorders over time, in fresh air."


def test_generic_subtrees_are_no_concept_spans_by_default() -> None:
    assert spans(tagger(), TEXT) == [("anxiety disorders", "MESH:D001008")]
    assert spans(tagger(TaggingRules(exclude=[])), TEXT) == [
        ("New", "MESH:D016433"),
        ("patients", "MESH:D010361"),
        ("history", "MESH:D006664"),
        ("anxiety disorders", "MESH:D001008"),
        ("time", "MESH:D013995"),
        ("air", "MESH:D000388"),
    ]


def test_a_scope_asks_for_an_excluded_subtree() -> None:
    nlp = tagger(scope=["M01"])
    assert spans(nlp, TEXT) == [("patients", "MESH:D010361"), ("anxiety disorders", "MESH:D001008")]


def test_explicit_stoplist() -> None:
    nlp = tagger(TaggingRules(stoplist=["Anxiety Disorder"]))
    assert spans(nlp, TEXT) == []


def test_learnt_stoplist_reads_corpus_evidence() -> None:
    evidence = {
        "MESH:D008094": {"lithium": [9, 10]},  # linked 9 of 10: kept
        "MESH:D001120": {"arginine": [0, 2]},  # 2 occurrences: too few to judge (minimum 3)
        # one name written 10 times and never linked goes; the concept keeps its other, linked name
        "MESH:D003866": {"depression": [0, 10], "depressive disorder": [5, 5]},
        # the concept is never linked where its names are written: every name of it goes
        "MESH:D010919": {"placebo": [0, 20]},
    }
    nlp = tagger(evidence=evidence)
    text = "Lithium and arginine, a placebo or a sugar pill; depression or depressive disorder."
    assert spans(nlp, text) == [
        ("Lithium", "MESH:D008094"),
        ("arginine", "MESH:D001120"),
        ("depression", "MESH:D003863"),  # the other concept named "depression" is not judged
        ("depressive disorder", "MESH:D003866"),
    ]
    lexicon = nlp.get_pipe("medunlearn_concepts").lexicon
    assert sorted(lexicon.stopped) == [("*", "MESH:D010919", 0, 20), ("depression", "MESH:D003866", 0, 10)]
    assert lexicon.dropped["learnt stoplist"] == 1 and lexicon.dropped["learnt stoplist (concept)"] == 1
    # switched off, or with a lower bar, they are tagged again
    every = ["Lithium", "arginine", "placebo", "sugar pill", "depression", "depressive disorder"]
    off = tagger(TaggingRules(learnt_stoplist=False), evidence=evidence)
    assert [t for t, _ in spans(off, text)] == every
    lenient = tagger(TaggingRules(stoplist_max_rate=0.0), evidence=evidence)
    assert [t for t, _ in spans(lenient, text)] == every


def test_short_abbreviations_match_in_their_own_case() -> None:
    nlp = tagger()
    assert spans(nlp, "NO rose; no change; Li, LI and li.") == [
        ("NO", "MESH:D009569"),
        ("Li", "MESH:D008094"),
        ("LI", "MESH:D007827"),
    ]
    # with the rule off, "no" is a stop word (never a key) and "li" takes the better of the two entries
    anycase = tagger(TaggingRules(case_sensitive_chars=0))
    assert spans(anycase, "no change in li") == [("li", "MESH:D007827")]


def test_title_case_names_are_not_concept_spans() -> None:
    nlp = tagger()
    assert spans(nlp, "A Grid Iron incision was made.") == []
    assert spans(nlp, "Grid Iron incision.") == []
    # a sentence that starts with the word, or lower-case text, keeps it
    assert spans(nlp, "Iron levels fell. Serum Iron was low.") == [("Iron", "MESH:D007501")]
    assert spans(nlp, "grid iron incision") == [("iron", "MESH:D007501")]
    assert spans(tagger(TaggingRules(proper_names=False)), "A Grid Iron incision.") == [
        ("Iron", "MESH:D007501")
    ]


def test_configuration_prefixes_widen_a_chemical() -> None:
    nlp = tagger()
    assert spans(nlp, "L-arginine and d-amphetamine, not pre-arginine.") == [
        ("L-arginine", "MESH:D001120"),
        ("d-amphetamine", "MESH:D000661"),
        ("arginine", "MESH:D001120"),
    ]


def test_corpus_links_decide_between_concepts_sharing_a_name() -> None:
    # without evidence the label of the L-deeper concept wins; curators' links decide when there are some
    cg = meshlike({"MESH:D003866": {"depression": [18, 19]}})
    levels = {"MESH:D003863": 4, "MESH:D003866": 3}
    nlp = make_pipeline(Lexicon.from_graph(cg, levels))
    assert spans(nlp, "depression") == [("depression", "MESH:D003866")]
    plain = make_pipeline(Lexicon.from_graph(meshlike(), levels))
    assert spans(plain, "depression") == [("depression", "MESH:D003863")]


def test_an_abbreviation_needs_its_whole_long_form() -> None:
    # "angiotensin-converting enzyme" is no key: ACE does not become "Enzymes" from the long form's last word
    nlp = tagger()
    assert spans(nlp, "Angiotensin-converting enzyme (ACE) inhibitors; ACE rose.") == [
        ("enzyme", "MESH:D004798")
    ]
    assert spans(nlp, "Nitric oxide (NOx) and NOx.") == [
        ("Nitric oxide", "MESH:D009569"),
        ("NOx", "MESH:D009569"),
        ("NOx", "MESH:D009569"),
    ]


def test_rules_validate_as_a_config() -> None:
    rules = validate_config({"exclude": ["V"], "stoplist_max_rate": 0.1}, TaggingRules, source="tagging.yaml")
    assert rules.exclude == ["V"] and rules.learnt_stoplist
    with pytest.raises(ConfigError, match="tagging.yaml: stoplist_max_rat: unknown key"):
        validate_config({"stoplist_max_rat": 0.1}, TaggingRules, source="tagging.yaml")


def test_hierarchy_tag_cli_takes_rules_and_scope(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from ontology.store import write_graph
    from unlearn.cli import app

    write_graph(meshlike(), tmp_path / "G")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": TEXT}) + "\n")
    (tmp_path / "rules.yaml").write_text("exclude: [V]\n")

    def tagged(*extra: str) -> list[str]:
        out = tmp_path / f"s{len(extra)}.jsonl"
        res = CliRunner().invoke(
            app, ["hierarchy", "tag", str(tmp_path / "G"), str(tmp_path / "c.jsonl"), "-o", str(out), *extra]
        )
        assert res.exit_code == 0, res.output
        return [s["text"] for s in json.loads(out.read_text().splitlines()[0])["spans"]]

    assert tagged() == ["anxiety disorders"]
    assert tagged("--scope", "M01") == ["patients", "anxiety disorders"]
    assert tagged("--rules", str(tmp_path / "rules.yaml")) == [
        "patients",
        "history",
        "anxiety disorders",
        "time",
        "air",
    ]
    (tmp_path / "bad.yaml").write_text("exclud: [V]\n")
    res = CliRunner().invoke(
        app, ["hierarchy", "tag", str(tmp_path / "G"), str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "x.jsonl"),
              "--rules", str(tmp_path / "bad.yaml")],
    )  # fmt: skip
    assert res.exit_code != 0 and "bad.yaml: exclud: unknown key" in str(res.exception)
