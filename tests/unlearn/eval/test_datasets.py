"""Benchmark items from the real MedMCQA and MHQA files; counts recomputed here with json/csv."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from ontology.common.errors import InputError, MedunlearnError
from unlearn.eval import datasets as D

OPTS = ("opa", "opb", "opc", "opd")


def _medmcqa_rows(shared_data: Path) -> list[dict]:
    with open(shared_data / "medmcqa" / "medmcqa_dev.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _complete(row: dict) -> bool:
    return all((row[k] or "").strip() for k in OPTS)


def test_medmcqa_surgery_counts(shared_data: Path) -> None:
    rows = _medmcqa_rows(shared_data)
    surgery = [r for r in rows if r["subject_name"] == "Surgery"]
    retain = [r for r in rows if r["subject_name"] not in ("Surgery", "Dental", "Unknown")]
    forget, kept = D.medmcqa_surgery(shared_data, drop_oral=False)
    assert len(forget) == sum(map(_complete, surgery))
    assert forget.dropped["empty option"] == len(surgery) - sum(map(_complete, surgery))
    assert len(kept) == sum(map(_complete, retain))
    assert not {it["subject"] for it in kept} & {"Surgery", "Dental", "Unknown"}
    by_id = {r["id"]: r for r in rows}
    for item in forget.items[:20]:
        row = by_id[item["id"]]
        assert item["options"] == [row[k].strip() for k in OPTS]
        assert item["answer"] == row["cop"]  # cop is already 0-based


def test_oral_maxillofacial_filter(shared_data: Path) -> None:
    full, _ = D.medmcqa_surgery(shared_data, drop_oral=False)
    general, _ = D.medmcqa_surgery(shared_data, drop_oral=True)
    removed = {it["id"]: it for it in full.items}.keys() - {it["id"] for it in general.items}
    assert len(removed) == general.dropped["oral/maxillofacial"] == len(full) - len(general)
    assert 90 <= len(removed) <= 130  # the data README estimates about 104 such items
    questions = {it["question"]: it["id"] in removed for it in full.items}

    def dropped(prefix: str) -> bool:
        return next(v for q, v in questions.items() if q.startswith(prefix))

    assert dropped("Ameloblastoma histologically resembles")
    assert dropped("Easiest 3rd molar surgical extraction")
    assert dropped("Commonest cause of TMJ ankylosis")
    assert not dropped("Peau d'orange in carcinoma breast")
    assert not dropped("Numbness on shaving after parotidectomy")
    assert not dropped("Most common mediastinal tumor")


def test_mhqa_labels_topics_and_mojibake(shared_data: Path) -> None:
    path = shared_data / "mhqa" / "mhqa_gold.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    topics = Counter(r["topic"] for r in rows)
    forget, retain = D.mhqa_topic(shared_data, forget_topic="Trauma")
    assert len(forget) == topics["Trauma"]
    assert len(retain) == len(rows) - topics["Trauma"]
    by_id = {it["id"]: it for it in forget.items + retain.items}
    disagree = [
        r for r in rows if r["correct_option"].strip() != r[f"option{r['correct_option_number']}"].strip()
    ]
    assert disagree, "the file should still contain rows whose correct_option text disagrees"
    for r in disagree:
        assert by_id[r["id"]]["answer"] == int(r["correct_option_number"]) - 1
    assert "TNF-α" in by_id["24480417"]["options"][1]
    assert "Children’s" in by_id["28199857"]["options"][0]
    assert "“depressive”" in by_id["20813219"]["question"]
    assert "drug-naïve" in by_id["33949731"]["question"]
    mojibake = [
        it for it in by_id.values() if any(m in " ".join([it["question"], *it["options"]]) for m in "ÃÂÎâ")
    ]
    assert not mojibake
    anxiety, _ = D.mhqa_topic(shared_data, forget_topic="Anxiety")
    assert len(anxiety) == topics["Anxiety"]


def test_repair_mojibake_leaves_good_text() -> None:
    assert D.repair_mojibake("GSK-3Î² and amyloid-Î²") == "GSK-3β and amyloid-β"
    assert D.repair_mojibake("Mayer-Rokitansky-KÃ¼ster") == "Mayer-Rokitansky-Küster"
    for good in ("naïve café", "plain ascii", "Küster", "10 µg ± 2", "TNF-α"):
        assert D.repair_mojibake(good) == good


def test_seeded_split_is_deterministic_and_disjoint(shared_data: Path) -> None:
    forget, retain = D.medmcqa_surgery(shared_data)
    a = D.split_items(forget, retain, "small", seed=0)
    b = D.split_items(forget, retain, "small", seed=0)
    c = D.split_items(forget, retain, "small", seed=1)
    assert {k: len(v) for k, v in a.items()} == {
        "forget": 100,
        "forget_holdout": 100,
        "retain": 300,
        "retain_holdout": 100,
    }
    assert [it["id"] for it in a["forget"]] == [it["id"] for it in b["forget"]]
    assert [it["id"] for it in a["forget"]] != [it["id"] for it in c["forget"]]
    ids = [it["id"] for split in a.values() for it in split]
    assert len(ids) == len(set(ids))
    smoke = D.split_items(forget, retain, "smoke")
    assert all(len(v) == 12 for v in smoke.values())
    # an item's side does not depend on the other items present
    fewer = D.ItemSet(forget.items[::2], "half")
    kept = {it["id"] for it in D.split_items(fewer, retain, "full")["forget"]}
    order = [it["id"] for it in D.seeded_order(forget.items, 0) if it["id"] in {i["id"] for i in fewer.items}]
    assert kept == set(order[: (len(order) + 1) // 2])


def test_full_size_and_shrinking(shared_data: Path) -> None:
    forget, retain = D.mhqa_topic(shared_data)
    full = D.split_items(forget, retain, "full")
    assert len(full["forget"]) + len(full["forget_holdout"]) == len(forget)
    tiny = D.ItemSet(forget.items[:10], "ten")
    small = D.split_items(tiny, retain, "small")
    assert (len(small["forget"]), len(small["forget_holdout"])) == (5, 5)
    with pytest.raises(MedunlearnError, match="split 'forget_holdout' is empty"):
        D.split_items(D.ItemSet(forget.items[:1], "one item"), retain, "small")
    with pytest.raises(MedunlearnError, match="unknown size 'huge'"):
        D.split_items(forget, retain, "huge")


def test_bad_input_names_file_and_line(tmp_path: Path, shared_data: Path) -> None:
    good = {
        "id": "x",
        "question": "q",
        "opa": "a",
        "opb": "b",
        "opc": "c",
        "opd": "d",
        "cop": 1,
        "subject_name": "Surgery",
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good) + "\n" + json.dumps({k: v for k, v in good.items() if k != "cop"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: missing field\(s\) cop"):
        D.load_medmcqa(bad)
    bad.write_text(json.dumps({**good, "cop": 4}) + "\n")
    with pytest.raises(InputError, match="bad.jsonl:1: cop must be an integer 0..3"):
        D.load_medmcqa(bad)
    bad.write_text("{not json\n")
    with pytest.raises(InputError, match="bad.jsonl:1: invalid JSON"):
        D.load_medmcqa(bad)
    with pytest.raises(
        InputError, match=r"no MedMCQA items left after filtering \(subjects \['Astrology'\]\)"
    ):
        D.load_medmcqa(shared_data / "medmcqa" / "medmcqa_dev.jsonl", subjects=["Astrology"])
    with pytest.raises(InputError, match="no such MedMCQA file"):
        D.load_medmcqa(tmp_path / "missing.jsonl")

    csv_path = tmp_path / "m.csv"
    csv_path.write_text("id,topic,question,option1,option2,option3,option4\n1,Trauma,q,a,b,c,d\n")
    with pytest.raises(InputError, match="m.csv:1: missing column.*correct_option_number"):
        D.load_mhqa(csv_path)
    csv_path.write_text(
        "id,topic,question,option1,option2,option3,option4,correct_option_number\n"
        "1,Trauma,q,a,b,c,d,2\n2,Trauma,q,a,b,c,d,5\n"
    )
    with pytest.raises(InputError, match="m.csv:3: correct_option_number must be 1..4"):
        D.load_mhqa(csv_path)
    with pytest.raises(InputError, match="unknown MHQA topic"):
        D.mhqa_topic(shared_data, forget_topic="Insomnia")
