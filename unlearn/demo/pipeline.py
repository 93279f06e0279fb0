"""``medunlearn demo``: the whole flow on the bundled demo data, as cached stages.

ontology → hierarchy → tag → masks → memorize → unlearn (``dual`` and a baseline) → evaluate → report.

The demo teaches the model a subset of the fictitious patient records (their notes and one
multiple-choice probe each), then asks it to forget the records whose procedures or disorders lie in
the forget scope. *Forget* numbers are measured on the memorised in-scope records, *retain* on the
memorised out-of-scope records, *general* on general medical questions that were never trained, and
membership inference compares memorised in-scope notes with held-out in-scope notes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from ontology.common.atomic import atomic_write_json
from ontology.common.config import StrictModel, validate_config
from ontology.common.errors import MedunlearnError
from ontology.common.hashing import config_hash
from unlearn.eval.metrics import method_row
from unlearn.harness import (
    evaluate_stages,
    finetune_stage,
    hierarchy_stage,
    history_curve,
    mask_documents,
    unlearn_stages,
)
from unlearn.recipes import Recipe
from unlearn.stages import StageResult, StageRunner


class DemoConfig(StrictModel):
    """What the demo runs; every field has a default, so ``medunlearn demo`` needs no file."""

    model: str = "smollm2"
    scope: str = Field("surgery", description="'surgery', 'mental' or a DEMO: concept id")
    methods: list[str] = Field(default_factory=lambda: ["dual", "graddiff"])
    forget_records: int = Field(20, ge=2, description="memorised in-scope records (the forget set)")
    retain_records: int = Field(20, ge=2, description="memorised out-of-scope records (the retain set)")
    holdout_records: int = Field(10, ge=2, description="in-scope records never trained (MIA non-members)")
    general_items: int = Field(24, ge=1, description="general medical QA items for the general accuracy")
    forget_identifiers: bool = Field(
        False,
        description="also target the patient's identifiers (name, record number, dates) of a forgotten record "
        "(L4 weight); off by default: at the demo's budget it dilutes the forgetting of the in-scope concepts "
        "(docs/method-choices.md)",
    )
    seed: int = 0

    def recipe(self) -> Recipe:
        """The model's recipe from ``recipes.yaml`` (a local model directory takes SmolLM2's)."""
        recipes = demo_recipes()
        return recipes.get(self.model, recipes["smollm2"])


RECIPES_FILE = Path(__file__).resolve().parent / "recipes.yaml"


def demo_recipes() -> dict[str, Recipe]:
    """The typed recipes of ``unlearn/demo/recipes.yaml``, by model name."""
    import yaml

    data = yaml.safe_load(RECIPES_FILE.read_text(encoding="utf-8"))
    return {name: validate_config(v, Recipe, source=f"{RECIPES_FILE}: {name}") for name, v in data.items()}


# ----------------------------------------------------------------------------------------------- data
def select_demo_data(cfg: DemoConfig) -> dict[str, list[dict[str, Any]]]:
    """Split the bundled records into forget / retain / holdout and pick their probes and QA items."""
    from unlearn.demo import load_probes, load_qa, load_records, scope_ids

    ids = scope_ids(cfg.scope)
    rng = np.random.default_rng(cfg.seed)
    records = load_records()
    in_scope = [r for r in records if ids & set(r["concepts"])]
    out_scope = [r for r in records if not ids & set(r["concepts"])]

    def pick(rows: list[dict[str, Any]], split: str, n: int, what: str) -> list[dict[str, Any]]:
        pool = [r for r in rows if r["split"] == split]
        if len(pool) < n:
            raise MedunlearnError(f"demo scope {cfg.scope!r}: only {len(pool)} {what} records, {n} requested")
        return [pool[i] for i in sorted(rng.choice(len(pool), size=n, replace=False))]

    forget = pick(in_scope, "train", cfg.forget_records, "in-scope memorised")
    retain = pick(out_scope, "train", cfg.retain_records, "out-of-scope memorised")
    holdout = pick(in_scope, "holdout", cfg.holdout_records, "in-scope held-out")
    probes = [p for p in load_probes()]
    by_record: dict[str, list[dict[str, Any]]] = {}
    for p in probes:
        by_record.setdefault(p["record_id"], []).append(p)

    def mcq(rec: dict[str, Any], in_scope_only: bool) -> dict[str, Any]:
        rows = [p for p in by_record[rec["record_id"]] if p["kind"] == "mcq"]
        if in_scope_only:
            rows = [p for p in rows if p["concept_id"] in ids] or rows
        return rows[0]

    def completion(rec: dict[str, Any]) -> dict[str, Any]:
        return next(p for p in by_record[rec["record_id"]] if p["kind"] == "completion")

    qa = [q for q in load_qa() if not ids & set(q["concept_ids"])]
    general = [
        qa[i] for i in sorted(rng.choice(len(qa), size=min(cfg.general_items, len(qa)), replace=False))
    ]
    return {
        "forget": forget,
        "retain": retain,
        "holdout": holdout,
        "forget_mcq": [mcq(r, True) for r in forget],
        "retain_mcq": [mcq(r, False) for r in retain],
        "holdout_mcq": [mcq(r, True) for r in holdout],
        "forget_completion": [completion(r) for r in forget],
        "retain_completion": [completion(r) for r in retain],
        "general": general,
    }


IDENTIFIER = "DEMO:patient-identifier"
#: part of the evaluation stages' key: bumped when :func:`evaluate_model` measures something new
EVAL_VERSION = 4


def _identifier_spans(text: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Character spans of a record's name, record number and date wherever they occur in ``text``."""
    spans = []
    values: list[str] = [v for v in (record["patient_name"], record["mrn"], record.get("date")) if v]
    for value in values:
        start = text.find(value)
        while start >= 0:
            spans.append(
                {
                    "start": start,
                    "end": start + len(value),
                    "text": value,
                    "concept_id": IDENTIFIER,
                    "level": 4,
                }
            )
            start = text.find(value, start + len(value))
    return spans


