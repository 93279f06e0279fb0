"""Normalisation rules (hand-computed values) and the label/synonym index."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ontology.normalize import normalize, singular
from ontology.search import ConceptIndex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anxiety Disorders", "anxiety disorder"),
        ("Non-Small-Cell Lung Carcinoma", "non small cell lung carcinoma"),
        ("non small cell lung carcinomas", "non small cell lung carcinoma"),
        ("Alzheimer's Disease", "alzheimer disease"),
        ("Alzheimer’s disease", "alzheimer disease"),
        ("Surgical Procedures, Operative", "surgical procedure operative"),
        ("ＰＴＳＤ", "ptsd"),  # full-width (NFKC)
        ("Straße", "strasse"),  # case folding, not lower()
        ("Diabetes Mellitus, Type 2", "diabetes mellitus type 2"),
        ("Herpes  Zoster", "herpes zoster"),
        ("Stress Disorders, Post-Traumatic", "stress disorder post traumatic"),
        ("Therapies", "therapy"),
        ("Abscesses", "abscess"),
        ("Viruses", "virus"),
        ("virus", "virus"),
        ("Psychosis", "psychosis"),
        ("Psychoses", "psychosis"),
        ("Causes", "cause"),
        ("gas", "gas"),
        ("COVID–19", "covid 19"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_singular_rules():
    assert singular("bodies") == "body"
    assert singular("patches") == "patch"
    assert singular("boxes") == "box"
    assert singular("measles") == "measles"
    assert singular("t3s") == "t3s"  # not purely alphabetic


@given(st.text(max_size=40))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


def test_index_ranks_labels_then_exact_synonyms_and_obsolete_last():
    g = nx.DiGraph()
    g.add_node("X:1", label="Fear", synonyms=[("anxiety", "RELATED")])
    g.add_node("X:2", label="Worry", synonyms=[("Anxiety", "EXACT")])
    g.add_node("X:3", label="anxiety", synonyms=[], obsolete=True)
    g.add_node("X:4", label="Anxieties", synonyms=[])
    idx = ConceptIndex(g)
    assert idx.search("anxiety", normalized=False) == ["X:1", "X:3"]
    assert idx.search("anxiety") == ["X:1", "X:3", "X:4", "X:2"]
    assert idx.search("ANXIETY") == ["X:4", "X:2", "X:1", "X:3"]
    assert idx.search("nothing") == []
