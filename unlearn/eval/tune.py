"""Tuning on a split of its own: every method gets the same number of trials, chosen by one written rule.

``medunlearn eval tune SUITE --size S`` runs, as cached stages under ``OUT/stages`` (names ``tune-…``):

1. the masks, memorised and oracle models of the **tuning split** (:func:`unlearn.eval.datasets.tuning_split`:
   items after the reported ones in the seed-0 order, disjoint from every reported item), with the suite's
   recipes;
2. for each method, ``trials`` unlearning runs on the recipe's budget (same steps, batch and data as the suite)
   at the points of :func:`trial_points` over its learning rate and its one main knob (the ``tune`` section of
   the suite size); each run is scored by MCQ accuracy on the four tuning parts and its model deleted;
3. the choice of :func:`choose_trial` (:data:`RULE`), written with every trial to ``OUT/tuned.json``
   (:mod:`unlearn.eval.tuned`), which ``medunlearn eval suite`` reads.

The reported split is never read: every item these stages turn into text comes from ``inp.tuning()``
(``tests/unlearn/eval/test_tune.py`` checks it).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ontology.common.errors import MedunlearnError
from unlearn.eval.inputs import Split, SuiteInputs
from unlearn.eval.metrics import forgetting_efficacy, harmonic_score, knowledge_preservation, mcq_credit
from unlearn.eval.runner import (
    Tracker,
    base_plan,
    item_ids,
    masks_stages,
    memorize_stage,
    oracle_stage,
    split_docs,
)
from unlearn.eval.tuned import TUNED_FILE, Tuned, identity, write_tuned
from unlearn.recipes import TuneRecipe
from unlearn.stages import StageRunner

#: the least KP a trial needs to be preferred (:func:`choose_trial`)
KP_MIN = 0.95
RULE = (
    f"the trial with the highest harmonic mean of forgetting efficacy (forget part) and KP on the tuning split "
    f"among the trials with KP >= {KP_MIN}; if no trial keeps KP >= {KP_MIN}, the highest harmonic mean of all "
    "trials; ties go to the earlier trial"
)
#: part of the trial stages' key: bumped when a trial measures something new
TUNE_EVAL_VERSION = 1
PREFIX = "tune "


# ------------------------------------------------------------------------------------------ pure parts
def trial_points(space: Mapping[str, tuple[float, float]], n: int, seed: int) -> list[dict[str, float]]:
    """``n`` settings over ``space`` (``{key: (lo, hi)}``): a seeded Latin hypercube in log space.

    Each key's range is cut into ``n`` log-equal strata and every stratum is used once, in a seeded order, at a
    seeded point inside it; values keep 3 significant digits. The same ``seed`` gives the same design for
    every method with the same keys' order (the learning rate comes first), so the methods' budgets match.

    Examples
    --------
    >>> pts = trial_points({"lr": (1e-5, 1e-3)}, 2, seed=0)
    >>> sorted(p["lr"] < 1e-4 for p in pts)  # one point per decade
    [False, True]
    """
    if n < 1:
        raise MedunlearnError("--trials must be at least 1")
    rng = np.random.default_rng(seed)
    cols: dict[str, list[float]] = {}
    for key, (lo, hi) in space.items():
        u = (rng.permutation(n) + rng.random(n)) / n
        vals = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        cols[key] = [float(f"{v:.3g}") for v in vals]
    return [{k: cols[k][i] for k in space} for i in range(n)]


def trial_scores(
    acc: Mapping[str, float], memorized: Mapping[str, float], oracle: Mapping[str, float]
) -> dict[str, float]:
    """Efficacy (forget and forget-holdout), KP and their harmonic mean (:mod:`unlearn.eval.metrics`).

    Examples
    --------
    >>> s = trial_scores({"forget": 0.3, "forget_holdout": 0.3, "retain": 0.8},
    ...                  {"forget": 0.9, "forget_holdout": 0.3, "retain": 0.8}, {"forget": 0.3, "forget_holdout": 0.3})
    >>> s["efficacy"], s["kp"], s["harmonic"]
    (1.0, 1.0, 1.0)
    """
    eff = forgetting_efficacy(memorized["forget"], acc["forget"], oracle["forget"])
    kp = knowledge_preservation(memorized["retain"], acc["retain"])
    return {
        "efficacy": eff,
        "efficacy_holdout": forgetting_efficacy(
            memorized["forget_holdout"], acc["forget_holdout"], oracle["forget_holdout"]
        ),
        "kp": kp,
        "harmonic": harmonic_score(eff, kp),
    }


def choose_trial(trials: Sequence[Mapping[str, Any]], kp_min: float = KP_MIN) -> tuple[int, bool]:
    """The index of the chosen trial by :data:`RULE` and whether it kept ``kp >= kp_min``.

    Examples
    --------
    >>> choose_trial([{"harmonic": 0.9, "kp": 0.90}, {"harmonic": 0.7, "kp": 0.97}, {"harmonic": 0.8, "kp": 0.96}])
    (2, True)
    >>> choose_trial([{"harmonic": 0.5, "kp": 0.5}, {"harmonic": 0.6, "kp": 0.9}])
    (1, False)
    """

    def ok(value: Any) -> bool:
        return isinstance(value, int | float) and math.isfinite(value)

    defined = [i for i, t in enumerate(trials) if ok(t.get("harmonic")) and ok(t.get("kp"))]
    if not defined:
        raise MedunlearnError(
            "no trial has a defined harmonic mean: the memorised model is no better than the oracle on the "
            "tuning forget items (nothing to forget) or knows no tuning retain item"
        )
    eligible = [i for i in defined if trials[i]["kp"] >= kp_min]
    pool = eligible or defined
    best = max(pool, key=lambda i: (trials[i]["harmonic"], -i))
    return best, bool(eligible)


# ------------------------------------------------------------------------------------------ stages
def split_accuracies(model: Any, tokenizer: Any, sp: Split) -> dict[str, float]:
    """MCQ accuracy (mean credit) on each part of ``sp``, option scores only."""
    from unlearn.eval.item_pass import score_items

    model.eval()
    out = {}
    for part, items in sp.items():
        res = score_items(model, tokenizer, items, desc=f"tuning {part} MCQ")
        out[part] = float(
            np.mean([mcq_credit(row, int(it["answer"])) for row, it in zip(res.options, items, strict=True)])
        )
    return out


def _trial_stage(run_config: Any, sp: Split) -> Any:
    """Unlearn with ``run_config``, score the model on the tuning split, then delete it (a trial keeps its
    scores, manifest and history, not its weights)."""
    from unlearn.harness import unlearn_stage

    def run(out: Path) -> dict[str, Any]:
        from unlearn.models import load_model

        info = unlearn_stage(run_config)(out)
        acc = split_accuracies(*load_model(out / "model"), sp)
        for sub in ("model", "patch"):
            shutil.rmtree(out / sub, ignore_errors=True)
        return info | {"accuracy": acc}

    return run


def _plan(inp: SuiteInputs, sp: Split, methods: Sequence[str], n: int) -> dict[str, float]:
    from unlearn.eval.runner import eval_units

    r = inp.recipe.unlearn
    plan = {"graph": 0.0, "hierarchy": 0.0, "scope": 0.0, **base_plan(inp, sp, PREFIX)}
    light = eval_units(sp) / 3  # options only: no membership texts, levels or completions
    plan[f"{PREFIX}evaluate memorized"] = plan[f"{PREFIX}evaluate oracle"] = light
    for m in methods:
        for k in range(n):
            plan[f"{PREFIX}{m} {k + 1}/{n}"] = 8.0 * r.batch_size * r.steps + light
    return plan


def _budget(inp: SuiteInputs, trials: int | None) -> TuneRecipe:
    tune = inp.recipe.tune
    if tune is None:
        raise MedunlearnError(f"suite {inp.cfg.name}, size {inp.size}: no 'tune' section in its recipe")
    return tune if trials is None else tune.model_copy(update={"trials": trials})


def run_tuning(
    inp: SuiteInputs, out_dir: str | Path, *, trials: int | None = None, echo: bool = True
) -> Tuned:
    """Tune every method of ``inp.methods`` on the tuning split and write ``OUT/tuned.json``; see the module
    notes. Settings of other methods already in that file (same suite, size, model, split and budget) are kept."""
    from unlearn.eval.tuned import read_tuned
    from unlearn.harness import unlearn_stage_key

    budget = _budget(inp, trials)
    for m in inp.methods:
        budget.space(m)  # a clear error before any stage runs
    sp = inp.tuning()
    if len(sp["forget"]) < 1 or len(sp["retain"]) < 1:
        raise MedunlearnError("the tuning split is empty")
    out = Path(out_dir)
    track = Tracker(
        StageRunner(out / "stages", echo=echo), _plan(inp, sp, inp.methods, budget.trials), echo=echo
    )
    docs = split_docs(inp, sp)
    masks = masks_stages(inp, sp, track, docs, PREFIX)
    models = {
        "memorized": memorize_stage(inp, sp, track, docs, PREFIX),
        "oracle": oracle_stage(inp, sp, track, docs, PREFIX),
    }
    key = {k: item_ids(v) for k, v in sp.items()} | {"version": TUNE_EVAL_VERSION}

    def reference(path: str) -> Any:
        def run(work: Path) -> dict[str, Any]:
            from unlearn.models import load_model

            return {"accuracy": split_accuracies(*load_model(path), sp)}

        return run

    ref = {
        name: track.run(f"tune-evaluate-{name}", {"model": str(st.path / "model"), **key},
                        reference(str(st.path / "model")), label=f"{PREFIX}evaluate {name}").info["accuracy"]
        for name, st in models.items()
    }  # fmt: skip
    methods: dict[str, Any] = {}
    n = budget.trials
    for m in inp.methods:
        space = budget.space(m)
        rows = []
        for k, point in enumerate(trial_points(space, n, budget.seed)):
            settings = dict(point)
            lr = settings.pop("lr")
            recipe = inp.recipe.unlearn.model_copy(
                update={"lr": {m: lr}, "method": {m: {**inp.recipe.unlearn.method.get(m, {}), **settings}}}
            )
            cfg = recipe.run_config(
                m, seed=0, model=str(models["memorized"].path / "model"),
                forget=str(masks.path / "forget.train.parquet"), retain=[str(masks.path / "retain.train.parquet")],
                max_length=inp.recipe.max_length, reference=inp.model_dir,
            )  # fmt: skip
            info = track.run(
                f"tune-trial-{m}", {**unlearn_stage_key(cfg), "tuning": key}, _trial_stage(cfg, sp),
                label=f"{PREFIX}{m} {k + 1}/{n}",
            ).info  # fmt: skip
            rows.append({
                "settings": point, "status": info["status"], "steps": info["steps"], "accuracy": info["accuracy"],
                **trial_scores(info["accuracy"], ref["memorized"], ref["oracle"]),
            })  # fmt: skip
        best, eligible = choose_trial(rows)
        methods[m] = {"space": {k: list(v) for k, v in space.items()}, "chosen": rows[best]["settings"],
                      "trial": best, "eligible": eligible, "trials": rows}  # fmt: skip
    ident = identity(inp.cfg.name, inp.cfg.forget_label(), inp.size, inp.model)
    split_ids = {k: item_ids(v) for k, v in sp.items()}
    path = out / TUNED_FILE
    if path.is_file():
        try:
            old = read_tuned(path, ident, split_ids)
        except MedunlearnError:
            old = None
        if old is not None and old.data.get("budget") == {"trials": n, "seed": budget.seed}:
            methods = {**{k: v for k, v in old.data["methods"].items() if k not in methods}, **methods}
    return write_tuned(path, {
        **ident, "rule": RULE, "kp_min": KP_MIN, "split": split_ids, "budget": {"trials": n, "seed": budget.seed},
        "reference": ref, "methods": methods, "timings": track.timings(),
    })  # fmt: skip
