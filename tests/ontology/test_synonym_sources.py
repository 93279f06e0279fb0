"""PubTator corpora as synonym sources: a hand-written corpus with hand-counted expectations, and BC5CDR with
counts computed by an independent parser in this file."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph
from ontology.loader import detect_format, load
from ontology.readers.pubtator import read_pubtator
from ontology.synonym_sources import add_corpus_synonyms, words_with_offsets

TITLE = "Lithium-induced nephrotoxicity and calcium channel blockers."
ABSTRACT = (
    "Lithium levels, NO release and no placebo effect. Ocular and auditory toxicity occurred after lithium. "
    "A placebo was given; the placebo group had calcium channel blockers. Placebo!"
)
# (mention text, occurrence number in the text, type, ids[, parts])
MENTIONS = [
    ("Lithium", 0, "Chemical", "D008094"),
    ("nephrotoxicity", 0, "Disease", "D007674"),
    ("calcium", 0, "Chemical", "D002118"),
    ("Lithium", 1, "Chemical", "D008094"),
    ("NO", 0, "Chemical", "D009569"),
    ("Ocular and auditory toxicity", 0, "Disease", "D014786|D006311", "Ocular toxicity|auditory toxicity"),
    ("lithium", 0, "Chemical", "C000001"),  # an id the graph does not have
    ("calcium", 1, "Chemical", "-1"),
]


def _offset(text: str, sub: str, nth: int) -> int:
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return start


def write_corpus(path: Path) -> Path:
    text = f"{TITLE} {ABSTRACT}"
    lines = [f"7|t|{TITLE}", f"7|a|{ABSTRACT}"]
    for text_, nth, kind, ids, *parts in MENTIONS:
        start = _offset(text, text_, nth)
        fields = ["7", str(start), str(start + len(text_)), text_, kind, ids, *parts]
        lines.append("\t".join(fields))
    lines.append("7\tCID\tD008094\tD007674")
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def hand_graph() -> ConceptGraph:
    cg = ConceptGraph()
    for cid, label, tn in [
        ("MESH:D008094", "Lithium", "D01.100"),
        ("MESH:D007674", "Kidney Diseases", "C12.100"),
        ("MESH:D002118", "Calcium", "D01.200"),
        ("MESH:D002121", "Calcium Channel Blockers", "D27.100"),
        ("MESH:D009569", "Nitric Oxide", "D01.300"),
        ("MESH:D014786", "Vision Disorders", "C11.100"),
        ("MESH:D006311", "Hearing Disorders", "C09.100"),
        ("MESH:D010919", "Placebos", "D01.900"),  # judged through segment D01, never annotated
        ("MESH:D001008", "Anxiety Disorders", "F03.080"),  # segment F03 has no mention: not judged
    ]:
        cg.add_concept(cid, label, tree_numbers=[tn], source="MESH")
    return cg


def test_reader_parses_mentions_composites_and_relations(tmp_path: Path) -> None:
    corpus = read_pubtator(write_corpus(tmp_path / "c.PubTator.txt"))
    (doc,) = corpus.docs
    assert doc.text == f"{TITLE} {ABSTRACT}" and corpus.relations == 1 and corpus.skipped == []
    assert [m.text for m in doc.mentions] == [m[0] for m in MENTIONS]
    composite = doc.mentions[5]
    assert composite.composite and composite.ids == ("D014786", "D006311")
    assert composite.parts == ("Ocular toxicity", "auditory toxicity")
    assert doc.mentions[7].ids == ()  # -1: linked to nothing
    assert all(doc.text[m.start : m.end] == m.text for m in doc.mentions)


def test_reader_reports_bad_lines_and_strict_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(
        "9|t|Iron.\n9|a|x\n9\t0\t3\tIron\tChemical\tD007501\n9\tzero\t4\tIron\tChemical\tD1\n8\t0\t1\tI\tC\tD1\n"
    )
    corpus = read_pubtator(path)
    assert corpus.docs[0].mentions == []
    assert corpus.skipped == [
        f"{path}:3: offsets 0-3 do not hold the mention text 'Iron'",
        f"{path}:4: offsets 'zero', '4' are not integers",
        f"{path}:5: mention of document 8, which has no title line",
    ]
    with pytest.raises(InputError, match=r"bad.txt:3: offsets 0-3"):
        read_pubtator(path, strict=True)
    empty = tmp_path / "prose.txt"
    empty.write_text("just prose\n")
    with pytest.raises(InputError, match="no 'PMID|t|title' line"):
        read_pubtator(empty)


def test_words_with_offsets_split_like_normalize() -> None:
    assert words_with_offsets("Alzheimer's disease, 5-FU.") == [
        ("alzheimer", 0, 11),
        ("disease", 12, 19),
        ("5", 21, 22),
        ("fu", 23, 25),
    ]


def test_corpus_synonyms_counts_and_evidence(tmp_path: Path) -> None:
    cg = hand_graph()
    corpus = read_pubtator(write_corpus(tmp_path / "c.PubTator.txt"))
    summary = add_corpus_synonyms(cg, corpus, judge_min_mentions=1)
    assert summary["documents"] == 1 and summary["mentions"] == 8
    assert (summary["linked"], summary["unlinked"], summary["composite"]) == (7, 1, 1)
    assert summary["unknown_ids"] == {"C000001": 1} and summary["unknown_mentions"] == 1
    assert summary["judged_segments"] == ["C09", "C11", "C12", "D01"]
    # mention texts that are not yet names become RELATED synonyms; a composite gives its parts
    assert cg.concept("MESH:D007674")["synonyms"] == [("nephrotoxicity", "RELATED")]
    assert cg.concept("MESH:D014786")["synonyms"] == [("Ocular toxicity", "RELATED")]
    assert cg.concept("MESH:D006311")["synonyms"] == [("auditory toxicity", "RELATED")]
    assert cg.concept("MESH:D009569")["synonyms"] == [("NO", "RELATED")]
    assert cg.concept("MESH:D008094")["synonyms"] == []  # "Lithium" is its label
    assert summary["synonyms_added"] == 4 and summary["concepts_with_synonyms"] == 6

    def evidence(cid: str) -> dict:
        return cg.concept(cid).get("corpus_evidence", {}).get("c.PubTator.txt", {})

    # Lithium written 3 times, twice annotated with its id (the third with an unknown id)
    assert evidence("MESH:D008094") == {"lithium": [2, 3]}
    # placebo written 4 times, never annotated
    assert evidence("MESH:D010919") == {"placebo": [0, 4]}
    # "calcium" twice as a mention (once unlinked), once inside "calcium channel blockers" mentions "calcium"
    assert evidence("MESH:D002118") == {"calcium": [1, 2]}
    # "NO" counts only where written in capitals ("no placebo" does not)
    assert evidence("MESH:D009569") == {"no": [1, 1]}
    # F03 has no mention: its names are not judged; D27 has none either
    assert "corpus_evidence" not in cg.concept("MESH:D001008")
    assert "corpus_evidence" not in cg.concept("MESH:D002121")
    assert cg.graph.graph["synonym_sources"] == [summary]
    assert cg.sources[-1]["format"] == "pubtator" and cg.sources[-1]["file"] == "c.PubTator.txt"


def test_loader_detects_pubtator_and_needs_an_ontology(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.txt")
    assert detect_format(corpus) == "pubtator"
    with pytest.raises(InputError, match="synonym source: give an ontology"):
        load(corpus)
    obo = tmp_path / "t.obo"
    obo.write_text("[Term]\nid: MESH:D007674\nname: Kidney Diseases\n")
    cg = load([obo, corpus])
    assert ("nephrotoxicity", "RELATED") in cg.concept("MESH:D007674")["synonyms"]
    assert len(cg) == 1  # a synonym source creates no concept
    same = load([obo], synonyms=[corpus], synonym_options={"min_mentions": 2})
    assert same.concept("MESH:D007674")["synonyms"] == []  # written once: below --min-mentions 2


# -- BC5CDR, counted independently ------------------------------------------------------------------------
CDR_TRAIN = "bc5cdr/CDR_TrainingSet.PubTator.txt"
TREE = "mesh/raw/2017MeshTree.txt"


def naive_counts(path: Path, known: set[str]) -> Counter[str]:
    """Documents and mentions by a line split that knows only the PubTator layout."""
    c: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        if "|t|" in line[:20]:
            c["documents"] += 1
            continue
        parts = line.split("\t")
        if len(parts) < 6:
            continue
        c["mentions"] += 1
        ids = [i for i in parts[5].split("|") if i != "-1"]
        if not ids:
            c["unlinked"] += 1
            continue
        c["linked"] += 1
        if len(ids) > 1:
            c["composite"] += 1
            names = parts[6].split("|") if len(parts) == 7 else []
            named = list(zip(names, ids, strict=True)) if len(names) == len(ids) else []
        else:
            named = [(parts[3], ids[0])]
        for _, ui in named:
            c["unknown_mentions"] += ui not in known
    return c


@pytest.mark.shared_data
def test_bc5cdr_training_set_as_synonym_source(shared_data: Path) -> None:
    with open(shared_data / TREE, encoding="utf-8-sig") as fh:
        known = {row["Desc Ui"] for row in csv.DictReader(fh, delimiter="\t")}
    expected = naive_counts(shared_data / CDR_TRAIN, known)
    # the data README: 500 abstracts, 5,203 + 4,182 mentions
    assert expected["documents"] == 500 and expected["mentions"] == 5203 + 4182
    cg = load(shared_data / TREE, synonyms=[shared_data / CDR_TRAIN])
    (summary,) = cg.graph.graph["synonym_sources"]
    for key in ("documents", "mentions", "linked", "unlinked", "composite", "unknown_mentions"):
        assert summary[key] == expected[key], key
    assert len(cg) == len(known) + 16  # descriptors and the 16 category nodes: nothing created
    liver = cg.concept("MESH:D056486")  # Chemical and Drug Induced Liver Injury
    assert ("hepatotoxicity", "RELATED") in liver["synonyms"]
    linked, seen = liver["corpus_evidence"]["CDR_TrainingSet.PubTator.txt"]["hepatotoxicity"]
    assert 0 < linked <= seen
    placebo = cg.concept("MESH:D010919")["corpus_evidence"]["CDR_TrainingSet.PubTator.txt"]["placebo"]
    assert placebo[1] >= 20 and placebo[0] < 0.25 * placebo[1]


def test_ontology_build_cli_reports_synonym_sources(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from unlearn.cli import app

    corpus = write_corpus(tmp_path / "c.PubTator.txt")
    obo = tmp_path / "t.obo"
    obo.write_text("[Term]\nid: MESH:D007674\nname: Kidney Diseases\n")
    do = tmp_path / "do.tsv"
    do.write_text(
        "id\tlabel\txrefs\nDOID:557\tkidney disease\tMESH:D007674\nDOID:1\trenal ailment\tMESH:D007674\n"
    )
    out = tmp_path / "g"
    res = CliRunner().invoke(
        app, ["ontology", "build", str(obo), str(corpus), "--synonyms", str(do), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == (
        "do.tsv: 2 of 2 concepts joined to 1 concepts through xrefs (1 EXACT, 1 RELATED), 1 synonyms added; "
        "0 xrefs name no concept of the graph"
    )
    assert lines[1] == (
        "c.PubTator.txt: 7 linked mentions (1 composite, 1 unlinked -1) → 1 synonyms on 1 concepts; "
        "7 mentions of 6 ids not in the graph: D008094 (2), D002118 (1), D009569 (1), D014786 (1), D006311 (1) "
        "and 1 more"
    )
    from ontology.store import read_graph

    kidney = read_graph(out).concept("MESH:D007674")
    # "kidney disease" normalises to the label: an exact name, nothing to add; the other DO label is RELATED
    assert kidney["synonyms"] == [("renal ailment", "RELATED"), ("nephrotoxicity", "RELATED")]
    assert kidney["corpus_evidence"]["c.PubTator.txt"]["nephrotoxicity"] == [1, 1]
    assert "DOID:557" in kidney["xrefs"]
