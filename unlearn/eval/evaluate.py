"""Evaluating one checkpoint on a suite's splits: per-item MCQ credit, membership inference, per-level
log-likelihood, bootstrap intervals; also for a model unlearned elsewhere (``medunlearn eval model``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ontology.common.errors import MedunlearnError
from unlearn.eval.datasets import SPLITS
from unlearn.eval.inputs import SuiteInputs, check_chat_model, training_docs
from unlearn.eval.metrics import SPLIT_NAMES, auc, bootstrap_ci, method_row


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
    sp = inp.splits[0]
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
