"""Tagger: hand-made graphs and texts, expected spans written by hand."""

from __future__ import annotations

import pytest

from hierarchy.levels import build_hierarchy
from hierarchy.lexicon import Lexicon, label_variants, term_words
from hierarchy.tagger import build_nlp, make_pipeline, split_paragraphs, tag_text, tag_texts
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph

# id: (label, level, synonyms)
CONCEPTS = {
    "X:mental": ("Mental Disorders", 2, []),
    "X:anx": ("Anxiety Disorders", 3, []),
    "X:gad": ("Generalized Anxiety Disorder", 4, []),
    "X:panic": ("Panic Disorder", 4, []),
    "X:ptsd": ("Stress Disorders, Post-Traumatic", 4, [("PTSD", "EXACT")]),
    "X:alz": ("Alzheimer Disease", 4, []),
    "X:ab": ("alpha beta", 2, []),
    "X:bg": ("beta gamma", 4, []),
    "X:dep3": ("Depression", 3, []),
    "X:dep4": ("Depression", 4, []),
    "X:pdgene": ("PD", 2, []),
    "X:broad": ("Nervousness", 3, [("Worry", "BROAD"), ("Jitters", "RELATED")]),
}


def hand_graph() -> ConceptGraph:
    cg = ConceptGraph()
    for cid, (label, _, syns) in CONCEPTS.items():
        cg.add_concept(cid, label, synonyms=syns)
    return cg


@pytest.fixture(scope="module")
def nlp():
    levels = {cid: lv for cid, (_, lv, _) in CONCEPTS.items()}
    return make_pipeline(Lexicon.from_graph(hand_graph(), levels))


def spans_of(nlp, text: str) -> list[tuple[str, str, int]]:
    return [(s["text"], s["concept_id"], s["level"]) for s in tag_text(nlp, text)]


def test_term_words_and_variants() -> None:
    assert term_words("Post-Traumatic") == ("post", "traumatic")
    assert term_words("therapies") == ("therapy",)
    assert label_variants("Stress Disorders, Post-Traumatic") == {
        ("stress", "disorder", "post", "traumatic"),
        ("post", "traumatic", "stress", "disorder"),
        ("stress", "disorder", "posttraumatic"),
        ("posttraumatic", "stress", "disorder"),
    }
    # keys made only of stop words never match
    assert label_variants("The Other") == set()


def test_case_plural_hyphen_and_inverted_forms(nlp) -> None:
    text = (
        "Post-traumatic stress disorder, posttraumatic stress disorders and POST TRAUMATIC STRESS DISORDER."
    )
    assert spans_of(nlp, text) == [
        ("Post-traumatic stress disorder", "X:ptsd", 4),
        ("posttraumatic stress disorders", "X:ptsd", 4),
        ("POST TRAUMATIC STRESS DISORDER", "X:ptsd", 4),
    ]
    assert spans_of(nlp, "Panic disorders are mental disorders.") == [
        ("Panic disorders", "X:panic", 4),
        ("mental disorders", "X:mental", 2),
    ]


def test_char_offsets_are_exact(nlp) -> None:
    text = "We saw Alzheimer's disease and panic disorder."
    got = tag_text(nlp, text)
    assert [(s["start"], s["end"]) for s in got] == [(7, 26), (31, 45)]
    assert [text[s["start"] : s["end"]] for s in got] == ["Alzheimer's disease", "panic disorder"]


def test_longest_match_wins(nlp) -> None:
    assert spans_of(nlp, "generalized anxiety disorder") == [("generalized anxiety disorder", "X:gad", 4)]
    assert spans_of(nlp, "an anxiety disorder") == [("anxiety disorder", "X:anx", 3)]


def test_overlap_of_equal_length_goes_to_the_deeper_concept(nlp) -> None:
    # "alpha beta" (L2) and "beta gamma" (L4) overlap on "beta", both 10 characters long
    assert spans_of(nlp, "alpha beta gamma") == [("beta gamma", "X:bg", 4)]
    # the same key on two concepts resolves to the deeper one
    assert spans_of(nlp, "depression") == [("depression", "X:dep4", 4)]


def test_barriers_and_partial_tokens(nlp) -> None:
    assert spans_of(nlp, "anxiety, disorder") == []
    assert spans_of(nlp, "an anxietydisorder-like state") == []
    # a hyphen between letters separates words: curated corpora annotate "cocaine" in "cocaine-dependent"
    assert spans_of(nlp, "an anxiety-disorder-like state") == [("anxiety-disorder", "X:anx", 3)]
    assert spans_of(nlp, "panic-prone and post-traumatic stress disorder") == [
        ("post-traumatic stress disorder", "X:ptsd", 4)
    ]


def test_synonym_scopes(nlp) -> None:
    assert spans_of(nlp, "PTSD and jitters but no worry") == [
        ("PTSD", "X:ptsd", 4),
        ("jitters", "X:broad", 3),
    ]


def test_abbreviation_inherits_long_form(nlp) -> None:
    text = "Generalized anxiety disorder (GAD) is common; GAD is treatable."
    assert spans_of(nlp, text) == [
        ("Generalized anxiety disorder", "X:gad", 4),
        ("GAD", "X:gad", 4),
        ("GAD", "X:gad", 4),
    ]
    # "PD" is also the label of another concept: the defined abbreviation wins
    text = "Panic disorder (PD) differs from depression. PD responds."
    assert spans_of(nlp, text) == [
        ("Panic disorder", "X:panic", 4),
        ("PD", "X:panic", 4),
        ("depression", "X:dep4", 4),
        ("PD", "X:panic", 4),
    ]
    # without a definition "PD" is the other concept
    assert spans_of(nlp, "PD was seen.") == [("PD", "X:pdgene", 2)]


