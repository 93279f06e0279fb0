"""Benchmark: one evaluation of a suite's splits, by the reference functions vs the one-pass item scorer.

The reference path scores each split's options with :func:`unlearn.eval.scoring.score_mcq` (one item at a time,
its prompt once through the KV cache), then scores the forget and forget-holdout texts again for membership
inference (:func:`unlearn.eval.mia.mia_aucs`) and the masks' records again for the per-level table
(:func:`unlearn.eval.scoring.level_loglik`). The new path is :func:`unlearn.eval.evaluate.evaluate_checkpoint`:
one batched pass per item (:mod:`unlearn.eval.item_pass`) whose per-token log-probabilities membership inference
and the per-level table reuse. Both run on the same model and items; the script prints both times, the ratio,
and the largest difference of every number they share (option scores, membership scores, per-level means).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_eval.py [--model smollm2|DIR] [--suite medmcqa-surgery]
[--size small] [--masks STAGE_DIR] [--limit N] [--repeat 1] [--json OUT]``. ``--masks`` is a suite run's masks
stage directory (``OUT/stages/masks-…``) for the per-level table; without it the levels are left out of both.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np


def reference_evaluation(
    model: Any, tok: Any, splits: dict[str, list[dict[str, Any]]], levels: list[dict[str, Any]]
) -> dict[str, Any]:
    """The evaluation as three separate scorings: options, membership texts, level records."""
    from unlearn.eval.datasets import SPLITS
    from unlearn.eval.inputs import training_docs
    from unlearn.eval.mia import mia_aucs
    from unlearn.eval.scoring import level_loglik, score_mcq

    out: dict[str, Any] = {"options": {}, "accuracy": {}}
    for split in SPLITS:
        res = score_mcq(model, tok, splits[split], desc=f"{split} MCQ")
        out["options"][split] = res.scores
        out["accuracy"][split] = res.accuracy
    mia = mia_aucs(
        model,
        tok,
        [d["text"] for d in training_docs(splits["forget"], tok)],
        [d["text"] for d in training_docs(splits["forget_holdout"], tok)],
    )
    out["mia_members"], out["mia_nonmembers"] = mia.members, mia.nonmembers
    if levels:
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        out["levels"] = level_loglik(model, levels, pad_id=pad)
    return out


def one_pass_evaluation(
    model: Any, tok: Any, splits: dict[str, list[dict[str, Any]]], levels: list[dict[str, Any]]
) -> dict[str, Any]:
    """:func:`unlearn.eval.evaluate.evaluate_checkpoint`, with the option scores kept for the comparison."""
    from unlearn.eval import item_pass
    from unlearn.eval.evaluate import evaluate_checkpoint

    captured: dict[str, np.ndarray] = {}
    real = item_pass.score_items

    def keep(*args: Any, **kwargs: Any) -> Any:
        res = real(*args, **kwargs)
        captured[kwargs["desc"].split()[0]] = res.options
        return res

    item_pass.score_items = keep
    try:
        ev = evaluate_checkpoint(model, tok, splits, levels)
    finally:
        item_pass.score_items = real
    return {
        "options": captured,
        "accuracy": ev["accuracy"],
        "mia_members": {a: np.asarray(v) for a, v in ev["mia_members"].items()},
        "mia_nonmembers": {a: np.asarray(v) for a, v in ev["mia_nonmembers"].items()},
        **({"levels": ev["levels"]} if "levels" in ev else {}),
    }


def largest_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Largest absolute difference per kind of number (``nan`` entries must coincide)."""

    def diff(x: np.ndarray, y: np.ndarray) -> float:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        ok = ~np.isnan(x)
        return float(np.abs(x[ok] - y[ok]).max()) if ok.any() else 0.0

    out = {"option scores": max(diff(a["options"][s], b["options"][s]) for s in a["options"])}
    out["accuracy"] = max(abs(a["accuracy"][s] - b["accuracy"][s]) for s in a["accuracy"])
    for side in ("mia_members", "mia_nonmembers"):
        for attack in a[side]:
            out[f"{side}.{attack}"] = diff(a[side][attack], b[side][attack])
    if "levels" in a:
        cells = [
            (a["levels"][lv][side], b["levels"][lv][side])
            for lv in a["levels"]
            for side in ("inside", "outside")
        ]
        out["level means"] = diff(np.array([c[0] for c in cells]), np.array([c[1] for c in cells]))
    return out


def main() -> None:
    from unlearn.eval.datasets import split_items
    from unlearn.eval.evaluate import level_records
    from unlearn.eval.suite import load_suite
    from unlearn.models import load_model, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--suite", default="medmcqa-surgery")
    ap.add_argument("--size", default="small")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--masks", default=None, help="a suite run's masks stage directory (per-level table)")
    ap.add_argument("--limit", type=int, default=None, help="first N items of each split")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    cfg = load_suite(args.suite)
    forget, retain = cfg.load_items(Path(args.data))
    splits = split_items(forget, retain, args.size, 0)
    if args.limit:
        splits = {k: v[: args.limit] for k, v in splits.items()}
    recipe = cfg.size(args.size)
    levels = []
    if args.masks:
        masks = Path(args.masks)
        levels = level_records(
            [masks / "forget.train.parquet", masks / "retain.train.parquet"], recipe.max_length
        )
        keep = {str(it["id"]) for s in ("forget", "retain") for it in splits[s]}
        levels = [r for r in levels if str(r["doc_id"]) in keep]
    model, tok = load_model(str(prepare(args.model)))
    model.eval()
    times: dict[str, list[float]] = {"reference": [], "one pass": []}
    results: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in (("reference", reference_evaluation), ("one pass", one_pass_evaluation)):
            t0 = time.perf_counter()
            results[name] = fn(model, tok, splits, levels)
            times[name].append(time.perf_counter() - t0)
    diffs = largest_differences(results["reference"], results["one pass"])
    best = {k: min(v) for k, v in times.items()}
    report = {
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "model": args.model,
        "suite": args.suite,
        "size": args.size,
        "items": {k: len(v) for k, v in splits.items()},
        "level_records": len(levels),
        "seconds": best,
        "speedup": best["reference"] / best["one pass"],
        "largest_difference": diffs,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
