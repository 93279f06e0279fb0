"""The benchmark suite as cached stages: MeSH graph → hierarchy → scope → masks → memorize → oracle →
unlearn → evaluate → relearn → report.

**Seeds.** Every seed reads the same split (the seed-0 order) and the same memorised and oracle models; a seed
changes the unlearning runs (``train.seed``: batch order, selection batches, random directions) and the
relearning attack's batches. So a second seed costs its unlearning, evaluation and relearning stages only, and
the tuning split (:mod:`unlearn.eval.tune`) stays disjoint from every reported item.

Every stage runs through :class:`unlearn.stages.StageRunner` under ``OUT/stages`` (keyed by the hash of its
config: a finished stage is reused, an interrupted one resumes); the stage bodies it shares with the demo are in
:mod:`unlearn.harness`. The training texts are the chat-rendered MCQ items with their answers
(:func:`unlearn.prompts.render_mcq`), the same strings scoring and membership inference read; the training masks
carry the answer marks of :mod:`unlearn.eval.inputs`.

**Relearning attack.** The memorised forget items are split in two halves (first half in the seeded order:
the attacker's data). Each unlearned model (and the oracle) is fine-tuned for ``relearn.steps`` steps on the
first half; the recovery is measured on the second half only,
``(acc_relearned - acc_unlearned) / (acc_memorized - acc_unlearned)`` with all three accuracies on that half.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ontology.common.atomic import atomic_write_json
from ontology.common.errors import MedunlearnError
from ontology.common.hashing import sha256_file
from unlearn.eval.evaluate import EVAL_VERSION, confidence_intervals, evaluate_checkpoint, level_records, roc
from unlearn.eval.inputs import Split, SuiteInputs, masks_stage, training_docs
from unlearn.eval.metrics import SPLIT_NAMES, method_row, relearn_recovery, seed_summary
from unlearn.eval.scope import SCOPE_VERSION, scope_stage, suggestion_parts
from unlearn.eval.suite import MESH_LABELS, MESH_TREE
from unlearn.eval.tuned import Tuned, apply_tuned
from unlearn.finetune import FinetuneConfig
from unlearn.harness import evaluate_stages, finetune_stage, hierarchy_stage, unlearn_stages
from unlearn.stages import StageResult, StageRunner

#: The stage groups ``until=`` can stop after, in order.
STAGE_GROUPS = ("masks", "memorize", "oracle", "unlearn", "evaluate", "relearn")
Docs = dict[str, list[dict[str, str]]]


# ------------------------------------------------------------------------------------------ progress
@dataclass
class Tracker:
    """Runs stages through a :class:`StageRunner` and prints progress with an estimate of the time left.

    Each planned stage has a cost in *units* (sequence passes, backward passes counted three times), keyed by
    the stage's label; the estimate is the seconds per unit measured on the stages computed so far times the
    units left. ``records`` keeps each stage's label with its result (labels are unique across seeds).
    """

    runner: StageRunner
    plan: dict[str, float]
    echo: bool = True
    computed_units: float = 0.0
    computed_seconds: float = 0.0
    done: set[str] = field(default_factory=set)
    records: list[tuple[str, StageResult]] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def run(
        self,
        name: str,
        config: dict[str, Any],
        fn: Callable[[Path], dict[str, Any]],
        *,
        label: str | None = None,
    ) -> StageResult:
        """Run (or reuse) stage ``name`` shown as ``label``, then print the progress line."""
        key = label or name
        result = self.runner.run(name, config, fn, label=key)
        self.done.add(key)
        self.records.append((key, result))
        if not result.cached:
            self.computed_units += self.plan.get(key, 0.0)
            self.computed_seconds += result.seconds
        left_units = sum(u for k, u in self.plan.items() if k not in self.done)
        line = f"progress: {len(self.done)}/{len(self.plan)} stages, {time.perf_counter() - self.start:.0f} s"
        if self.computed_units > 0 and left_units > 0:
            line += (
                f", about {left_units * self.computed_seconds / self.computed_units:.0f} s left (estimate)"
            )
        if self.echo:
            print(line, file=sys.stderr, flush=True)
        return result

    def timings(self) -> list[dict[str, Any]]:
        """One row per stage: its label, seconds (when it ran, also for a cached stage) and whether cached."""
        return [{"stage": k, "seconds": round(r.seconds, 1), "cached": r.cached} for k, r in self.records]

    def config_hashes(self) -> dict[str, str]:
        """The config hash of each stage, by label (``graph``, ``memorize``, ``unlearn dual seed 1`` …)."""
        return {k: r.path.name.rsplit("-", 1)[-1] for k, r in self.records}


def _train_steps(epochs: float, n: int, batch: int) -> int:
    return max(1, math.ceil(epochs * n / batch))


def seed_label(seed: int) -> str:
    """The suffix of a seed's stage labels: none for seed 0, `` seed N`` otherwise."""
    return "" if seed == 0 else f" seed {seed}"


