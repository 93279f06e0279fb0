"""Evaluating one checkpoint on a suite's splits: per-item MCQ credit, membership inference, per-level
log-likelihood, bootstrap intervals; also for a model unlearned elsewhere (``medunlearn eval model``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ontology.common.errors import MedunlearnError
from unlearn.eval.datasets import SPLITS
from unlearn.eval.inputs import SuiteInputs, check_chat_model
from unlearn.eval.metrics import SPLIT_NAMES, auc, bootstrap_ci, mcq_credit, method_row
from unlearn.prompts import chat_prompt, mcq_user_text, render_mcq


def level_records(masks: Sequence[Path], max_length: int) -> list[dict[str, Any]]:
    """Masks rows as ``level_loglik`` records (``doc_id``, ``input_ids``, ``level``, ``role``), truncated."""
    from unlearn.data import masks_records

    return [
        {
            "doc_id": r.doc_id,
            "input_ids": r.input_ids[:max_length],
            "level": r.level[:max_length],
            "role": r.role[:max_length],
        }
        for path in masks
        for r in masks_records(path)
    ]


#: splits whose items' per-token log-probabilities membership inference reads (members, non-members)
MIA_SPLITS = ("forget", "forget_holdout")
#: part of the evaluation stages' key: bumped when :func:`evaluate_checkpoint` measures something new
EVAL_VERSION = 3


def evaluate_checkpoint(
    model: Any,
    tokenizer: Any,
    splits: dict[str, list[dict[str, Any]]],
    levels: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Per-item MCQ credit on the four splits, MIA scores (forget vs forget-holdout texts), per-level log-lik.

    One batched pass per item (:func:`unlearn.eval.item_pass.score_items`) gives the option scores and, for the
    splits that need them, the per-token log-probabilities of the item rendered with its answer, which
    membership inference and the per-level table read instead of scoring the same texts again. A level record
    whose tokens are not those of a scored item is scored on its own.

    Also: ``forget_logp``, the mean over forget items of their mean per-token log-likelihood (the item rendered
    with its answer; what the LOSS attack reads), and ``fluency`` of the greedy completions of the forget
    items' prompts (:mod:`unlearn.eval.fluency`; the completions themselves are not kept).
    """
    from unlearn.eval.fluency import fluency, greedy_completions
    from unlearn.eval.item_pass import score_items
    from unlearn.eval.mia import membership_scores, mia_result
    from unlearn.eval.scoring import TokenScores, level_means

    model.eval()
    out: dict[str, Any] = {"credit": {}, "accuracy": {}}
    level_ids = {str(r.get("doc_id")) for r in levels}
    scored: dict[str, tuple[list[int], np.ndarray]] = {}
    attack_scores: dict[str, dict[str, np.ndarray]] = {}
    for split in SPLITS:
        items = splits[split]
        full = split in MIA_SPLITS or any(str(it["id"]) in level_ids for it in items)
        res = score_items(
            model, tokenizer, items, full_text=full, stats=split in MIA_SPLITS, desc=f"{split} MCQ"
        )
        credit = [mcq_credit(row, int(it["answer"])) for row, it in zip(res.options, items, strict=True)]
        out["credit"][split] = credit
        out["accuracy"][split] = float(np.mean(credit))
        if split == "forget":
            out["forget_logp"] = float(np.mean([np.nanmean(lp) for lp in res.logp]))
        if split in MIA_SPLITS:
            rows = [TokenScores(lp, mu, sg) for lp, mu, sg in zip(res.logp, res.mu, res.sigma, strict=True)]
            attack_scores[split] = membership_scores(rows, [render_mcq(it, tokenizer) for it in items])
        if full:
            for it, ids, lp in zip(items, res.ids, res.logp, strict=True):
                scored[str(it["id"])] = (ids, lp)
    mia = mia_result(attack_scores["forget"], attack_scores["forget_holdout"])
    out["mia_auc"] = mia.auc
    out["mia_members"] = {a: v.tolist() for a, v in mia.members.items()}
    out["mia_nonmembers"] = {a: v.tolist() for a, v in mia.nonmembers.items()}
    if levels:
        out["levels"] = level_means(levels, _level_logprobs(model, tokenizer, levels, scored))
    prompts = [
        chat_prompt(tokenizer, mcq_user_text(it["question"], it["options"])) for it in splits["forget"]
    ]
    out["fluency"] = fluency(greedy_completions(model, tokenizer, prompts))
    return out


def _level_logprobs(
    model: Any,
    tokenizer: Any,
    levels: Sequence[dict[str, Any]],
    scored: dict[str, tuple[list[int], np.ndarray]],
) -> list[np.ndarray]:
    """Per-token log-probabilities of each level record: taken from its item's scoring when the tokens agree,
    else scored on its own."""
    from unlearn.eval.scoring import token_logprobs

    found: list[np.ndarray | None] = []
    for r in levels:
        ids, logp = scored.get(str(r.get("doc_id")), ([], np.empty(0)))
        n = len(r["input_ids"])
        found.append(logp[:n] if list(ids[:n]) == list(r["input_ids"]) and n <= len(ids) else None)
    missing = [i for i, lp in enumerate(found) if lp is None]
    if missing:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        own = token_logprobs(model, [levels[i]["input_ids"] for i in missing], pad_id=pad, desc="levels")
        for i, ts in zip(missing, own, strict=True):
            found[i] = ts.logp
    return [lp for lp in found if lp is not None]


def confidence_intervals(ev: dict[str, Any], seed: int = 0) -> dict[str, list[float]]:
    """Bootstrap 95% intervals of the split accuracies (per-item credit) and of each MIA AUC."""
    ci = {f"{s}_acc": list(bootstrap_ci(ev["credit"][s], seed=seed)) for s in SPLITS}
    for attack, members in ev["mia_members"].items():
        pair = (list(members), list(ev["mia_nonmembers"][attack]))
        ci[f"mia_auc.{attack}"] = list(bootstrap_ci(pair, auc, seed=seed))
    return ci


def roc(ev: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """The ROC curve of each attack of an evaluation."""
    from unlearn.eval.metrics import roc_curve

    out = {}
    for attack, members in ev["mia_members"].items():
        fpr, tpr = roc_curve(members, ev["mia_nonmembers"][attack])
        out[attack] = {"fpr": fpr, "tpr": tpr}
    return out


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
    sp = inp.split
    ev = evaluate_checkpoint(model, tok, sp)
    out: dict[str, Any] = {
        "model": str(model_dir),
        "suite": inp.cfg.name,
        "size": inp.size,
        "split_sizes": {k: len(v) for k, v in sp.items()},
        "split_ids": {k: [str(it["id"]) for it in v] for k, v in sp.items()},
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
