"""The report shows exactly the numbers it was given; its plots are valid PNGs."""

from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ontology.common.errors import MedunlearnError
from unlearn.eval import report as R

ATTACKS = ("loss", "zlib", "min_k", "min_k_pp")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _row(forget: float, retain: float, auc: float, **extra: Any) -> dict[str, Any]:
    row = {
        "forget_acc": forget,
        "forget_holdout_acc": forget + 0.05,
        "retain_acc": retain,
        "retain_holdout_acc": retain - 0.3,
        "forgetting_rate": 1 - forget,
        "forgetting_efficacy": (0.95 - forget) / 0.65,
        "knowledge_preservation": retain / 0.97,
        "changed_param_fraction": 0.00093,
        "mia_auc": {a: auc + 0.01 * i for i, a in enumerate(ATTACKS)},
        "privleak": {a: (auc + 0.01 * i - 0.5) / 0.5 for i, a in enumerate(ATTACKS)},
        "relearn_recovery": 0.31,
        "wall_s": 12.34,
        "peak_mem_mb": 812.0,
    }
    row.update(extra)
    return row


@pytest.fixture()
def results() -> dict[str, Any]:
    return {
        "suite": "medmcqa-surgery",
        "size": "smoke",
        "model": "tiny-llama",
        "methods": {
            "memorized": _row(0.95, 0.97, 0.81, forgetting_efficacy=0.0),
            "oracle": _row(0.30, 0.96, 0.50),
            "dual": _row(0.3217, 0.9512, 0.523, ci={"forget_acc": [0.25, 0.41]}),
            "ga": _row(0.05, 0.6, 0.31, relearn_recovery=float("nan")),
        },
        "split_sizes": {"forget": 12, "forget_holdout": 12, "retain": 12, "retain_holdout": 12},
        "config_hashes": {"memorize": "0123456789ab", "oracle": "ba9876543210"},
        "curves": {"dual": [{"step": s, "forget_acc": 0.95 - 0.06 * s, "retain_acc": 0.97, "forget_loss": 1 + s,
                             "retain_loss": 0.5} for s in range(6)]},
        "roc": {"dual": {a: {"fpr": [0, 0.5, 1], "tpr": [0, 0.6, 1]} for a in ATTACKS},
                "oracle": {a: {"fpr": [0, 1], "tpr": [0, 1]} for a in ATTACKS}},
        "per_level": {"dual": {f"L{i}": {"inside": -0.2 * i, "outside": -0.01 * i} for i in range(1, 5)}},
    }  # fmt: skip


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.images: dict[str, bytes] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-key"):
            self.values[a["data-key"] or ""] = a.get("data-value") or ""
        if tag == "img" and (a.get("src") or "").startswith("data:image/png;base64,"):
            self.images[a.get("data-figure") or ""] = base64.b64decode((a["src"] or "").split(",", 1)[1])


def _markdown_table(md: str, title: str) -> dict[str, dict[str, str]]:
    lines = md.split(f"## {title}", 1)[1].strip().splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("|")) :]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows


def test_report_values_equal_the_input(tmp_path: Path, results: dict[str, Any]) -> None:
    paths = R.write_report(results, tmp_path)
    assert {p.name for p in paths.values()} >= {"results.json", "results.md", "report.html"}

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["methods"]["dual"]["forget_acc"] == 0.3217
    assert saved["methods"]["dual"]["mia_auc"]["min_k_pp"] == pytest.approx(0.553)
    assert saved["methods"]["ga"]["relearn_recovery"] is None  # NaN is not JSON
    assert saved["split_sizes"] == results["split_sizes"]

    page = _Cells()
    page.feed((tmp_path / "report.html").read_text())
    for name, row in results["methods"].items():
        for key in ("forget_acc", "forget_holdout_acc", "retain_acc", "retain_holdout_acc", "forgetting_rate",
                    "knowledge_preservation", "changed_param_fraction", "wall_s", "peak_mem_mb"):  # fmt: skip
            assert float(page.values[f"{name}.{key}"]) == pytest.approx(row[key], rel=1e-12), (name, key)
        for attack in ATTACKS:
            assert float(page.values[f"{name}.mia_auc.{attack}"]) == pytest.approx(row["mia_auc"][attack])
            assert float(page.values[f"{name}.privleak.{attack}"]) == pytest.approx(row["privleak"][attack])
    assert page.values["ga.relearn_recovery"] == ""
    # H = harmonic mean of efficacy (folded at 1) and KP, recomputed here
    e, k = (0.95 - 0.3217) / 0.65, 0.9512 / 0.97
    assert float(page.values["dual.harmonic"]) == pytest.approx(2 * e * k / (e + k))
    assert float(page.values["paper.forgetting_rate"]) == 0.827
    assert float(page.values["paper.mia_auc"]) == 0.555
    html_text = (tmp_path / "report.html").read_text()
    assert "reported by the paper (arXiv 2511.19498) on a different model" in html_text
    assert "0123456789ab" in html_text

    md = (tmp_path / "results.md").read_text()
    table = _markdown_table(md, "Forgetting and preservation")
    assert table["dual"]["forget acc"] == "32.2% [25.0%, 41.0%]"
    assert table["oracle"]["retain acc"] == "96.0%"
    assert table["ga"]["FR (paper)"] == "95.0%"
    cost = _markdown_table(md, "Cost and robustness")
    assert cost["dual"]["changed params"] == "0.093%"
    assert cost["ga"]["relearn recovery"] == "—"
    privacy = _markdown_table(md, "Membership inference (forget vs forget-holdout; oracle ≈ ideal)")
    assert privacy["memorized"]["AUC loss"] == "0.810"
    paper = _markdown_table(md, "Beside the paper")
    assert paper["FR = 1 − forget acc"]["paper (reported, different model)"] == "82.7%"
    assert paper["KP"]["paper (reported, different model)"] == "88.5%"
    assert paper["changed params"]["paper (reported, different model)"] == "0.100%"
    assert paper["MIA AUC (ours: strongest attack)"]["ours: dual"] == "0.553 (min_k_pp)"
    assert "different model" in md