def eval_units(sp: Split) -> float:
    """Cost units of one evaluation of split ``sp``."""
    n_mia = len(sp["forget"]) + len(sp["forget_holdout"])
    return float(4 * sum(len(v) for v in sp.values()) + 2 * n_mia + len(sp["forget"]) + len(sp["retain"]))


def base_plan(inp: SuiteInputs, sp: Split, prefix: str = "") -> dict[str, float]:
    """Cost units of the masks, memorize and oracle stages of split ``sp`` (labels start with ``prefix``)."""
    r = inp.recipe.memorize
    n_f, n_r = len(sp["forget"]), len(sp["retain"])
    return {
        f"{prefix}masks": 0.0,  # seconds, left out of the estimate
        f"{prefix}memorize": 3.0 * r.batch_size * _train_steps(r.epochs, n_f + n_r, r.batch_size),
        f"{prefix}oracle": 3.0 * r.batch_size * _train_steps(r.epochs, n_r, r.batch_size),
    }


def stage_plan(inp: SuiteInputs) -> dict[str, float]:
    """Cost units of every stage of a suite run, all seeds (see :class:`Tracker`)."""
    sp, r = inp.split, inp.recipe
    plan = {"graph": 0.0, "hierarchy": 0.0, "scope": 0.0, **base_plan(inp, sp)}
    plan["evaluate memorized"] = plan["evaluate oracle"] = eval_units(sp)
    n_f = len(sp["forget"])
    for seed in inp.seeds:
        tag = seed_label(seed)
        for m in inp.methods:
            plan[f"unlearn {m}{tag}"] = 8.0 * r.unlearn.batch_size * r.unlearn.steps
            plan[f"evaluate {m}{tag}"] = eval_units(sp)
        for name in ("oracle", *inp.methods):
            plan[f"relearn {name}{tag}"] = 3.0 * r.relearn.batch_size * r.relearn.steps + 4.0 * (
                n_f - n_f // 2
            )
    return plan


# ------------------------------------------------------------------------------------------ stages
def item_ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [str(it["id"]) for it in items]


def split_docs(inp: SuiteInputs, sp: Split) -> Docs:
    """The training documents of a split's memorised parts."""
    return {
        "forget": training_docs(sp["forget"], inp.tokenizer),
        "retain": training_docs(sp["retain"], inp.tokenizer),
    }


def masks_stages(inp: SuiteInputs, sp: Split, track: Tracker, docs: Docs, prefix: str = "") -> StageResult:
    """The MeSH graph, its hierarchy, the suite's scope (:mod:`unlearn.eval.scope`, from the tuning split
    whatever ``sp`` is) and the training masks of split ``sp`` (stage ``<prefix>masks``)."""
    from hierarchy.masks import MASKS_VERSION
    from ontology.loader import load
    from ontology.store import write_graph

    tree, labels = inp.data_dir / MESH_TREE, inp.data_dir / MESH_LABELS

    def graph_stage(work: Path) -> dict[str, Any]:
        cg = load(tree, labels=labels)
        write_graph(cg, work / "graph")
        return cg.stats()

    graph = track.run("graph", {"tree": sha256_file(tree), "labels": sha256_file(labels)}, graph_stage)
    hier = track.run("hierarchy", {"graph": graph.path.name}, hierarchy_stage(graph.path / "graph"))
    opts, parts = inp.cfg.scope_suggest, suggestion_parts(inp)
    scope = track.run(
        "scope",
        {"hier": hier.path.name, "named": inp.cfg.scope_items(),
         "suggest": opts.model_dump() if opts else None,
         "items": {k: item_ids(v) for k, v in parts.items()} if parts else None, "version": SCOPE_VERSION},
        scope_stage(inp, parts, hier.path / "hier"),
    )  # fmt: skip
    name = f"{prefix}masks".replace(" ", "-")
    return track.run(
        name,
        {"hier": hier.path.name, "scope": scope.path.name, "model": inp.model_dir,
         "fallback": inp.cfg.answer_fallback, "anchor": inp.cfg.anchor_retain_answers, "version": MASKS_VERSION,
         "forget": item_ids(sp["forget"]), "retain": item_ids(sp["retain"])},
        masks_stage(inp, sp, docs, hier.path / "hier", scope.info), label=f"{prefix}masks",
    )  # fmt: skip


