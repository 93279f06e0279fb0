"""Normalisation: British spellings, name keys and abbreviation case, on hand-written words."""

from __future__ import annotations

import pytest

from ontology.normalize import abbreviation_case, american, name_keys, normalize, written_as


@pytest.mark.parametrize(
    ("british", "american_form"),
    [
        ("haemorrhage", "hemorrhage"),
        ("haematoma", "hematoma"),
        ("anaemia", "anemia"),
        ("leukaemia", "leukemia"),
        ("ischaemic", "ischemic"),
        ("hypoglycaemia", "hypoglycemia"),
        ("paediatric", "pediatric"),
        ("anaesthesia", "anesthesia"),
        ("oedema", "edema"),
        ("oesophagus", "esophagus"),
        ("oestrogen", "estrogen"),
        ("foetal", "fetal"),
        ("coeliac", "celiac"),
        ("diarrhoea", "diarrhea"),
        ("dyspnoea", "dyspnea"),
        ("caesarean", "cesarean"),
        ("faeces", "feces"),
        ("gynaecology", "gynecology"),
        ("tumour", "tumor"),
        ("behavioural", "behavioral"),
        ("sulphate", "sulfate"),
        ("hospitalised", "hospitalized"),
        ("randomisation", "randomization"),
        ("paralysed", "paralyzed"),
        ("centre", "center"),
        ("fibres", "fibers"),
        ("aluminium", "aluminum"),
        ("ageing", "aging"),
    ],
)
def test_british_spellings_become_american(british: str, american_form: str) -> None:
    assert american(british) == american_form
    assert normalize(british.capitalize()) == normalize(american_form)


@pytest.mark.parametrize(
    "word",
    ["disease", "arise", "promise", "exercise", "raise", "four", "hour", "pour", "more", "are", "aerobic"],
)
def test_ordinary_words_are_left_alone(word: str) -> None:
    assert american(word) == word


def test_normalize_stays_idempotent_with_spellings() -> None:
    for text in ["Haemorrhagic Oedema of the Oesophagus", "Paediatric Tumours", "Sulphonamides"]:
        assert normalize(normalize(text)) == normalize(text)
    assert normalize("Haemorrhagic Oedema") == "hemorrhagic edema"


def test_name_keys_inverts_and_joins() -> None:
    assert name_keys("Stress Disorders, Post-Traumatic") == {
        "stress disorder post traumatic",
        "post traumatic stress disorder",
        "stress disorder posttraumatic",
        "posttraumatic stress disorder",
    }
    assert name_keys("Anaemia, Iron-Deficiency") >= {"iron deficiency anemia", "irondeficiency anemia"}
    assert name_keys("") == set()


def test_abbreviation_case() -> None:
    assert abbreviation_case("NO") == "NO"
    assert abbreviation_case("Li") == "Li"
    assert abbreviation_case("5-FU") == "5FU"
    assert abbreviation_case("AIDS") == "AIDS"
    assert abbreviation_case("Iron") is None  # one capital, a Title-Case word
    assert abbreviation_case("Air") is None
    assert abbreviation_case("CsA") == "CsA"
    assert abbreviation_case("tin") is None
    assert abbreviation_case("NSCLCs") is None  # longer than the default 5 characters
    assert abbreviation_case("NSCLCs", max_chars=6) == "NSCLCs"
    assert written_as("NOs", "NO") and written_as("5-FU", "5FU")
    assert not written_as("no", "NO") and not written_as("No", "NO")