def test_figures_are_valid_pngs(tmp_path: Path, results: dict[str, Any]) -> None:
    from PIL import Image

    R.write_report(results, tmp_path)
    files = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert files == ["accuracy.png", "curves.png", "per_level.png", "roc.png"]
    page = _Cells()
    page.feed((tmp_path / "report.html").read_text())
    assert set(page.images) == {"accuracy", "curves", "per_level", "roc"}
    for name, data in page.images.items():
        assert data.startswith(PNG_MAGIC)
        assert data == (tmp_path / "figures" / f"{name}.png").read_bytes()
        with Image.open(tmp_path / "figures" / f"{name}.png") as im:
            im.verify()
        with Image.open(tmp_path / "figures" / f"{name}.png") as im:
            assert im.size[0] > 300 and im.size[1] > 200
    md = (tmp_path / "results.md").read_text()
    assert "![roc](figures/roc.png)" in md


def test_optional_sections_and_seed_summaries(tmp_path: Path, results: dict[str, Any]) -> None:
    for key in ("curves", "roc", "per_level"):
        del results[key]
    results["methods"]["dual"]["forget_acc"] = {"mean": 0.3, "std": 0.02}
    results["methods"]["dual"]["privleak"] = 0.04
    results["methods"]["oracle"]["privleak"] = 0.0
    for name in ("memorized", "ga"):
        results["methods"][name]["privleak"] = None
    R.write_report(results, tmp_path)
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["accuracy.png"]
    md = (tmp_path / "results.md").read_text()
    table = _markdown_table(md, "Forgetting and preservation")
    assert table["dual"]["forget acc"] == "30.0% ± 2.0% [25.0%, 41.0%]"
    privacy = _markdown_table(md, "Membership inference (forget vs forget-holdout; oracle ≈ ideal)")
    assert privacy["dual"]["PrivLeak"] == "0.040"
    assert privacy["ga"]["PrivLeak"] == "—"