def memorize_stage(inp: SuiteInputs, sp: Split, track: Tracker, docs: Docs, prefix: str = "") -> StageResult:
    """The memorised model: the memorize recipe on the forget and retain items of ``sp``."""
    recipe, max_len = inp.recipe.memorize, inp.recipe.max_length
    return track.run(
        f"{prefix}memorize".replace(" ", "-"),
        {"model": inp.model_dir, "recipe": recipe.model_dump(), "max_length": max_len,
         "forget": item_ids(sp["forget"]), "retain": item_ids(sp["retain"])},
        finetune_stage(inp.model_dir, docs["forget"] + docs["retain"], recipe, "memorize", max_len),
        label=f"{prefix}memorize",
    )  # fmt: skip


def oracle_stage(inp: SuiteInputs, sp: Split, track: Tracker, docs: Docs, prefix: str = "") -> StageResult:
    """The oracle: the same recipe on the retain items of ``sp`` only."""
    recipe, max_len = inp.recipe.memorize, inp.recipe.max_length
    return track.run(
        f"{prefix}oracle".replace(" ", "-"),
        {"model": inp.model_dir, "recipe": recipe.model_dump(), "max_length": max_len, "retain": item_ids(sp["retain"])},
        finetune_stage(inp.model_dir, docs["retain"], recipe, "oracle", max_len),
        label=f"{prefix}oracle",
    )  # fmt: skip


