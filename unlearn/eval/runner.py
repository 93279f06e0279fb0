"""The benchmark suite as cached stages: MeSH graph → hierarchy → masks → memorize → oracle → unlearn →
evaluate → relearn → report.

Every stage runs through :class:`unlearn.stages.StageRunner` under ``OUT/stages`` (keyed by the hash of its
config: a finished stage is reused, an interrupted one resumes). The training texts are the chat-rendered MCQ
items with their answers (:func:`unlearn.prompts.render_mcq`), the same strings scoring and membership inference
read.

**Answer fallback.** A scope such as MeSH ``E04`` (operations) marks few tokens of MedMCQA Surgery questions
as targets: most ask about diseases, not named operations. With ``answer_fallback`` (the default) a forget
item with no target token gets the tokens of its answer (``"X. option text"`` after ``"Answer:"``) marked as
target with the L4 weight, so every method sees the same forget items; the report counts these items.
Per-level preservation reads the masks *before* the fallback (concept tokens only).

**Retain anchoring.** With ``anchor_retain_answers`` (the default) the answer tokens of each retain item are
marked preservation-critical (role 1) in the retain training masks, so a method whose retain NLL weights
preserve tokens (``retain_preserve_weight``, 10 for ``dual``, 1 — plain NLL — for the baselines) protects the
answers MCQ accuracy is read from, not mostly the question text around them.

**Relearning attack.** The memorised forget items are split in two halves (first half in the seeded order:
the attacker's data). Each unlearned model (and the oracle) is fine-tuned for ``relearn.steps`` steps on the
first half; the recovery is measured on the second half only,
``(acc_relearned - acc_unlearned) / (acc_memorized - acc_unlearned)`` with all three accuracies on that half.
"""

from __future__ import annotations

import json
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
from unlearn.eval.datasets import SPLITS, ItemSet, split_items
from unlearn.eval.metrics import SPLIT_NAMES, auc, bootstrap_ci, method_row, relearn_recovery, seed_summary
from unlearn.eval.suite import MESH_LABELS, MESH_TREE, SizeRecipe, SuiteConfig
from unlearn.finetune import FinetuneConfig
from unlearn.prompts import answer_text
from unlearn.stages import StageResult, StageRunner

#: The stage groups ``until=`` can stop after, in order.
STAGE_GROUPS = ("masks", "memorize", "oracle", "unlearn", "evaluate", "relearn")