def test_long_documents_are_split_and_keep_abbreviations(nlp) -> None:
    para = "Patients were followed (n = 12) for a year and more. " * 40
    text = f"Panic disorder (PD) and generalized anxiety disorder (GAD) were studied.\n\n{para}\n\n{para}Then PD and GAD."
    got = tag_text(nlp, text)
    assert [(s["text"], s["concept_id"]) for s in got] == [
        ("Panic disorder", "X:panic"),
        ("PD", "X:panic"),
        ("generalized anxiety disorder", "X:gad"),
        ("GAD", "X:gad"),
        ("PD", "X:panic"),
        ("GAD", "X:gad"),
    ]
    assert got[-2]["start"] == text.rindex("PD")
    pieces = list(split_paragraphs(text, max_chars=500))
    assert all(text[o : o + len(c)] == c and len(c) <= 500 for o, c in pieces)
    assert "".join(c for _, c in pieces).replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_tag_texts_keeps_order(nlp) -> None:
    texts = [f"case {i}: panic disorder" if i % 2 else f"case {i}" for i in range(150)]
    out = list(tag_texts(nlp, texts, batch_size=16))
    assert len(out) == 150
    assert all(len(spans) == i % 2 for i, spans in enumerate(out))


def test_spans_on_the_doc_carry_extensions(nlp) -> None:
    doc = nlp("an anxiety disorder")
    (span,) = doc.spans["concepts"]
    assert (span.text, span._.concept_id, span._.level, span._.role) == ("anxiety disorder", "X:anx", 3, 0)


def test_build_nlp_with_scope_sets_roles() -> None:
    cg = ConceptGraph()
    cg.add_concept("X:root", "Mental Disorders")
    cg.add_concept("X:anx", "Anxiety Disorders")
    cg.add_concept("X:panic", "Panic Disorder")
    cg.add_concept("X:mood", "Mood Disorders")
    cg.add_concept("X:dep", "Depressive Disorder")
    for child, parent in [
        ("X:anx", "X:root"),
        ("X:panic", "X:anx"),
        ("X:mood", "X:root"),
        ("X:dep", "X:mood"),
    ]:
        cg.add_parent(child, parent)
    hier = build_hierarchy(cg)
    nlp = build_nlp(hier, scope=["X:anx"])
    doc = nlp("Mental disorders: panic disorder, anxiety disorders and depressive disorder.")
    got = [(s.text, s._.level, s._.role) for s in doc.spans["concepts"]]
    # depth rule: root L1, anx/mood L2, panic/dep L3; scope X:anx → panic disorder is a target
    assert got == [
        ("Mental disorders", 1, 1),
        ("panic disorder", 3, 2),
        ("anxiety disorders", 2, 1),
        ("depressive disorder", 3, 1),
    ]


def test_graph_without_labels_is_a_clear_error() -> None:
    cg = ConceptGraph()
    cg.add_concept("X:1", "")
    cg.add_concept("X:2", "  ")
    with pytest.raises(InputError, match="no concept has a label.*X:1"):
        Lexicon.from_graph(cg, {})
    cg.add_concept("X:3", "Panic Disorder")
    lex = Lexicon.from_graph(cg, {"X:3": 4})
    assert lex.unlabelled == ["X:1", "X:2"] and lex.concepts == 1


def test_fuzzy_linker_fallback_tags_near_misses() -> None:
    cg = ConceptGraph()
    cg.add_concept("X:root", "Disorders")
    for cid, label in [
        ("X:anx", "Anxiety Disorders"),
        ("X:chole", "Cholecystectomy"),
        ("X:hern", "Herniorrhaphy"),
    ]:
        cg.add_concept(cid, label)
        cg.add_parent(cid, "X:root")
    hier = build_hierarchy(cg)
    exact = build_nlp(hier)
    fuzzy = build_nlp(hier, linker=True)
    text = "After a cholecystectomie she had anxiety disorders."
    assert spans_of(exact, text) == [("anxiety disorders", "X:anx", 2)]
    # the misspelt operation is found by the fallback; the exact span is kept as it is
    assert spans_of(fuzzy, text) == [("cholecystectomie", "X:chole", 2), ("anxiety disorders", "X:anx", 2)]
    assert spans_of(fuzzy, "She walked home.") == []


def test_concepts_next_to_chat_template_markers_are_tagged() -> None:
    from hierarchy.tagger import tag_texts

    cg = ConceptGraph()
    cg.add_concept("X:1", "diagnostic laparoscopy")
    nlp = make_pipeline(Lexicon.from_graph(cg, {"X:1": 4}))
    text = "<|im_start|>user\nC. diagnostic laparoscopy<|im_end|>\n<|im_start|>assistant\nAnswer: diagnostic laparoscopy<|im_end|>"
    spans = next(tag_texts(nlp, [text]))
    assert [(s["start"], s["end"]) for s in spans] == [(20, 42), (83, 105)]
    assert all(text[s["start"] : s["end"]] == "diagnostic laparoscopy" for s in spans)
