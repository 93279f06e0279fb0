"""Tuning: its split never touches a reported item, the trial design, the rule, the settings file, and
``medunlearn eval tune`` end to end on the smoke size (tiny model) followed by a suite run that reads its file."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ontology.common.errors import MedunlearnError
from unlearn.cli import app
from unlearn.eval import datasets as D
from unlearn.eval.tune import KP_MIN, choose_trial, trial_points, trial_scores
from unlearn.eval.tuned import Tuned, apply_tuned, read_tuned, write_tuned
from unlearn.recipes import TuneRecipe

cli = CliRunner()


# ------------------------------------------------------------------------------------------ the split
@pytest.mark.parametrize("suite", ["medmcqa-surgery", "mhqa"])
@pytest.mark.parametrize("size", ["smoke", "small"])
def test_tuning_split_is_disjoint_from_the_reported_one(shared_data: Path, suite: str, size: str) -> None:
    from unlearn.eval.suite import load_suite

    forget, retain = load_suite(suite).load_items(shared_data)
    reported = D.split_items(forget, retain, size, 0)
    tuning = D.tuning_split(forget, retain, size)
    rep_ids = {it["id"] for part in reported.values() for it in part}
    rep_groups = {it.get("group", it["id"]) for part in reported.values() for it in part}
    tun = [it for part in tuning.values() for it in part]
    assert len({it["id"] for it in tun}) == len(tun)  # the four tuning parts are disjoint too
    assert not {it["id"] for it in tun} & rep_ids
    assert not {it.get("group", it["id"]) for it in tun} & rep_groups
    # the tuning items are the next ones in the seed-0 order: every one ranks after every reported forget item
    order = {it["id"]: i for i, it in enumerate(D.seeded_order(forget.items, 0))}
    last_reported = max(order[it["id"]] for it in reported["forget"] + reported["forget_holdout"])
    assert min(order[it["id"]] for it in tuning["forget"]) > last_reported
    expected = D.TUNING_SIZES[size]
    got = tuple(len(tuning[p]) for p in D.SPLITS)
    if suite == "medmcqa-surgery" and size == "small":
        assert got == (25, 25, 100, 50)  # 250 Surgery items: 200 reported, 50 left, halved
    else:
        assert got == expected


def test_full_size_has_no_tuning_split(shared_data: Path) -> None:
    from unlearn.eval.suite import load_suite

    forget, retain = load_suite("mhqa").load_items(shared_data)
    with pytest.raises(MedunlearnError, match="no tuning split"):
        D.tuning_split(forget, retain, "full")


# ------------------------------------------------------------------------------------------ pure parts
def test_trial_points_are_a_seeded_latin_hypercube_in_log_space() -> None:
    space = {"lr": (1e-6, 1e-2), "beta": (0.1, 10.0)}
    pts = trial_points(space, 4, seed=3)
    assert pts == trial_points(space, 4, seed=3)
    assert pts != trial_points(space, 4, seed=4)
    for key, (lo, hi) in space.items():
        # one point in each of the 4 log-equal strata of every key
        strata = sorted(
            int(4 * (math.log(p[key]) - math.log(lo)) / (math.log(hi) - math.log(lo))) for p in pts
        )
        assert strata == [0, 1, 2, 3], key
        assert all(float(f"{p[key]:.3g}") == p[key] for p in pts)
    # the learning rate's design does not depend on which knob follows it: equal budgets across methods
    lr_only = trial_points({"lr": space["lr"]}, 4, seed=3)
    assert [p["lr"] for p in lr_only] == [p["lr"] for p in pts]
    with pytest.raises(MedunlearnError):
        trial_points(space, 0, seed=0)


def test_trial_scores_by_hand() -> None:
    mem = {"forget": 0.9, "forget_holdout": 0.4, "retain": 0.8}
    orc = {"forget": 0.3, "forget_holdout": 0.3}
    s = trial_scores({"forget": 0.6, "forget_holdout": 0.35, "retain": 0.72}, mem, orc)
    assert s["efficacy"] == pytest.approx(0.5)  # (0.9 - 0.6) / (0.9 - 0.3)
    assert s["efficacy_holdout"] == pytest.approx(0.5)  # (0.4 - 0.35) / (0.4 - 0.3)
    assert s["kp"] == pytest.approx(0.9)  # 0.72 / 0.8
    assert s["harmonic"] == pytest.approx(2 * 0.5 * 0.9 / 1.4)


def test_choose_trial_follows_the_rule() -> None:
    trials = [
        {"harmonic": 0.95, "kp": KP_MIN - 0.01},  # best harmonic, KP too low
        {"harmonic": 0.80, "kp": 0.99},
        {"harmonic": 0.85, "kp": KP_MIN},  # best among KP >= KP_MIN
        {"harmonic": 0.85, "kp": 0.97},  # a tie: the earlier trial wins
    ]
    assert choose_trial(trials) == (2, True)
    assert choose_trial([{"harmonic": 0.5, "kp": 0.6}, {"harmonic": 0.7, "kp": 0.5}]) == (1, False)
    assert choose_trial([{"harmonic": float("nan"), "kp": 1.0}, {"harmonic": 0.1, "kp": 0.2}]) == (1, False)
    with pytest.raises(MedunlearnError, match="no trial"):
        choose_trial([{"harmonic": float("nan"), "kp": 1.0}])


def test_tune_recipe_checks_its_ranges() -> None:
    ok = TuneRecipe(lr={"default": (1e-5, 1e-3)}, knobs={"npo": {"beta": (0.05, 1.0)}})
    assert ok.space("npo") == {"lr": (1e-5, 1e-3), "beta": (0.05, 1.0)}
    assert ok.space("ga") == {"lr": (1e-5, 1e-3)}
    for bad in (
        {"lr": {"default": (1e-3, 1e-5)}},  # lo > hi
        {"lr": {"default": (0.0, 1e-5)}},  # not log-uniform
        {"knobs": {"npo": {"beta": (0.1, 1.0), "gamma": (0.1, 1.0)}}},  # two knobs
        {"knobs": {"npo": {"projection": (1.0, 2.0)}}},  # not numeric
        {"knobs": {"nope": {"beta": (0.1, 1.0)}}},  # unknown method
    ):
        with pytest.raises(ValueError):
            TuneRecipe(**bad)
    with pytest.raises(MedunlearnError, match="no learning-rate range"):
        TuneRecipe(lr={"dual": (0.01, 0.1)}).space("ga")


def _tuned_data() -> dict[str, Any]:
    return {
        "suite": "s", "forget": "Surgery", "size": "smoke", "model": "m",
        "split": {"forget": ["a"], "forget_holdout": ["b"], "retain": ["c"], "retain_holdout": ["d"]},
        "methods": {"npo": {"chosen": {"lr": 0.004, "beta": 0.3}, "trials": []}},
    }  # fmt: skip


def test_tuned_file_is_checked_and_applied(tmp_path: Path) -> None:
    from unlearn.eval.suite import load_suite

    recipe = load_suite("medmcqa-surgery").size("smoke")
    path = tmp_path / "tuned.json"
    data = _tuned_data()
    write_tuned(path, data)
    ident = {k: data[k] for k in ("suite", "forget", "size", "model")}
    tuned = read_tuned(path, ident, data["split"])
    new = apply_tuned(recipe, tuned, ["npo", "ga"])
    cfg = new.unlearn.run_config("npo", seed=0, model="m", forget="f", retain=["r"], max_length=8)
    assert (cfg.train.lr, cfg.method.beta) == (0.004, 0.3)
    assert new.unlearn.lr_for("ga") == recipe.unlearn.lr_for("ga")  # not tuned: the recipe's
    assert tuned.section(["npo", "ga"])["untuned_methods"] == ["ga"]
    with pytest.raises(MedunlearnError, match="size is 'smoke', this run's is 'small'"):
        read_tuned(path, {**ident, "size": "small"}, data["split"])
    with pytest.raises(MedunlearnError, match="tuning split differs"):
        read_tuned(path, ident, {**data["split"], "forget": ["z"]})
    path.write_text("{not json")
    with pytest.raises(MedunlearnError, match="tuned.json"):
        read_tuned(path, ident, data["split"])
    with pytest.raises(MedunlearnError, match="eval tune"):
        read_tuned(tmp_path / "missing.json", ident, data["split"])
    assert isinstance(tuned, Tuned)


# ------------------------------------------------------------------------------------------ end to end
def _record_items(mp: pytest.MonkeyPatch) -> list[str]:
    """Wrap every binding of the functions that turn an MCQ item into text (training documents, option
    scoring, membership texts) so that each item id they see is recorded."""
    import unlearn.prompts as prompts

    seen: list[str] = []

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            item = args[0] if args and isinstance(args[0], dict) else args[1]
            seen.append(str(item["id"]))
            return fn(*args, **kwargs)

        return recorded

    for name in ("render_mcq", "mcq_option_texts"):
        original = getattr(prompts, name)
        for module in list(sys.modules.values()):
            if getattr(module, name, None) is original:
                mp.setattr(module, name, wrap(original))
    return seen


@pytest.fixture(scope="module")
def tuned_run(
    shared_data: Path, module_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, list[str]]]:
    import unlearn.eval.evaluate  # noqa: F401 - bind every importer of the prompt functions before wrapping
    import unlearn.eval.item_pass  # noqa: F401

    out = tmp_path_factory.mktemp("tune")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDUNLEARN_SHARED_DATA", str(shared_data))
        seen = _record_items(mp)
        args = ["eval", "tune", "medmcqa-surgery", "--size", "smoke", "--methods", "ga,npo", "--trials", "2"]
        res = cli.invoke(app, [*args, "--out", str(out)])
        assert res.exit_code == 0, res.output + repr(res.exception)
        yield out, list(seen)


@pytest.mark.slow
def test_tuning_never_reads_a_reported_item(tuned_run: tuple[Path, list[str]], shared_data: Path) -> None:
    from unlearn.eval.suite import load_suite

    _, seen = tuned_run
    forget, retain = load_suite("medmcqa-surgery").load_items(shared_data)
    reported = {it["id"] for part in D.split_items(forget, retain, "smoke", 0).values() for it in part}
    tuning = {it["id"] for part in D.tuning_split(forget, retain, "smoke").values() for it in part}
    assert seen, "the recorder saw no item: the check would pass vacuously"
    assert set(seen) <= tuning
    assert not set(seen) & reported
    assert set(seen) == tuning  # every tuning item was used (trained or scored)


@pytest.mark.slow
def test_tuned_file_holds_every_trial_and_the_choice(tuned_run: tuple[Path, list[str]]) -> None:
    out, _ = tuned_run
    data = json.loads((out / "tuned.json").read_text())
    assert (data["suite"], data["size"], data["budget"]["trials"]) == ("medmcqa-surgery", "smoke", 2)
    assert set(data["methods"]) == {"ga", "npo"}
    assert "KP >= 0.95" in data["rule"]
    for name, entry in data["methods"].items():
        assert len(entry["trials"]) == 2
        assert set(entry["chosen"]) == ({"lr", "beta"} if name == "npo" else {"lr"})
        best, eligible = choose_trial(entry["trials"])
        assert (entry["trial"], entry["eligible"]) == (best, eligible)
        assert entry["chosen"] == entry["trials"][best]["settings"]
        for t in entry["trials"]:
            ref = data["reference"]
            assert t["kp"] == pytest.approx(t["accuracy"]["retain"] / ref["memorized"]["retain"])
    # trial models are deleted: their scores stay, their weights do not
    trials = [p for p in (out / "stages").iterdir() if p.name.startswith("tune-trial-")]
    assert len(trials) == 4 and not any((p / "model").exists() for p in trials)


@pytest.mark.slow
def test_suite_reads_the_tuned_settings(tuned_run: tuple[Path, list[str]]) -> None:
    out, _ = tuned_run
    tuned = json.loads((out / "tuned.json").read_text())
    args = [
        "eval",
        "suite",
        "medmcqa-surgery",
        "--size",
        "smoke",
        "--methods",
        "npo,graddiff",
        "--out",
        str(out),
    ]
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    (stage,) = [p for p in (out / "stages").iterdir() if p.name.startswith("unlearn-npo-")]
    cfg = json.loads((stage / "stage.json").read_text())["config"]
    assert cfg["train"]["lr"] == tuned["methods"]["npo"]["chosen"]["lr"]
    assert cfg["method"]["beta"] == tuned["methods"]["npo"]["chosen"]["beta"]
    assert json.loads((out / "splits.json").read_text())["tuning"] == tuned["split"]
    section = json.loads((out / "report" / "results.json").read_text())["tuning"]
    assert section["split"] == tuned["split"] and section["rule"] == tuned["rule"]
    assert section["methods"]["npo"]["trials"] == tuned["methods"]["npo"]["trials"]
    assert (section["tuned_methods"], section["untuned_methods"]) == (["npo"], ["graddiff"])
    # --untuned runs the recipe's settings: another unlearn stage
    res = cli.invoke(app, [*args, "--until", "unlearn", "--untuned"])
    assert res.exit_code == 0, res.output
    assert len([p for p in (out / "stages").iterdir() if p.name.startswith("unlearn-npo-")]) == 2
