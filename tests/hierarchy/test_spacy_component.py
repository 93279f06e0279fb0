"""The spaCy component ``medunlearn_concepts``: entry point, config, save/load without the source, n_process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import spacy

from hierarchy.levels import build_hierarchy
from hierarchy.lexicon import TaggingRules
from hierarchy.store import write_hierarchy
from hierarchy.tagger import build_nlp, tag_texts
from ontology.common.errors import MedunlearnError
from ontology.graph import ConceptGraph
from ontology.store import write_graph

TEXTS = [
    "Generalized anxiety disorder (GAD) and panic attacks. GAD recurs.",
    "After the cholecystectomy she had no anxiety disorder; the herniorrhaphy waited.",
    "Nothing to see here.",
    "A Panic Disorder clinic at Gold Coast; NO was measured, no change. Panic disorders (PD) respond; PD.",
]


def graph() -> ConceptGraph:
    cg = ConceptGraph()
    cg.add_concept("X:root", "Disorders")
    cg.add_concept("X:surg", "Surgical Procedures")
    cg.add_concept("X:anx", "Anxiety Disorders", synonyms=[("anxiety disorder", "EXACT")])
    cg.add_concept("X:gad", "Generalized Anxiety Disorder")
    cg.add_concept("X:pd", "Panic Disorder", synonyms=[("panic attacks", "RELATED")])
    cg.add_concept("X:chole", "Cholecystectomy")
    cg.add_concept("X:hern", "Herniorrhaphy")
    cg.add_concept("X:no", "Nitric Oxide", synonyms=[("NO", "EXACT")])
    for child, parent in [
        ("X:anx", "X:root"), ("X:gad", "X:anx"), ("X:pd", "X:anx"), ("X:chole", "X:surg"),
        ("X:hern", "X:surg"), ("X:no", "X:root"),
    ]:  # fmt: skip
        cg.add_parent(child, parent)
    return cg


def spans(nlp: spacy.Language, texts: list[str], **pipe: int) -> list[list[tuple[int, int, str, int, int]]]:
    return [
        [(s.start_char, s.end_char, s._.concept_id, s._.level, s._.role) for s in d.spans["concepts"]]
        for d in nlp.pipe(texts, **pipe)
    ]


def test_factories_are_registered_by_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="spacy_factories")}
    assert names["medunlearn_concepts"] == names["concept_matcher"] == "hierarchy.tagger:make_concepts"
    assert "paren_abbreviation_detector" in names and "concept_linker" in names
    assert {ep.name for ep in entry_points(group="spacy_tokenizers")} >= {"medunlearn.Tokenizer.v1"}


@pytest.mark.slow
def test_add_pipe_by_name_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """A user's script that never imports hierarchy: the entry point registers the factory."""
    write_graph(graph(), tmp_path / "graph")
    script = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en')\n"
        f"nlp.add_pipe('medunlearn_concepts', config={{'source': {str(tmp_path / 'graph')!r}, 'ents': True}})\n"
        "doc = nlp('She has panic attacks.')\n"
        "print([(s.text, s._.concept_id) for s in doc.spans['concepts']], [e.text for e in doc.ents])\n"
        "assert 'hierarchy.tagger' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('panic attacks', 'X:pd')] ['panic attacks']"


def test_config_source_rules_scope_and_old_name(tmp_path: Path) -> None:
    write_hierarchy(build_hierarchy(graph()), tmp_path / "hier")
    for factory in ("medunlearn_concepts", "concept_matcher"):
        nlp = spacy.blank("en")
        nlp.add_pipe(
            factory,
            config={
                "source": str(tmp_path / "hier"),
                "rules": {"stoplist": ["panic attacks"]},
                "scope": ["X:anx"],
            },
        )
        doc = nlp("The generalized anxiety disorder, not the panic attacks, nor the cholecystectomy.")
        assert [(s.text, s._.concept_id, s._.role) for s in doc.spans["concepts"]] == [
            ("generalized anxiety disorder", "X:gad", 2),  # L3 in scope: target
            ("cholecystectomy", "X:chole", 1),  # outside: preserve
        ]
        assert not doc.ents  # ents only when asked for


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    with pytest.raises(MedunlearnError, match=r"rules\.stoplist_max_rate: .*less than or equal to 1"):
        nlp.add_pipe("medunlearn_concepts", config={"rules": {"stoplist_max_rate": 2}})
    nlp.add_pipe("medunlearn_concepts")
    with pytest.raises(MedunlearnError, match="has no lexicon: give it a source"):
        nlp("text")
    other = spacy.blank("en")
    other.add_pipe("medunlearn_concepts", config={"source": str(tmp_path / "missing")})
    with pytest.raises(MedunlearnError, match="missing"):
        other("text")


def test_saved_pipeline_loads_without_its_source_and_tags_the_same(tmp_path: Path) -> None:
    write_graph(graph(), tmp_path / "graph")
    rules = TaggingRules(stoplist=["disorders"], case_sensitive_chars=3)
    nlp = build_nlp(tmp_path / "graph", scope=["X:anx"], rules=rules, ents=True)
    before = spans(nlp, TEXTS)
    assert (54, 57, "X:gad", 3, 2) in before[0]  # the second "GAD": abbreviation inherited, target role
    nlp.to_disk(tmp_path / "nlp")
    shutil.rmtree(tmp_path / "graph")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == nlp.pipe_names == ["paren_abbreviation_detector", "medunlearn_concepts"]
    assert loaded.config["nlp"]["tokenizer"] == {"@tokenizers": "medunlearn.Tokenizer.v1"}
    assert spans(loaded, TEXTS) == before
    assert list(tag_texts(loaded, TEXTS)) == list(tag_texts(nlp, TEXTS))
    assert [e.text for e in loaded(TEXTS[1]).ents] == ["cholecystectomy", "anxiety disorder", "herniorrhaphy"]
    by_bytes = build_nlp(build_hierarchy(graph()), scope=["X:anx"], rules=rules)
    clone = spacy.blank("en", config=by_bytes.config)
    clone.from_bytes(by_bytes.to_bytes())
    assert spans(clone, TEXTS) == spans(by_bytes, TEXTS)


@pytest.mark.slow
def test_nlp_pipe_with_two_processes_matches_one(tmp_path: Path) -> None:
    build_nlp(build_hierarchy(graph()), scope=["X:surg"]).to_disk(tmp_path / "nlp")
    nlp = spacy.load(tmp_path / "nlp")
    texts = TEXTS * 20
    assert spans(nlp, texts, n_process=2, batch_size=8) == spans(nlp, texts)


def test_fuzzy_linker_is_saved_with_the_pipeline(tmp_path: Path) -> None:
    nlp = build_nlp(build_hierarchy(graph()), linker=True)
    text = "After a cholecystectomie she had an anxiety disorder."
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names[-1] == "concept_linker"
    assert spans(loaded, [text]) == spans(nlp, [text])
    assert spans(loaded, [text])[0][0][2] == "X:chole"