# ------------------------------------------------------------------------------------------ inputs
@dataclass
class SuiteInputs:
    """Everything resolved before any long computation: recipe, model, tokenizer, data and splits."""

    cfg: SuiteConfig
    size: str
    recipe: SizeRecipe
    methods: list[str]
    model: str
    model_dir: str
    tokenizer: Any
    data_dir: Path
    forget: ItemSet
    retain: ItemSet
    splits: dict[int, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


def check_chat_model(tokenizer: Any, model: str) -> None:
    """A clear error when the tokenizer cannot render chat (the items are chat-formatted MCQs)."""
    if not getattr(tokenizer, "chat_template", None):
        raise MedunlearnError(
            f"model {model}: its tokenizer has no chat template; the benchmark renders MCQ items as chat "
            "(add a chat_template to tokenizer_config.json)"
        )
    if not getattr(tokenizer, "is_fast", False):
        raise MedunlearnError(f"model {model}: needs a fast tokenizer (offset mapping)")


def resolve_inputs(
    cfg: SuiteConfig,
    size: str,
    *,
    data_dir: Path,
    methods: Sequence[str] | None = None,
    model: str | None = None,
    seeds: int = 1,
    limit: int | None = None,
) -> SuiteInputs:
    """Check every input and build the splits of each seed; raise a one-line error on bad input."""
    from unlearn.methods import METHODS
    from unlearn.models import load_tokenizer, prepare

    recipe = cfg.size(size)
    chosen = list(methods or recipe.methods)
    if unknown := [m for m in chosen if m not in METHODS]:
        raise MedunlearnError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if not chosen:
        raise MedunlearnError("no method to run")
    if seeds < 1:
        raise MedunlearnError("--seeds must be at least 1")
    for rel in (MESH_TREE, MESH_LABELS):
        if not (data_dir / rel).is_file():
            raise MedunlearnError(
                f"{data_dir / rel}: MeSH file not found (is --data the shared data folder?)"
            )
    forget, retain = cfg.load_items(data_dir)
    splits = {}
    for seed in range(seeds):
        parts = split_items(forget, retain, size, seed)
        if limit is not None:
            parts = {k: v[:limit] for k, v in parts.items()}
        if len(parts["forget"]) < 2:
            raise MedunlearnError("the forget split needs at least 2 items (one per relearning half)")
        splits[seed] = parts
    name = model or recipe.model
    model_dir = str(prepare(name))
    tok = load_tokenizer(model_dir)
    check_chat_model(tok, name)
    return SuiteInputs(cfg, size, recipe, chosen, name, model_dir, tok, data_dir, forget, retain, splits)


def training_docs(items: Sequence[dict[str, Any]], tokenizer: Any) -> list[dict[str, str]]:
    """Items as ``{"doc_id", "text"}`` documents: the MCQ rendered with its answer through the chat template."""
    from unlearn.prompts import render_mcq

    return [{"doc_id": str(it["id"]), "text": render_mcq(it, tokenizer)} for it in items]


# ------------------------------------------------------------------------------------------ answer fallback
def answer_span(answers: dict[str, str]) -> Callable[[str, str], tuple[int, int]]:
    """``(doc_id, text) -> (start, end)``: the option text of the row's answer (``answers[doc_id]``,
    ``"X. option"``) at its last occurrence in the text, without its letter: the letter tokens (``"B."``) are
    shared by every MCQ answer, and unlearning them on SmolLM2 took retain accuracy from 0.84 to 0.36 in 10
    steps."""

    def span(doc_id: str, text: str) -> tuple[int, int]:
        ans = answers[doc_id]
        start = text.rfind(ans)
        if start < 0:
            raise MedunlearnError(f"masks row {doc_id}: answer text not found in the rendered item")
        end = start + len(ans)
        start += ans.index(". ") + 2 if ". " in ans else 0
        return start, end

    return span


def apply_answer_fallback(src: Path, dst: Path, answers: dict[str, str]) -> list[str]:
    """Mark the answer tokens of forget rows without a target token as L4 targets (:func:`answer_span`)."""
    from hierarchy.masks import TARGET, relabel_span
    from hierarchy.roles import RoleWeights

    weight = RoleWeights().target[4]
    return relabel_span(src, dst, answer_span(answers), TARGET, 4, weight, skip_role=TARGET)


def anchor_answers(src: Path, dst: Path, answers: dict[str, str]) -> list[str]:
    """Mark the answer tokens of retain rows as preservation-critical (:func:`answer_span`); tokens that
    already have a role keep it."""
    from hierarchy.masks import PRESERVE, relabel_span

    return relabel_span(src, dst, answer_span(answers), PRESERVE, 0, 1.0)


# ------------------------------------------------------------------------------------------ evaluation
def level_records(masks: Sequence[Path], max_length: int) -> list[dict[str, Any]]:
    """Masks rows as ``level_loglik`` records (``input_ids``, ``level``, ``role``), truncated."""
    from unlearn.data import masks_records

    return [
        {"input_ids": r.input_ids[:max_length], "level": r.level[:max_length], "role": r.role[:max_length]}
        for path in masks
        for r in masks_records(path)
    ]


def evaluate_checkpoint(
    model: Any,
    tokenizer: Any,
    splits: dict[str, list[dict[str, Any]]],
    levels: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Per-item MCQ credit on the four splits, MIA scores (forget vs forget-holdout texts), per-level log-lik."""
    from unlearn.eval.mia import mia_aucs
    from unlearn.eval.scoring import level_loglik, score_mcq

    model.eval()
    out: dict[str, Any] = {"credit": {}, "accuracy": {}}
    for split in SPLITS:
        res = score_mcq(model, tokenizer, splits[split], desc=f"{split} MCQ")
        out["credit"][split] = res.credit.tolist()
        out["accuracy"][split] = res.accuracy
    mia = mia_aucs(
        model,
        tokenizer,
        [d["text"] for d in training_docs(splits["forget"], tokenizer)],
        [d["text"] for d in training_docs(splits["forget_holdout"], tokenizer)],
    )
    out["mia_auc"] = mia.auc
    out["mia_members"] = {a: v.tolist() for a, v in mia.members.items()}
    out["mia_nonmembers"] = {a: v.tolist() for a, v in mia.nonmembers.items()}
    if levels:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        out["levels"] = level_loglik(model, levels, pad_id=pad)
    return out


def confidence_intervals(ev: dict[str, Any], seed: int = 0) -> dict[str, list[float]]:
    """Bootstrap 95% intervals of the split accuracies (per-item credit) and of each MIA AUC."""
    ci = {f"{s}_acc": list(bootstrap_ci(ev["credit"][s], seed=seed)) for s in SPLITS}
    for attack, members in ev["mia_members"].items():
        pair = (list(members), list(ev["mia_nonmembers"][attack]))
        ci[f"mia_auc.{attack}"] = list(bootstrap_ci(pair, auc, seed=seed))
    return ci


# ------------------------------------------------------------------------------------------ progress
@dataclass
class Tracker:
    """Runs stages through a :class:`StageRunner` and prints progress with an estimate of the time left.

    Each planned stage has a cost in *units* (sequence passes, backward passes counted three times); the
    estimate is the seconds per unit measured on the stages computed so far times the units left.
    """

    runner: StageRunner
    plan: dict[str, float]
    echo: bool = True
    computed_units: float = 0.0
    computed_seconds: float = 0.0
    done: set[str] = field(default_factory=set)
    start: float = field(default_factory=time.perf_counter)

    def run(
        self, key: str, name: str, config: dict[str, Any], fn: Callable[[Path], dict[str, Any]]
    ) -> StageResult:
        """Run (or reuse) stage ``name`` shown as ``key``, then print the progress line."""
        result = self.runner.run(name, config, fn, label=key)
        self.done.add(key)
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


def _train_steps(epochs: float, n: int, batch: int) -> int:
    return max(1, math.ceil(epochs * n / batch))


def stage_plan(inp: SuiteInputs, seed: int) -> dict[str, float]:
    """Cost units of every stage of one seed (see :class:`Tracker`)."""
    sp = inp.splits[seed]
    r = inp.recipe
    n_f, n_r = len(sp["forget"]), len(sp["retain"])
    n_eval = 4 * sum(len(v) for v in sp.values()) + 2 * (len(sp["forget"]) + len(sp["forget_holdout"]))
    n_eval += n_f + n_r
    plan = {"graph": 0.0, "hierarchy": 0.0, "masks": 0.0}  # seconds each, left out of the estimate
    plan["memorize"] = (
        3.0 * r.memorize.batch_size * _train_steps(r.memorize.epochs, n_f + n_r, r.memorize.batch_size)
    )
    plan["oracle"] = 3.0 * r.memorize.batch_size * _train_steps(r.memorize.epochs, n_r, r.memorize.batch_size)
    for m in inp.methods:
        plan[f"unlearn {m}"] = 8.0 * r.unlearn.batch_size * r.unlearn.steps
    for name in ("memorized", "oracle", *inp.methods):
        plan[f"evaluate {name}"] = float(n_eval)
    for name in ("oracle", *inp.methods):
        plan[f"relearn {name}"] = 3.0 * r.relearn.batch_size * r.relearn.steps + 4.0 * (n_f - n_f // 2)
    return plan


# ------------------------------------------------------------------------------------------ stages
def _ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [str(it["id"]) for it in items]


def _evaluate_stage(
    model_dir: str, splits: dict[str, list[dict[str, Any]]], masks: Sequence[Path], max_len: int
) -> Callable[[Path], dict[str, Any]]:
    def run(out: Path) -> dict[str, Any]:
        from unlearn.models import load_model

        model, tok = load_model(model_dir)
        return evaluate_checkpoint(model, tok, splits, level_records(masks, max_len))

    return run


def _relearn_stage(
    model_dir: str,
    attack: list[dict[str, str]],
    probe: list[dict[str, Any]],
    recipe: FinetuneConfig,
    max_length: int,
) -> Callable[[Path], dict[str, Any]]:
    def run(out: Path) -> dict[str, Any]:
        from unlearn.eval.scoring import score_mcq
        from unlearn.harness import finetune_stage
        from unlearn.models import load_model

        info = finetune_stage(model_dir, attack, recipe, "relearn", max_length)(out)
        model, tok = load_model(out / "model")
        res = score_mcq(model, tok, probe, desc="relearn probe")
        return info | {"probe_credit": res.credit.tolist(), "probe_acc": res.accuracy}

    return run


def _unlearn_config(inp: SuiteInputs, method: str, seed: int, memo: Path, masks: Path) -> dict[str, Any]:
    u = inp.recipe.unlearn
    return {
        "model": {"name": str(memo / "model")},
        "data": {
            "forget": str(masks / "forget.train.parquet"),
            "retain": [str(masks / "retain.train.parquet")],
            "max_length": inp.recipe.max_length,
        },
        "method": {"name": method, **u.method.get(method, {})},
        "train": {
            "steps": u.steps,
            "batch_size": u.batch_size,
            "lr": u.lr_for(method),
            "seed": seed,
            "checkpoint_every": u.checkpoint_every,
            **u.train,
        },
    }


def run_seed(
    inp: SuiteInputs, seed: int, runner: StageRunner, until: str | None = None
) -> dict[str, Any] | None:
    """Run (or reuse) every stage of one seed; return its results (``None`` when stopped by ``until``)."""
    from hierarchy.levels import build_hierarchy
    from hierarchy.masks import MASKS_VERSION
    from hierarchy.store import write_hierarchy
    from ontology.loader import load
    from ontology.store import read_graph, write_graph
    from unlearn.eval.scoring import level_deltas
    from unlearn.harness import (
        finetune_stage,
        history_curve,
        mask_documents,
        unlearn_stage,
        unlearn_stage_key,
    )

    sp = inp.splits[seed]
    tok = inp.tokenizer
    track = Tracker(runner, stage_plan(inp, seed), echo=runner.echo)
    tree, labels = inp.data_dir / MESH_TREE, inp.data_dir / MESH_LABELS

    def graph_stage(work: Path) -> dict[str, Any]:
        cg = load(tree, labels=labels)
        write_graph(cg, work / "graph")
        return cg.stats()

    graph = track.run(
        "graph", "graph", {"tree": sha256_file(tree), "labels": sha256_file(labels)}, graph_stage
    )

    def hierarchy_stage(work: Path) -> dict[str, Any]:
        hier = build_hierarchy(read_graph(graph.path / "graph"))
        write_hierarchy(hier, work / "hier")
        return hier.stats()

    hier = track.run("hierarchy", "hierarchy", {"graph": graph.path.name}, hierarchy_stage)
    docs = {"forget": training_docs(sp["forget"], tok), "retain": training_docs(sp["retain"], tok)}
    scope = inp.cfg.scope_items()
    data_key = {k: _ids(v) for k, v in sp.items()}

    def masks_stage(work: Path) -> dict[str, Any]:
        info = mask_documents(docs, hier.path / "hier", scope, tok, inp.model, work)
        # <part>.train.parquet is what the unlearner reads: the masks with the answer marks, or a plain copy
        marks = {"forget": (inp.cfg.answer_fallback, apply_answer_fallback),
                 "retain": (inp.cfg.anchor_retain_answers, anchor_answers)}  # fmt: skip
        marked: dict[str, list[str]] = {}
        for part, (enabled, mark) in marks.items():
            src, dst = work / f"{part}.parquet", work / f"{part}.train.parquet"
            if enabled:
                marked[part] = mark(
                    src, dst, {str(it["id"]): answer_text(it["options"], it["answer"]) for it in sp[part]}
                )
            else:
                marked[part] = []
                dst.write_bytes(src.read_bytes())
        return {"parts": info, "answer_fallback_items": len(marked["forget"]),
                "answer_fallback_ids": marked["forget"], "anchored_retain_items": len(marked["retain"])}  # fmt: skip

    masks = track.run(
        "masks",
        "masks",
        {"hier": hier.path.name, "scope": scope, "model": inp.model_dir, "fallback": inp.cfg.answer_fallback,
         "anchor": inp.cfg.anchor_retain_answers, "version": MASKS_VERSION,
         "forget": data_key["forget"], "retain": data_key["retain"]},
        masks_stage,
    )  # fmt: skip
    if until == "masks":
        return None
    recipe = inp.recipe.memorize.model_copy(update={"seed": seed})
    memo = track.run(
        "memorize",
        "memorize",
        {"model": inp.model_dir, "recipe": recipe.model_dump(), "max_length": inp.recipe.max_length,
         "forget": data_key["forget"],
         "retain": data_key["retain"]},
        finetune_stage(inp.model_dir, docs["forget"] + docs["retain"], recipe, "memorize", inp.recipe.max_length),
    )  # fmt: skip
    if until == "memorize":
        return None
    oracle = track.run(
        "oracle",
        "oracle",
        {
            "model": inp.model_dir,
            "recipe": recipe.model_dump(),
            "max_length": inp.recipe.max_length,
            "retain": data_key["retain"],
        },
        finetune_stage(inp.model_dir, docs["retain"], recipe, "oracle", inp.recipe.max_length),
    )
    if until == "oracle":
        return None
    unlearned: dict[str, StageResult] = {}
    for method in inp.methods:
        run_cfg = _unlearn_config(inp, method, seed, memo.path, masks.path)
        unlearned[method] = track.run(
            f"unlearn {method}",
            f"unlearn-{method}",
            unlearn_stage_key(run_cfg, method),
            unlearn_stage(run_cfg, method),
        )
    if until == "unlearn":
        return None
    models = {"memorized": str(memo.path / "model"), "oracle": str(oracle.path / "model")}
    models |= {m: str(r.path / "model") for m, r in unlearned.items()}
    level_masks = [masks.path / "forget.parquet", masks.path / "retain.parquet"]
    max_len = inp.recipe.max_length
    evals = {
        name: track.run(f"evaluate {name}", f"evaluate-{name}", {"model": path, **data_key, "max_length": max_len},
                        _evaluate_stage(path, sp, level_masks, max_len)).info
        for name, path in models.items()
    }  # fmt: skip
    if until == "evaluate":
        return None
    half = len(sp["forget"]) // 2
    attack, probe = docs["forget"][:half], sp["forget"][half:]
    r = inp.recipe.relearn
    relearn_cfg = FinetuneConfig(
        epochs=(r.steps - 0.5) * r.batch_size / len(attack),  # exactly r.steps steps (ceil in finetune)
        batch_size=r.batch_size, lr=r.lr, train_layers=r.train_layers, seed=seed, checkpoint_every=r.steps,
    )  # fmt: skip
    relearned = {
        name: track.run(f"relearn {name}", f"relearn-{name}",
                        {"model": models[name], "attack": _ids(sp["forget"][:half]), "probe": _ids(probe),
                         "recipe": relearn_cfg.model_dump(), "max_length": max_len},
                        _relearn_stage(models[name], attack, probe, relearn_cfg, max_len)).info
        for name in ("oracle", *inp.methods)
    }  # fmt: skip

    def accs(name: str) -> dict[str, float]:
        return {s: evals[name]["accuracy"][s] for s in SPLIT_NAMES}

    def probe_acc(name: str) -> float:
        return float(np.mean(evals[name]["credit"]["forget"][half:]))

    rows: dict[str, Any] = {}
    for name in models:
        cost: dict[str, Any] = {}
        if name in unlearned:
            info = unlearned[name].info
            cost = {"changed_param_fraction": info["changed_fraction"], "wall_s": info["wall_seconds"],
                    "peak_mem_mb": info["peak_memory_mb"]}  # fmt: skip
        elif name == "oracle":
            cost = {"wall_s": oracle.seconds}  # the cost of exact retraining, for comparison
        row = method_row(
            accs(name),
            accs("memorized"),
            accs("oracle"),
            evals[name]["mia_auc"],
            evals["oracle"]["mia_auc"],
            **cost,
        )
        if name in relearned:
            row["relearn_recovery"] = relearn_recovery(
                probe_acc("memorized"), probe_acc(name), relearned[name]["probe_acc"]
            )
            row["relearn_probe_acc"] = {"before": probe_acc(name), "after": relearned[name]["probe_acc"]}
        row["ci"] = confidence_intervals(evals[name], seed)
        rows[name] = row
    base = evals["memorized"].get("levels")
    return {
        "methods": rows,
        "roc": {name: _roc(evals[name]) for name in models},
        "per_level": {
            name: level_deltas(evals[name]["levels"], base) for name in models if name != "memorized" and base
        },
        "per_level_raw": {name: evals[name].get("levels") for name in models},
        "curves": {m: history_curve(r.path) for m, r in unlearned.items()},
        "masks": {
            "tokens_by_role": {k: v["tokens_by_role"] for k, v in masks.info["parts"].items()},
            "answer_fallback_items": masks.info["answer_fallback_items"],
            "forget_items": len(sp["forget"]),
        },
        "memorize": {
            "steps": memo.info.get("steps"),
            "final_loss": memo.info.get("final_loss"),
            "forget_acc": evals["memorized"]["accuracy"]["forget"],
        },  # fmt: skip
        "relearn": {"attack_items": half, "probe_items": len(probe), "steps": r.steps},
    }


def _roc(ev: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    from unlearn.eval.metrics import roc_curve

    out = {}
    for attack, members in ev["mia_members"].items():
        fpr, tpr = roc_curve(members, ev["mia_nonmembers"][attack])
        out[attack] = {"fpr": fpr, "tpr": tpr}
    return out


# ------------------------------------------------------------------------------------------ the suite
def run_suite(
    inp: SuiteInputs, out_dir: str | Path, *, echo: bool = True, until: str | None = None
) -> dict[str, Any] | None:
    """Run every seed, combine them, and write the report under ``OUT/report``; return the results.

    With one seed the rows are that seed's numbers (with bootstrap intervals); with several, every number
    is ``{"mean", "std", "n"}`` across seeds (:func:`seed_summary`) and ``per_seed`` keeps the raw rows.
    ``until`` (one of :data:`STAGE_GROUPS`) stops after that stage group and returns ``None``.
    """
    from unlearn.eval.goals import goals_section
    from unlearn.eval.report import write_report

    if until is not None and until not in STAGE_GROUPS:
        raise MedunlearnError(f"unknown stage {until!r}; choose from {', '.join(STAGE_GROUPS)}")
    out = Path(out_dir)
    runner = StageRunner(out / "stages", echo=echo)
    atomic_write_json(
        out / "splits.json",
        {str(seed): {k: _ids(v) for k, v in sp.items()} for seed, sp in inp.splits.items()},
    )
    per_seed = []
    for seed in inp.splits:
        res = run_seed(inp, seed, runner, until)
        if res is None:
            return None
        per_seed.append(res)
    first = per_seed[0]
    if len(per_seed) == 1:
        methods = first["methods"]
    else:
        methods = {
            name: seed_summary([{k: v for k, v in s["methods"][name].items() if k != "ci"} for s in per_seed])
            for name in first["methods"]
        }
    sp0 = inp.splits[0]
    results: dict[str, Any] = {
        "suite": f"{inp.cfg.name} (forget {inp.cfg.forget_label()}, scope {', '.join(inp.cfg.scope_items())})",
        "size": inp.size,
        "model": inp.model,
        "seeds": len(per_seed),
        "methods": methods,
        "split_sizes": {k: len(v) for k, v in sp0.items()},
        "dropped": {"forget": inp.forget.dropped, "retain": inp.retain.dropped},
        "sources": {"forget": inp.forget.source, "retain": inp.retain.source},
        "config_hashes": {
            r.path.name.rsplit("-", 1)[0]: r.path.name.rsplit("-", 1)[-1] for r in runner.results
        },
        "curves": first["curves"],
        "roc": first["roc"],
        "per_level": first["per_level"],
        "per_level_loglik": first["per_level_raw"],
        "masks": first["masks"],
        "memorize": [s["memorize"] for s in per_seed],
        "relearn": first["relearn"],
        "timings": runner.timings(),
    }
    if len(per_seed) > 1:
        results["per_seed"] = [s["methods"] for s in per_seed]
    if goals := goals_section(results):
        results["goals"] = goals
    paths = write_report(results, out / "report")
    results["report"] = str(paths["html"])
    return results


def evaluate_model_dir(
    inp: SuiteInputs, model_dir: str | Path, reference: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Accuracies (with intervals) and MIA AUCs of one checkpoint on the suite's seed-0 splits.

    ``reference`` is a suite run's ``results.json``: when given (with ``memorized`` and ``oracle`` rows of
    the same splits), the row also holds efficacy, KP and PrivLeak against them.
    """
    from unlearn.models import load_model

    model, tok = load_model(model_dir)
    check_chat_model(tok, str(model_dir))
    sp = inp.splits[0]
    ev = evaluate_checkpoint(model, tok, sp)
    out: dict[str, Any] = {
        "model": str(model_dir),
        "suite": inp.cfg.name,
        "size": inp.size,
        "split_sizes": {k: len(v) for k, v in sp.items()},
        "split_ids": {k: _ids(v) for k, v in sp.items()},
        **{f"{s}_acc": ev["accuracy"][s] for s in SPLITS},
        "mia_auc": ev["mia_auc"],
        "ci": confidence_intervals(ev),
    }
    if reference is not None:
        ref = reference.get("methods", {})
        if not {"memorized", "oracle"} <= set(ref) or reference.get("split_sizes") != out["split_sizes"]:
            raise MedunlearnError("the reference results lack memorized/oracle rows or use other split sizes")

        def accs(row: dict[str, Any]) -> dict[str, float]:
            return {s: row[f"{s}_acc"] for s in SPLIT_NAMES}

        out["row"] = method_row(
            accs(out), accs(ref["memorized"]), accs(ref["oracle"]), ev["mia_auc"], ref["oracle"]["mia_auc"]
        )
    return out


def load_reference(path: Path) -> dict[str, Any] | None:
    """A suite run's ``results.json`` if it exists (single-seed numbers only), else ``None``."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return None if data.get("seeds", 1) != 1 else data
