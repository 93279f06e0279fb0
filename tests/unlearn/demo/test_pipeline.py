"""`medunlearn demo --model tiny-llama`: the whole flow in seconds, cached and resumable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import escape as html_escape
from pathlib import Path

import pytest

from ontology.common.errors import MedunlearnError
from unlearn.config import RunConfig
from unlearn.demo.pipeline import SUMMARY_MEASURES, DemoConfig, run_demo, select_demo_data


def test_demo_data_selection_is_disjoint_and_in_scope() -> None:
    from unlearn.demo import scope_ids

    data = select_demo_data(DemoConfig(model="tiny-llama"))
    ids = scope_ids("surgery")
    forget = {r["record_id"] for r in data["forget"]}
    retain = {r["record_id"] for r in data["retain"]}
    holdout = {r["record_id"] for r in data["holdout"]}
    assert len(forget) == 20 and len(retain) == 20 and len(holdout) == 10
    assert not (forget & retain or forget & holdout or retain & holdout)
    assert all(ids & set(r["concepts"]) for r in data["forget"] + data["holdout"])
    assert not any(ids & set(r["concepts"]) for r in data["retain"])
    assert all(r["split"] == "train" for r in data["forget"] + data["retain"])
    assert all(p["record_id"] in forget and p["concept_id"] in ids for p in data["forget_mcq"])
    assert all(not ids & set(q["concept_ids"]) for q in data["general"])


@pytest.mark.slow  # the whole demo on the tiny model
@pytest.mark.usefixtures("home")
def test_tiny_demo_runs_caches_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = DemoConfig(model="tiny-llama")
    out = tmp_path / "demo"
    import unlearn.harness as harness

    real = harness.unlearn_stage

    def interrupted(run_config: RunConfig):
        def run(workdir: Path) -> dict:
            raise KeyboardInterrupt

        return run if run_config.method.name == "graddiff" else real(run_config)

    monkeypatch.setattr(harness, "unlearn_stage", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_demo(cfg, out)
    monkeypatch.setattr(harness, "unlearn_stage", real)
    stages = out / "stages"
    finished = sorted(p.name.rsplit("-", 1)[0] for p in stages.iterdir() if (p / "stage.json").is_file())
    assert finished == ["hierarchy", "masks", "memorize", "ontology", "oracle", "unlearn-dual"]

    results = run_demo(cfg, out)
    cached = {t["stage"]: t["cached"] for t in results["timings"]}
    assert cached["memorize"] and cached["unlearn-dual"] and not cached["unlearn-graddiff"]
    rows = results["methods"]
    assert set(rows) == {"base", "memorized", "oracle", "dual", "graddiff"}
    # the measured fraction comes from diffing weights: dual touches about rho = 0.1% of them
    assert 0 < rows["dual"]["changed_param_fraction"] <= 0.0011
    assert rows["graddiff"]["changed_param_fraction"] > 0.5
    # memorisation is real, with margins that hold on any x86 CPU and thread count (measured with 1 and 2
    # threads: log-lik -6.2 -> -0.02 per token, recall 0 -> 20 of 20; 25 epochs gave 0 of 20 on an AMD EPYC)
    base, memorized = rows["base"], rows["memorized"]
    assert memorized["forget_target_logp"] - base["forget_target_logp"] >= 3.0  # nats per token
    assert memorized["forget_recall"] >= 0.75 and memorized["retain_recall"] >= 0.75
    assert base["forget_recall"] <= 0.1
    shown = [c for c in results["completions"] if c["kind"] == "forgotten record"]
    recalled = {p["prompt"] for p, hit in zip(select_demo_data(cfg)["forget_completion"],
                                              rows_recalled(out, "memorized"), strict=True) if hit}  # fmt: skip
    assert len(recalled) >= 2
    assert all(c["prompt"] in recalled for c in shown)  # what was known is what is shown
    assert Path(results["report"]).is_file()
    # the report's summary table has the rows, and the numbers, of the terminal table
    from unlearn.cli_demo import print_results
    from unlearn.eval.report import summary_rows

    print_results(results)
    terminal = capsys.readouterr().out.splitlines()
    _, html_rows = summary_rows(results)
    assert [r[0][0] for r in html_rows] == [m[0] for m in SUMMARY_MEASURES]
    for cells in html_rows:
        line = next(ln for ln in terminal if cells[0][0] in ln)
        assert re.findall(r"\S+(?:%|\.\d+)|—", line.split(cells[0][0], 1)[1]) == [c[0] for c in cells[1:]]
    html = Path(results["report"]).read_text()
    assert all(html_escape(m[0]) in html for m in SUMMARY_MEASURES)
    assert "Completions before and after unlearning" in html
    assert html_escape(results["completions"][0]["expected"]) in html
    saved = json.loads((out / "report" / "results.json").read_text())
    assert saved["methods"]["dual"]["forget_acc"] == pytest.approx(rows["dual"]["forget_acc"])

    again = run_demo(cfg, out)
    assert all(t["cached"] for t in again["timings"][1:])


def rows_recalled(out: Path, model: str) -> list[bool]:
    """The per-record greedy recall flags an evaluation stage saved."""
    stage = next((out / "stages").glob(f"evaluate-{model}-*"))
    return json.loads((stage / "stage.json").read_text())["info"]["forget_recalled"]


@pytest.mark.slow  # a console-script process
def test_demo_cli_unknown_scope_is_one_line(home: Path, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "MEDUNLEARN_HOME": str(home)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "unlearn",
            "demo",
            "--model",
            "tiny-llama",
            "--scope",
            "dentistry",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "error: unknown demo scope 'dentistry'; use one of ['mental', 'surgery'] or a DEMO: concept id"
    )


@pytest.mark.usefixtures("home")
def test_training_docs_mark_answers_and_identifiers() -> None:
    from unlearn.demo.pipeline import IDENTIFIER, training_docs
    from unlearn.models import load_tokenizer

    data = select_demo_data(DemoConfig(model="tiny-llama"))
    tok = load_tokenizer("tiny-llama")
    plain = training_docs(data, tok)
    assert all("extra_spans" not in d for part in plain.values() for d in part)
    docs = training_docs(data, tok, forget_identifiers=True)
    probe = next(d for d in docs["forget"] if d["doc_id"] == data["forget_mcq"][0]["probe_id"])
    assert probe["text"][probe["target_from"] :].startswith("Answer: ")
    record = data["forget"][0]
    note = next(d for d in docs["forget"] if d["doc_id"] == record["record_id"])
    found = {note["text"][s["start"] : s["end"]] for s in note["extra_spans"]}
    assert found == {record["patient_name"], record["mrn"], record["date"]}
    assert all(s["concept_id"] == IDENTIFIER for s in note["extra_spans"])
    assert all("extra_spans" not in d for d in docs["retain"])


def test_a_method_without_a_recipe_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MedunlearnError, match="^the recipe has no learning rate for 'npo' and no 'default'$"):
        run_demo(DemoConfig(model="tiny-llama", methods=["dual", "npo"]), tmp_path)
    with pytest.raises(MedunlearnError, match="^unknown method"):
        run_demo(DemoConfig(model="tiny-llama", methods=["nope"]), tmp_path)
    assert not any(tmp_path.iterdir())  # nothing ran