def _relearn(
    inp: SuiteInputs, seed: int, track: Tracker, docs: Docs, models: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The relearning attack on the oracle and every unlearned model (see the module notes)."""
    sp, r, max_len = inp.split, inp.recipe.relearn, inp.recipe.max_length
    half = len(sp["forget"]) // 2
    attack, probe = docs["forget"][:half], sp["forget"][half:]
    recipe = FinetuneConfig(
        epochs=(r.steps - 0.5) * r.batch_size / len(attack),  # exactly r.steps steps (ceil in finetune)
        batch_size=r.batch_size, lr=r.lr, train_layers=r.train_layers, seed=seed, checkpoint_every=r.steps,
    )  # fmt: skip

    def stage(model_dir: str) -> Callable[[Path], dict[str, Any]]:
        def run(out: Path) -> dict[str, Any]:
            from unlearn.eval.scoring import score_mcq
            from unlearn.models import load_model

            info = finetune_stage(model_dir, attack, recipe, "relearn", max_len)(out)
            model, tok = load_model(out / "model")
            res = score_mcq(model, tok, probe, desc="relearn probe")
            return info | {"probe_credit": res.credit.tolist(), "probe_acc": res.accuracy}

        return run

    key = {"attack": item_ids(sp["forget"][:half]), "probe": item_ids(probe), "recipe": recipe.model_dump(),
           "max_length": max_len}  # fmt: skip
    return {
        name: track.run(f"relearn-{name}", {"model": models[name], **key}, stage(models[name]),
                        label=f"relearn {name}{seed_label(seed)}").info
        for name in ("oracle", *inp.methods)
    }  # fmt: skip


def _rows(
    models: dict[str, str],
    evals: dict[str, dict[str, Any]],
    relearned: dict[str, dict[str, Any]],
    costs: dict[str, dict[str, Any]],
    half: int,
    seed: int,
) -> dict[str, Any]:
    """One report row per model: accuracies, efficacy, KP, MIA, relearning recovery, cost, intervals."""

    def accs(name: str) -> dict[str, float]:
        return {s: evals[name]["accuracy"][s] for s in SPLIT_NAMES}

    def probe_acc(name: str) -> float:
        return float(np.mean(evals[name]["credit"]["forget"][half:]))

    rows: dict[str, Any] = {}
    for name in models:
        row = method_row(
            accs(name), accs("memorized"), accs("oracle"), evals[name]["mia_auc"], evals["oracle"]["mia_auc"],
            forget_logp=evals[name].get("forget_logp"), oracle_forget_logp=evals["oracle"].get("forget_logp"),
            fluency=evals[name].get("fluency"), **costs.get(name, {}),
        )  # fmt: skip
        if name in relearned:
            row["relearn_recovery"] = relearn_recovery(
                probe_acc("memorized"), probe_acc(name), relearned[name]["probe_acc"]
            )
            row["relearn_probe_acc"] = {"before": probe_acc(name), "after": relearned[name]["probe_acc"]}
        row["ci"] = confidence_intervals(evals[name], seed)
        rows[name] = row
    return rows


@dataclass
class Base:
    """What every seed shares: the training documents, the masks, the memorised and the oracle models (and
    their evaluations, once the first seed reaches that stage)."""

    docs: Docs
    masks: StageResult
    memorized: StageResult | None = None
    oracle: StageResult | None = None
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def evaluate(self, inp: SuiteInputs) -> Callable[[Any, Any], dict[str, Any]]:
        """The evaluation of one model on the reported split (with the per-level records of the masks)."""
        levels = [self.masks.path / "forget.parquet", self.masks.path / "retain.parquet"]
        return lambda model, tok: evaluate_checkpoint(
            model, tok, inp.split, level_records(levels, inp.recipe.max_length)
        )

    def eval_key(self, inp: SuiteInputs) -> dict[str, Any]:
        """The part of the evaluation stages' key every model shares."""
        ids = {k: item_ids(v) for k, v in inp.split.items()}
        return {**ids, "max_length": inp.recipe.max_length, "version": EVAL_VERSION}


def base_stages(inp: SuiteInputs, track: Tracker, until: str | None = None) -> Base | None:
    """Masks, memorize and oracle of the reported split (``None`` when ``until`` stops before the seeds)."""
    docs = split_docs(inp, inp.split)
    base = Base(docs, masks_stages(inp, inp.split, track, docs))
    if until == "masks":
        return None
    base.memorized = memorize_stage(inp, inp.split, track, docs)
    if until == "memorize":
        return None
    base.oracle = oracle_stage(inp, inp.split, track, docs)
    return None if until == "oracle" else base


def run_seed(
    inp: SuiteInputs, seed: int, track: Tracker, base: Base, until: str | None = None
) -> dict[str, Any] | None:
    """Run (or reuse) the unlearning, evaluation and relearning stages of one seed; return its results
    (``None`` when stopped by ``until``)."""
    from unlearn.eval.scoring import level_deltas
    from unlearn.harness import history_curve

    sp, max_len, tag = inp.split, inp.recipe.max_length, seed_label(seed)
    assert base.memorized is not None and base.oracle is not None
    memo, oracle, masks = base.memorized, base.oracle, base.masks
    unlearned = unlearn_stages(
        track, inp.recipe.unlearn, inp.methods, seed=seed, model=str(memo.path / "model"),
        forget=masks.path / "forget.train.parquet", retain=masks.path / "retain.train.parquet", max_length=max_len,
        suffix=tag, reference=inp.model_dir,
    )  # fmt: skip
    if until == "unlearn":
        return None
    models = {"memorized": str(memo.path / "model"), "oracle": str(oracle.path / "model")}
    if not base.evals:  # the first seed evaluates the models every seed shares
        base.evals = evaluate_stages(track, models, base.eval_key(inp), base.evaluate(inp))
    models |= {m: str(r.path / "model") for m, r in unlearned.items()}
    own = {m: models[m] for m in unlearned}
    evals = base.evals | evaluate_stages(track, own, base.eval_key(inp), base.evaluate(inp), suffix=tag)
    if until == "evaluate":
        return None
    relearned = _relearn(inp, seed, track, base.docs, models)
    costs: dict[str, dict[str, Any]] = {
        m: {"changed_param_fraction": r.info["changed_fraction"], "wall_s": r.info["wall_seconds"],
            "peak_mem_mb": r.info["peak_memory_mb"]}
        for m, r in unlearned.items()
    }  # fmt: skip
    costs["oracle"] = {"wall_s": oracle.seconds}  # the cost of exact retraining, for comparison
    half = len(sp["forget"]) // 2
    levels = evals["memorized"].get("levels")
    return {
        "seed": seed,
        "methods": _rows(models, evals, relearned, costs, half, seed),
        "roc": {name: roc(evals[name]) for name in models},
        "per_level": {
            name: level_deltas(evals[name]["levels"], levels)
            for name in models
            if name != "memorized" and levels
        },
        "per_level_raw": {name: evals[name].get("levels") for name in models},
        "curves": {m: history_curve(r.path) for m, r in unlearned.items()},
        "masks": masks_section(masks.info, len(sp["forget"]), len(sp["retain"])),
        "memorize": {
            "steps": memo.info.get("steps"),
            "final_loss": memo.info.get("final_loss"),
            "forget_acc": evals["memorized"]["accuracy"]["forget"],
        },
        "relearn": {
            "attack_items": half,
            "probe_items": len(sp["forget"]) - half,
            "steps": inp.recipe.relearn.steps,
        },
    }


def masks_section(info: dict[str, Any], n_forget: int, n_retain: int) -> dict[str, Any]:
    """The ``masks`` section of ``results.json`` from the masks stage's info: the scope, token roles and how
    many memorised items the scope reaches (docs/eval.md, "Scope and coverage")."""
    with_target = info["items_with_target"]
    return {
        "scope": info["scope"],
        "tokens_by_role": {k: v["tokens_by_role"] for k, v in info["parts"].items()},
        "forget_items": n_forget,
        "forget_items_with_target": with_target["forget"],
        "answer_fallback_items": info["answer_fallback_items"],
        "retain_items": n_retain,
        "retain_items_with_target": with_target["retain"],
        "retain_target_share": with_target["retain"] / n_retain,
        "anchored_retain_items": info["anchored_retain_items"],
    }


def scope_text(scope: dict[str, Any]) -> str:
    """The scope in words: ``E04`` or ``E04 + 10 suggested``."""
    named = ", ".join(scope["named"])
    return f"{named} + {len(scope['suggested'])} suggested" if scope["suggested"] else named


# ------------------------------------------------------------------------------------------ the suite
def combine_seeds(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rows of a run: one seed's as they are (with bootstrap intervals); several seeds' as ``{"mean",
    "std", "n"}`` per number (:func:`seed_summary`)."""
    first = per_seed[0]
    if len(per_seed) == 1:
        return dict(first["methods"])
    return {
        name: seed_summary([{k: v for k, v in s["methods"][name].items() if k != "ci"} for s in per_seed])
        for name in first["methods"]
    }


def run_suite(
    inp: SuiteInputs,
    out_dir: str | Path,
    *,
    echo: bool = True,
    until: str | None = None,
    tuned: Tuned | None = None,
) -> dict[str, Any] | None:
    """Run every seed, combine them, and write the report under ``OUT/report``; return the results.

    With one seed the rows are that seed's numbers (with bootstrap intervals); with several, every number
    is ``{"mean", "std", "n"}`` across seeds (:func:`seed_summary`) and ``per_seed`` keeps the raw rows.
    ``tuned`` (from ``medunlearn eval tune``) replaces the learning rate and knob of the methods it tuned.
    ``until`` (one of :data:`STAGE_GROUPS`) stops after that stage group and returns ``None``.
    """
    from unlearn.eval.goals import goals_section
    from unlearn.eval.report import write_report

    if until is not None and until not in STAGE_GROUPS:
        raise MedunlearnError(f"unknown stage {until!r}; choose from {', '.join(STAGE_GROUPS)}")
    if tuned is not None:
        inp.recipe = apply_tuned(inp.recipe, tuned, inp.methods)
    out = Path(out_dir)
    track = Tracker(StageRunner(out / "stages", echo=echo), stage_plan(inp), echo=echo)
    splits = {"0": {k: item_ids(v) for k, v in inp.split.items()}}
    if tuned is not None:
        splits["tuning"] = tuned.split
    atomic_write_json(out / "splits.json", splits)
    base = base_stages(inp, track, until)
    if base is None:
        return None
    per_seed = []
    for seed in inp.seeds:  # with ``until``, every seed stops after that stage group
        res = run_seed(inp, seed, track, base, until)
        if res is not None:
            per_seed.append(res)
    if len(per_seed) < len(inp.seeds):
        return None
    first = per_seed[0]
    scope = scope_text(first["masks"]["scope"])
    results: dict[str, Any] = {
        "suite": f"{inp.cfg.name} (forget {inp.cfg.forget_label()}, scope {scope})",
        "size": inp.size,
        "model": inp.model,
        "seeds": len(per_seed),
        "methods": combine_seeds(per_seed),
        "split_sizes": {k: len(v) for k, v in inp.split.items()},
        "dropped": {"forget": inp.forget.dropped, "retain": inp.retain.dropped},
        "sources": {"forget": inp.forget.source, "retain": inp.retain.source},
        "config_hashes": track.config_hashes(),
        "curves": first["curves"],
        "roc": first["roc"],
        "per_level": first["per_level"],
        "per_level_loglik": first["per_level_raw"],
        "masks": first["masks"],
        "memorize": first["memorize"],
        "relearn": first["relearn"],
        "timings": track.timings(),
    }
    if len(per_seed) > 1:
        results["per_seed"] = [{"seed": s["seed"], "methods": s["methods"]} for s in per_seed]
    if tuned is not None:
        results["tuning"] = tuned.section(inp.methods)
    if goals := goals_section(results):
        results["goals"] = goals
    paths = write_report(results, out / "report")
    results["report"] = str(paths["html"])
    return results