def training_docs(
    data: dict[str, list[dict[str, Any]]], tokenizer: Any, *, forget_identifiers: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """The texts the model memorises: each record's note and its MCQ probe rendered with the chat template.

    Forget documents also carry what the masks need beyond the tagger: ``extra_spans`` (the patient's
    identifiers, when ``forget_identifiers``) and, for MCQ probes, ``target_from`` — the start of the
    assistant's answer, before which in-scope concepts are not targets (the question lists four in-scope
    procedures as options; forgetting all four alike would not forget which one was the patient's).
    """
    from unlearn.prompts import ANSWER_PREFIX, render_mcq

    records = {r["record_id"]: r for part in ("forget", "retain") for r in data[part]}
    out: dict[str, list[dict[str, Any]]] = {}
    for part in ("forget", "retain"):
        docs: list[dict[str, Any]] = [
            {"doc_id": r["record_id"], "record_id": r["record_id"], "text": r["text"]} for r in data[part]
        ]
        for p in data[f"{part}_mcq"]:
            text = render_mcq(p, tokenizer)
            docs.append(
                {
                    "doc_id": p["probe_id"],
                    "record_id": p["record_id"],
                    "text": text,
                    "target_from": text.rfind(ANSWER_PREFIX),
                }
            )
        if part == "forget" and forget_identifiers:
            for d in docs:
                d["extra_spans"] = _identifier_spans(d["text"], records[d["record_id"]])
        out[part] = docs
    return out


# ----------------------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def completion_scores(model: Any, tokenizer: Any, probes: list[dict[str, Any]]) -> tuple[float, list[bool]]:
    """Mean per-token log-likelihood of the completion targets after their prompts (averaged over probes),
    and per probe whether greedy decoding reproduces the target (every target token the most likely one)."""
    from unlearn.eval.scoring import continuation_scores

    values, recalled = [], []
    for p in probes:
        prefix = tokenizer(p["prompt"], add_special_tokens=False)["input_ids"]
        target = tokenizer(" " + p["target"], add_special_tokens=False)["input_ids"]
        score = continuation_scores(model, prefix, [target])[0]
        values.append(float(score.logp.mean()))
        recalled.append(bool(score.greedy.all()))
    return float(np.mean(values)), recalled


@torch.no_grad()
def complete(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 12) -> str:
    """Greedy continuation of a plain-text prompt."""
    from unlearn.models import generate

    return generate(model, tokenizer, prompt, max_new_tokens=max_new_tokens)


def evaluate_model(model: Any, tokenizer: Any, data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Every demo figure for one model."""
    from unlearn.eval.fluency import fluency, greedy_completions
    from unlearn.eval.mia import mia_aucs
    from unlearn.eval.scoring import score_mcq

    model.eval()
    mia = mia_aucs(
        model, tokenizer, [r["text"] for r in data["forget"]], [r["text"] for r in data["holdout"]]
    )
    out = {
        "forget_acc": score_mcq(model, tokenizer, data["forget_mcq"], desc="forget MCQ").accuracy,
        "forget_holdout_acc": score_mcq(model, tokenizer, data["holdout_mcq"], desc="holdout MCQ").accuracy,
        "retain_acc": score_mcq(model, tokenizer, data["retain_mcq"], desc="retain MCQ").accuracy,
        "general_acc": score_mcq(model, tokenizer, data["general"], desc="general MCQ").accuracy,
        "mia_auc": mia.auc,
    }
    for part in ("forget", "retain"):
        logp, recalled = completion_scores(model, tokenizer, data[f"{part}_completion"])
        out[f"{part}_target_logp"], out[f"{part}_recalled"] = logp, recalled
    prompts = [p["prompt"] for p in data["forget_completion"]]
    out["fluency"] = fluency(greedy_completions(model, tokenizer, prompts, max_new_tokens=16))
    return out


# ----------------------------------------------------------------------------------------------- stages
def _graph_and_masks(
    runner: StageRunner, cfg: DemoConfig, model_dir: str, tok: Any, docs: dict[str, list[dict[str, Any]]]
) -> StageResult:
    """The demo ontology's graph (Turtle, checked against the RDF/XML copy), its hierarchy and the masks."""
    from hierarchy.masks import MASKS_VERSION, TARGET
    from ontology.loader import load
    from ontology.store import write_graph
    from unlearn.demo import DEFAULT_SCOPES, ontology_path

    def ontology_stage(work: Path) -> dict[str, Any]:
        ttl, owl = load(ontology_path("ttl")), load(ontology_path("owl"))
        if set(ttl.graph.nodes) != set(owl.graph.nodes) or set(ttl.graph.edges) != set(owl.graph.edges):
            raise MedunlearnError("the demo ontology's Turtle and RDF/XML files disagree; regenerate data/")
        write_graph(ttl, work / "graph")
        return ttl.stats()

    onto = runner.run("ontology", {"ttl": str(ontology_path("ttl"))}, ontology_stage)
    hier = runner.run("hierarchy", {"graph": onto.path.name}, hierarchy_stage(onto.path / "graph"))
    scope_root = DEFAULT_SCOPES.get(cfg.scope, cfg.scope)

    def masks_stage(work: Path) -> dict[str, Any]:
        info = mask_documents(
            docs,
            hier.path / "hier",
            [scope_root],
            tok,
            cfg.model,
            work,
            extra_roles={IDENTIFIER: (TARGET, 4, 1.0)},
        )
        if info["forget"]["tokens_by_role"]["target"] == 0:
            raise MedunlearnError(f"scope {cfg.scope!r} marks no target token in the forget records")
        return info

    key = {"hier": hier.path.name, "scope": cfg.scope, "model": model_dir,
           "docs": config_hash(docs),  # texts and the extra spans / answer offsets the masks use
           "version": MASKS_VERSION}  # fmt: skip
    return runner.run("masks", key, masks_stage)


def _rows(evals: dict[str, dict[str, Any]], unlearned: dict[str, StageResult]) -> dict[str, dict[str, Any]]:
    """One table row per model: the report's keys, recall and target log-likelihood."""

    def accs(e: dict[str, Any]) -> dict[str, float]:
        return {
            "forget": e["forget_acc"],
            "forget_holdout": e["forget_holdout_acc"],
            "retain": e["retain_acc"],
            "retain_holdout": e["general_acc"],
        }

    rows: dict[str, Any] = {}
    for name, ev in evals.items():
        info = unlearned[name].info if name in unlearned else {}
        rows[name] = method_row(
            accs(ev), accs(evals["memorized"]), accs(evals["oracle"]), ev["mia_auc"], evals["oracle"]["mia_auc"],
            changed_param_fraction=info.get("changed_fraction"), wall_s=info.get("wall_seconds"),
            forget_logp=ev["forget_target_logp"], oracle_forget_logp=evals["oracle"]["forget_target_logp"],
            fluency=ev.get("fluency"),
        )  # fmt: skip
        for part in ("forget", "retain"):
            rows[name][f"{part}_target_logp"] = ev[f"{part}_target_logp"]
            rows[name][f"{part}_recall"] = float(np.mean(ev[f"{part}_recalled"]))
    return rows


#: the rows of the demo's table, on the terminal (``medunlearn demo``) and in the report alike
SUMMARY_MEASURES = [
    ("forget acc (memorised in-scope records)", "forget_acc", "pct"),
    ("forget-holdout acc (never trained)", "forget_holdout_acc", "pct"),
    ("retain acc (memorised other records)", "retain_acc", "pct"),
    ("general acc (general medical QA)", "retain_holdout_acc", "pct"),
    ("forget records recalled (greedy)", "forget_recall", "pct"),
    ("retain records recalled (greedy)", "retain_recall", "pct"),
    ("forget target log-lik per token", "forget_target_logp", "f2"),
    ("retain target log-lik per token", "retain_target_logp", "f2"),
    ("forget log-lik gap to the oracle (relative)", "forget_logp_gap_to_oracle", "ratio"),
    ("degenerate forget completions (repeats)", "fluency.degenerate_rate", "pct"),
    ("distinct bigrams of forget completions", "fluency.distinct2", "f2"),
    ("MIA AUC, LOSS attack (oracle ≈ ideal)", "mia_auc.loss", "auc"),
    ("MIA AUC, Min-K%++ attack", "mia_auc.min_k_pp", "auc"),
    ("changed parameters (measured)", "changed_param_fraction", "pct3"),
    ("unlearning wall time (s)", "wall_s", "f1"),
]
SUMMARY_NOTE = (
    "recalled: greedy decoding of the note's opening up to 'Patient NAME, MRN …, underwent' (or 'was diagnosed "
    "with') reproduces the record's procedure (or diagnosis); log-lik: mean log-likelihood per token of that "
    "procedure or diagnosis after the same opening (higher = better remembered)"
)


def run_demo(cfg: DemoConfig, out_dir: str | Path) -> dict[str, Any]:
    """Run (or reuse) every stage; return the results dict that the report and the table show."""
    from unlearn.eval.report import write_report
    from unlearn.models import load_tokenizer, prepare

    recipe = cfg.recipe()
    recipe.check_methods(cfg.methods)
    out = Path(out_dir)
    runner = StageRunner(out / "stages")
    t0 = time.perf_counter()
    model_dir = str(prepare(cfg.model))
    prepare_s = time.perf_counter() - t0
    tok = load_tokenizer(model_dir)
    data = select_demo_data(cfg)
    docs = training_docs(data, tok, forget_identifiers=cfg.forget_identifiers)
    masks = _graph_and_masks(runner, cfg, model_dir, tok, docs)
    memorize = recipe.memorize.model_copy(update={"seed": cfg.seed})
    key = {"model": model_dir, "recipe": memorize.model_dump()}
    memo = runner.run(
        "memorize", {**key, **_data_key(data)},
        finetune_stage(model_dir, docs["forget"] + docs["retain"], memorize, "memorize", recipe.max_length),
    )  # fmt: skip
    oracle = runner.run(
        "oracle", {**key, "retain": _data_key(data)["retain"]},
        finetune_stage(model_dir, docs["retain"], memorize, "oracle", recipe.max_length),
    )  # fmt: skip
    unlearned = unlearn_stages(
        runner, recipe.unlearn, cfg.methods, seed=cfg.seed, model=str(memo.path / "model"),
        forget=masks.path / "forget.parquet", retain=masks.path / "retain.parquet", max_length=recipe.max_length,
        reference=model_dir,
    )  # fmt: skip
    models = {"base": model_dir, "memorized": str(memo.path / "model"), "oracle": str(oracle.path / "model")}
    models |= {m: str(r.path / "model") for m, r in unlearned.items()}
    evals = evaluate_stages(
        runner, models, {"version": EVAL_VERSION, **_data_key(data)}, lambda m, t: evaluate_model(m, t, data)
    )
    results = {
        "suite": f"demo ({cfg.scope})",
        "size": "demo",
        "model": cfg.model,
        "methods": _rows(evals, unlearned),
        "summary": {
            "title": f"medunlearn demo — {cfg.model}, scope demo ({cfg.scope})",
            "measures": SUMMARY_MEASURES,
            "note": SUMMARY_NOTE,
        },
        "split_sizes": {
            "forget": len(data["forget_mcq"]),
            "forget_holdout": len(data["holdout_mcq"]),
            "retain": len(data["retain_mcq"]),
            "retain_holdout (general QA)": len(data["general"]),
        },
        "config_hashes": {r.name: r.path.name.rsplit("-", 1)[-1] for r in runner.results},
        "curves": {m: history_curve(r.path) for m, r in unlearned.items()},
        "completions": _completions(models, data, cfg.methods[0], evals["memorized"]["forget_recalled"]),
        "timings": [{"stage": "prepare model", "seconds": round(prepare_s, 1), "cached": False}]
        + runner.timings(),
        "masks": {k: v["tokens_by_role"] for k, v in masks.info.items()},
    }
    paths = write_report(results, out / "report")
    results["report"] = str(paths["html"])
    return results


def _data_key(data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {part: [r.get("record_id") or r.get("qa_id") for r in rows] for part, rows in data.items()}


def _completions(
    models: dict[str, str], data: dict[str, list[dict[str, Any]]], method: str, recalled: list[bool]
) -> list[dict[str, Any]]:
    """Greedy completions of two forgotten records (those the memorised model recalled verbatim, when there
    are any: forgetting is shown on what was known) and one kept record, before and after unlearning."""
    from unlearn.models import load_model

    order = sorted(range(len(recalled)), key=lambda i: not recalled[i])  # stable: recalled ones first
    probes = [data["forget_completion"][i] for i in order[:2]] + data["retain_completion"][:1]
    kinds = ["forgotten record", "forgotten record", "kept record"]
    loaded = {name: load_model(models[name]) for name in ("memorized", method)}
    out = []
    for kind, p in zip(kinds, probes, strict=True):
        row = {"kind": kind, "prompt": p["prompt"], "expected": p["target"]}
        for name, (model, tok) in loaded.items():
            row[name] = complete(model, tok, p["prompt"])
        out.append(row)
    return out


def write_summary(results: dict[str, Any], out_dir: str | Path) -> Path:
    """Save the demo's results next to its report (``demo-results.json``)."""
    return atomic_write_json(Path(out_dir) / "demo-results.json", results)
