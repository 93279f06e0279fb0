"""The benchmark suite end to end (``--size smoke`` on the tiny model), its numbers recomputed independently.

The run is done once per module. The checks recompute what the report shows with their own loops: option
log-likelihood accuracy (full forward passes, no key/value cache), the LOSS attack's AUC by pairwise
comparison, the changed-parameter fraction by diffing weights, and efficacy/KP/recovery from their
formulas; the splits are checked against the raw MedMCQA file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from unlearn.cli import app

pytestmark = pytest.mark.slow  # one end-to-end suite run (memorize, oracle, unlearn, relearn) per module
cli = CliRunner()
LETTERS = "ABCD"


@pytest.fixture(scope="module")
def smoke(
    shared_data: Path, module_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, Any]]]:
    out = tmp_path_factory.mktemp("suite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDUNLEARN_SHARED_DATA", str(shared_data))
        args = ["eval", "suite", "medmcqa-surgery", "--size", "smoke", "--out"]  # all eight methods
        res = cli.invoke(app, [*args, str(out), "--json"])
        assert res.exit_code == 0, res.output + repr(res.exception)
        results = json.loads((out / "report" / "results.json").read_text())
        yield out, results


def _medmcqa(shared_data: Path) -> dict[str, dict[str, Any]]:
    rows = {}
    for line in (shared_data / "medmcqa" / "medmcqa_dev.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[str(r["id"])] = r
    return rows


def _items(out: Path, rows: dict[str, dict[str, Any]], split: str) -> list[dict[str, Any]]:
    ids = json.loads((out / "splits.json").read_text())["0"][split]
    return [
        {"question": rows[i]["question"].strip(), "options": [rows[i][k].strip() for k in ("opa", "opb", "opc", "opd")],
         "answer": rows[i]["cop"]}
        for i in ids
    ]  # fmt: skip


def _stage(out: Path, name: str) -> Path:
    (found,) = [p for p in (out / "stages").iterdir() if re.fullmatch(rf"{name}-[0-9a-f]+", p.name)]
    return found


def _load(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@torch.no_grad()
def _my_accuracy(model: Any, tok: Any, items: list[dict[str, Any]]) -> float:
    """Own loop: each option's answer span scored by mean token log-prob in a full forward pass."""
    credit = []
    for it in items:
        user = it["question"] + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(it["options"]))
        scores = []
        for i, opt in enumerate(it["options"]):
            assistant = f"Answer: {LETTERS[i]}. {opt}"
            text = tok.apply_chat_template(
                [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
                tokenize=False,
            )
            start = text.rfind(assistant) + len("Answer:")
            end = text.rfind(assistant) + len(assistant)
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            ids = torch.tensor([enc["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            lp = logp.gather(-1, ids[0, 1:, None])[:, 0]
            picked = [
                lp[t - 1].item()
                for t, (a, b) in enumerate(enc["offset_mapping"])
                if t > 0 and b > start and a < end
            ]
            scores.append(float(np.mean(picked)))
        best = max(scores)
        tied = [i for i, s in enumerate(scores) if s >= best - 1e-6]
        credit.append(1.0 / len(tied) if it["answer"] in tied else 0.0)
    return float(np.mean(credit))


@torch.no_grad()
def _my_loss_auc(model: Any, tok: Any, members: list[dict], nonmembers: list[dict]) -> float:
    def score(it: dict[str, Any]) -> float:
        user = it["question"] + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(it["options"]))
        a = it["answer"]
        text = tok.apply_chat_template(
            [{"role": "user", "content": user},
             {"role": "assistant", "content": f"Answer: {LETTERS[a]}. {it['options'][a]}"}], tokenize=False,
        )  # fmt: skip
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        return float(logp.gather(-1, ids[0, 1:, None]).mean())

    m, n = [score(it) for it in members], [score(it) for it in nonmembers]
    pairs = [1.0 if a > b else 0.5 if a == b else 0.0 for a in m for b in n]
    return float(np.mean(pairs))


def test_every_method_has_a_row(smoke: tuple[Path, dict]) -> None:
    _, results = smoke
    methods = ["dual", "ga", "graddiff", "npo", "simnpo", "rmu", "salun", "gru"]
    assert set(results["methods"]) == {"memorized", "oracle", *methods}
    for name in methods:
        row = results["methods"][name]
        assert 0 <= row["forget_acc"] <= 1 and row["changed_param_fraction"] > 0, name
    assert {t["stage"] for t in results["timings"]} >= {
        "memorize",
        "oracle",
        *(f"unlearn {m}" for m in methods),
    }


def test_splits_follow_the_raw_file(smoke: tuple[Path, dict], shared_data: Path) -> None:
    out, results = smoke
    rows = _medmcqa(shared_data)
    splits = json.loads((out / "splits.json").read_text())["0"]
    assert results["split_sizes"] == {k: 12 for k in ("forget", "forget_holdout", "retain", "retain_holdout")}
    all_ids = [i for ids in splits.values() for i in ids]
    assert len(set(all_ids)) == len(all_ids) == 48
    for split in ("forget", "forget_holdout"):
        assert all(rows[i]["subject_name"] == "Surgery" for i in splits[split])
    for split in ("retain", "retain_holdout"):
        assert all(rows[i]["subject_name"] not in ("Surgery", "Dental", "Unknown") for i in splits[split])


def test_accuracies_match_an_independent_loop(smoke: tuple[Path, dict], shared_data: Path) -> None:
    out, results = smoke
    rows = _medmcqa(shared_data)
    for name, stage in (("memorized", "memorize"), ("oracle", "oracle"), ("dual", "unlearn-dual")):
        model, tok = _load(_stage(out, stage) / "model")
        for split in ("forget", "retain_holdout"):
            mine = _my_accuracy(model, tok, _items(out, rows, split))
            assert results["methods"][name][f"{split}_acc"] == pytest.approx(mine, abs=1e-9), (name, split)
    # memorisation worked on the tiny model: the forget items are known before unlearning (measured 12 of 12 with
    # 1 and with 2 threads; chance and the oracle are 0.25): a margin of three items for other CPUs
    assert results["methods"]["memorized"]["forget_acc"] >= 0.75


def test_mia_and_derived_metrics(smoke: tuple[Path, dict], shared_data: Path) -> None:
    out, results = smoke
    rows = _medmcqa(shared_data)
    model, tok = _load(_stage(out, "unlearn-dual") / "model")
    mine = _my_loss_auc(model, tok, _items(out, rows, "forget"), _items(out, rows, "forget_holdout"))
    dual, mem, orc = (results["methods"][n] for n in ("dual", "memorized", "oracle"))
    assert dual["mia_auc"]["loss"] == pytest.approx(mine, abs=1e-9)
    assert dual["privleak"]["loss"] == pytest.approx((mine - orc["mia_auc"]["loss"]) / orc["mia_auc"]["loss"])
    eff = (mem["forget_acc"] - dual["forget_acc"]) / (mem["forget_acc"] - orc["forget_acc"])
    assert dual["forgetting_efficacy"] == pytest.approx(eff)
    assert dual["forgetting_rate"] == pytest.approx(1 - dual["forget_acc"])
    assert dual["knowledge_preservation"] == pytest.approx(dual["retain_acc"] / mem["retain_acc"])
    lo, hi = dual["ci"]["forget_acc"]
    assert lo <= dual["forget_acc"] <= hi


def test_relearning_attack_recovery(smoke: tuple[Path, dict], shared_data: Path) -> None:
    out, results = smoke
    probe = _items(out, _medmcqa(shared_data), "forget")[6:]  # the second half of the 12 memorised items
    accs = {}
    for name, stage in (("memorized", "memorize"), ("dual", "unlearn-dual"), ("relearned", "relearn-dual")):
        accs[name] = _my_accuracy(*_load(_stage(out, stage) / "model"), probe)
    row = results["methods"]["dual"]
    assert row["relearn_probe_acc"]["after"] == pytest.approx(accs["relearned"], abs=1e-9)
    if accs["memorized"] != accs["dual"]:
        expected = (accs["relearned"] - accs["dual"]) / (accs["memorized"] - accs["dual"])
        assert row["relearn_recovery"] == pytest.approx(expected, abs=1e-9)
    else:
        assert row["relearn_recovery"] is None  # nothing was forgotten on the probe half: undefined


def test_changed_parameter_fraction_is_measured(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    before, _ = _load(_stage(out, "memorize") / "model")
    after, _ = _load(_stage(out, "unlearn-dual") / "model")
    a, b = dict(after.named_parameters()), dict(before.named_parameters())  # tied weights counted once
    changed = sum(int((a[k] != b[k]).sum()) for k in a)
    total = sum(v.numel() for v in a.values())
    assert results["methods"]["dual"]["changed_param_fraction"] == pytest.approx(changed / total, rel=0.02)
    assert results["methods"]["graddiff"]["changed_param_fraction"] > 0.5


def test_answer_fallback_marks_every_forget_item(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    masks = _stage(out, "masks")
    tagged = pq.read_table(masks / "forget.parquet").to_pydict()
    train = pq.read_table(masks / "forget.train.parquet").to_pydict()
    without = [i for i, roles in enumerate(tagged["role"]) if 2 not in roles]
    assert results["masks"]["answer_fallback_items"] == len(without) > 0
    assert all(2 in roles for roles in train["role"])
    for i in without:  # the fallback marks the answer span only, as L4 with full weight
        answer_at = train["text"][i].rfind("Answer:") + len("Answer:")
        marked = [t for t, r in enumerate(train["role"][i]) if r == 2]
        assert all(train["offsets"][i][t][1] > answer_at for t in marked)
        assert {train["level"][i][t] for t in marked} == {4}
        assert {train["weight"][i][t] for t in marked} == {1.0}


def test_coverage_and_scope_in_results(smoke: tuple[Path, dict], shared_data: Path) -> None:
    out, results = smoke
    m, masks = results["masks"], _stage(out, "masks")
    forget = pq.read_table(masks / "forget.parquet").to_pydict()["role"]
    retain = pq.read_table(masks / "retain.parquet").to_pydict()["role"]
    assert m["forget_items_with_target"] == sum(1 for roles in forget if 2 in roles)
    assert m["retain_items_with_target"] == sum(1 for roles in retain if 2 in roles)
    assert m["retain_target_share"] == m["retain_items_with_target"] / len(retain) and len(retain) == 12
    # the scope: E04 plus subtrees suggested on the tuning split, whose items are none of the reported ones
    from unlearn.eval import datasets as D
    from unlearn.eval.suite import load_suite

    scope = m["scope"]
    assert scope["named"] == ["E04"] and scope["items"] == ["E04", *(s["id"] for s in scope["suggested"])]
    forget_set, retain_set = load_suite("medmcqa-surgery").load_items(shared_data)
    tuning = D.tuning_split(forget_set, retain_set, "smoke")
    assert scope["from"] == {"forget": [it["id"] for it in tuning["forget"] + tuning["forget_holdout"]],
                             "retain": [it["id"] for it in tuning["retain"] + tuning["retain_holdout"]]}  # fmt: skip
    reported = {i for ids in json.loads((out / "splits.json").read_text())["0"].values() for i in ids}
    assert not set(scope["from"]["forget"] + scope["from"]["retain"]) & reported
    expected = "E04" + (f" + {len(scope['suggested'])} suggested" if scope["suggested"] else "")
    assert results["suite"].endswith(f"scope {expected})")


def test_report_shows_the_numbers(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    page = (out / "report" / "report.html").read_text()
    value = results["methods"]["dual"]["forget_acc"]
    match = re.search(r'data-key="dual\.forget_acc" data-value="([^"]+)"', page)
    assert match and float(match.group(1)) == pytest.approx(value)
    md = (out / "report" / "results.md").read_text()
    assert f"{100 * value:.1f}%" in md
    assert {p.name for p in (out / "report" / "figures").iterdir()} >= {"accuracy.png", "roc.png"}


def test_second_run_reuses_every_stage(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    res = cli.invoke(app, ["eval", "suite", "medmcqa-surgery", "--size", "smoke", "--out", str(out)])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "report" / "results.json").read_text())
    assert all(t["cached"] for t in again["timings"])
    m, line = again["masks"], " ".join(res.output.split())  # the summary line after the table
    assert f"retain items with a target token: {m['retain_items_with_target']} of 12" in line
    assert again["methods"] == results["methods"]


def test_eval_model_reproduces_the_suite_row(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    model_dir = _stage(out, "unlearn-dual") / "model"
    ref = out / "report" / "results.json"
    res = cli.invoke(
        app,
        ["eval", "model", str(model_dir), "--suite", "medmcqa-surgery", "--reference", str(ref), "--json"],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    dual = results["methods"]["dual"]
    for key in ("forget_acc", "forget_holdout_acc", "retain_acc", "retain_holdout_acc"):
        assert got[key] == pytest.approx(dual[key], abs=1e-12)
    assert got["mia_auc"] == pytest.approx(dual["mia_auc"])
    assert got["row"]["forgetting_efficacy"] == pytest.approx(dual["forgetting_efficacy"])
    assert got["row"]["privleak"] == pytest.approx(dual["privleak"])


# last: it rewrites the report with three seeds
def test_seeds_share_the_split_and_the_memorised_models(smoke: tuple[Path, dict]) -> None:
    out, results = smoke
    args = ["eval", "suite", "medmcqa-surgery", "--size", "smoke", "--methods", "dual,npo", "--seeds", "3"]
    res = cli.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    three = json.loads((out / "report" / "results.json").read_text())
    assert three["seeds"] == 3 and [s["seed"] for s in three["per_seed"]] == [0, 1, 2]
    assert len([p for p in (out / "stages").iterdir() if p.name.startswith("memorize-")]) == 1
    assert len([p for p in (out / "stages").iterdir() if p.name.startswith("unlearn-dual-")]) == 3
    cached = {t["stage"]: t["cached"] for t in three["timings"]}
    assert cached["memorize"] and cached["unlearn dual"] and not cached["unlearn dual seed 1"]
    seed0 = three["per_seed"][0]["methods"]
    for name in ("memorized", "oracle", "dual", "npo"):  # seed 0 is the single-seed run
        assert {k: v for k, v in seed0[name].items() if k != "ci"} == {
            k: v for k, v in results["methods"][name].items() if k != "ci"
        }
    forget = [s["methods"]["dual"]["forget_acc"] for s in three["per_seed"]]
    summary = three["methods"]["dual"]["forget_acc"]
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(np.mean(forget))
    assert summary["std"] == pytest.approx(np.std(forget, ddof=1))
    assert three["methods"]["memorized"]["forget_acc"]["std"] == 0.0  # one memorised model for every seed