def test_missing_rows_and_keys_are_reported(tmp_path: Path, results: dict[str, Any]) -> None:
    del results["methods"]["oracle"]
    with pytest.raises(MedunlearnError, match="the 'oracle' row is missing"):
        R.write_report(results, tmp_path)
    results["methods"]["oracle"] = _row(0.3, 0.96, 0.5)
    del results["methods"]["dual"]["wall_s"]
    with pytest.raises(MedunlearnError, match="method 'dual' lacks wall_s"):
        R.write_report(results, tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_format_helpers() -> None:
    assert R.fmt(float("nan"), "pct") == "—"
    assert R.fmt(0.5, "auc", [0.45, 0.55]) == "0.500 [0.450, 0.550]"
    assert R.strongest_attack({"loss": 0.52, "zlib": 0.44}) == ("zlib", 0.44)
    assert R.strongest_attack({}) is None
    assert math.isclose(R.PAPER_REPORTED["knowledge_preservation"], 0.885)


def test_goal_section_is_rendered(tmp_path: Path, results: dict[str, Any]) -> None:
    from unlearn.eval.goals import goals_section

    results["goals"] = goals_section(results)
    paths = R.write_report(results, tmp_path)
    md, page = paths["markdown"].read_text(), paths["html"].read_text()
    # dual: KP 0.9512 / 0.97 = 0.981 (met); relearn recovery 0.31 (met); changed 0.093% (met)
    assert "## Goals (dual)" in md and "| KP ≥ 0.97 | 0.981 | met |" in md
    assert "| changed parameters ≤ 0.1% | 0.093% | met |" in md
    assert "<h2>Goals (dual)</h2>" in page and "not measured" in page  # no holdout efficacy in the rows


def test_seeds_tuning_and_timings_sections(tmp_path: Path, results: dict[str, Any]) -> None:
    seed_rows = [
        {name: dict(row, forgetting_efficacy=0.5 + 0.1 * s, knowledge_preservation=0.9) for name, row in results["methods"].items()}
        for s in range(2)
    ]  # fmt: skip
    results["per_seed"] = [{"seed": s, "methods": rows} for s, rows in enumerate(seed_rows)]
    trial = {"settings": {"lr": 0.01, "beta": 0.5}, "efficacy": 0.8, "kp": 0.97, "harmonic": 0.8783}
    results["tuning"] = {
        "split": {"forget": ["a", "b"], "retain": ["c"]}, "budget": {"trials": 2}, "rule": "the best H",
        "methods": {"dual": {"chosen": trial["settings"], "trial": 1, "eligible": True, "trials": [trial, trial]}},
        "tuned_methods": ["dual"], "untuned_methods": ["ga"],
    }  # fmt: skip
    results["timings"] = [
        {"stage": "memorize", "seconds": 100.0, "cached": True},
        {"stage": "unlearn dual", "seconds": 30.0, "cached": False},
        {"stage": "unlearn dual seed 1", "seconds": 40.0, "cached": False},
    ]
    paths = R.write_report(results, tmp_path)
    md, page = paths["markdown"].read_text(), paths["html"].read_text()
    seeds = _markdown_table(md, "Seeds")
    # H(0.6, 0.9) = 2 * 0.6 * 0.9 / 1.5 = 0.72
    assert seeds["dual"]["seed 1"] == "H 0.720 (forget 32%, retain 95%)"
    assert list(seeds)[:2] == ["memorized", "oracle"]
    tuning = _markdown_table(md, "Tuning")
    assert tuning["dual"] == {
        "chosen settings": "lr 0.01, beta 0.5", "trial": "2 of 2", "KP ≥ min": "yes", "efficacy": "0.800",
        "KP": "0.970", "H(efficacy, KP)": "0.878",
    }  # fmt: skip
    assert "Not tuned (the recipe's settings): ga." in md and "forget 2, retain 1 items" in md
    times = _markdown_table(md, "Time per kind of stage")
    assert times["unlearn"] == {
        "stages": "2",
        "seconds": "70.0",
        "longest s": "40.0 (unlearn dual seed 1)",
        "cached": "",
    }
    assert times["memorize"]["cached"] == "1 of 1"
    assert "computed in this run: 70 s" in md
    for title in ("Seeds", "Tuning", "Time per kind of stage"):
        assert f"<h2>{title}</h2>" in page


def test_summary_completions_and_timings_sections(tmp_path: Path, results: dict[str, Any]) -> None:
    """The demo's terminal rows (summary table, HTML and markdown), its completions and timings (HTML)."""
    measures = [
        ["forget records recalled (greedy)", "forget_recall", "pct"],
        ["MIA AUC, LOSS", "mia_auc.loss", "auc"],
    ]
    for name, recall in (("memorized", 1.0), ("oracle", 0.0), ("dual", 0.05), ("ga", float("nan"))):
        results["methods"][name]["forget_recall"] = recall
    results["summary"] = {"title": "demo — tiny-llama", "measures": measures, "note": "recalled: <greedy>"}
    results["completions"] = [
        {"kind": "forgotten record", "prompt": "Patient A underwent", "expected": "appendectomy <1>",
         "memorized": "appendectomy on 1 May", "dual": "spinal fusion"},
    ]  # fmt: skip
    results["timings"] = [{"stage": "memorize", "seconds": 12.34, "cached": False},
                          {"stage": "oracle", "seconds": 0.0, "cached": True}]  # fmt: skip
    header, rows = R.summary_rows(results)
    assert header == ["measure", "memorized", "oracle", "dual", "ga"]
    assert [[c[0] for c in cells] for cells in rows] == [
        ["forget records recalled (greedy)", "100.0%", "0.0%", "5.0%", "—"],
        ["MIA AUC, LOSS", "0.810", "0.500", "0.523", "0.310"],
    ]
    paths = R.write_report(results, tmp_path)
    page = paths["html"].read_text()
    order = [page.index(f"<h2 id='{s}'>") for s in ("summary", "completions", "timings")]
    assert order == sorted(order) and order[-1] < page.index("Forgetting and preservation")
    assert "recalled: &lt;greedy&gt;" in page and "appendectomy &lt;1&gt;" in page  # escaped
    assert "<td>spinal fusion</td>" in page and "<td>yes</td>" in page
    cells = _Cells()
    cells.feed(page)
    assert float(cells.values["timing.memorize"]) == 12.34
    md = paths["markdown"].read_text()
    summary = _markdown_table(md, "demo — tiny-llama")
    assert summary["forget records recalled (greedy)"] == {"memorized": "100.0%", "oracle": "0.0%", "dual": "5.0%",
                                                           "ga": "—"}  # fmt: skip
