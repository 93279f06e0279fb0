"""Benchmark metrics as pure numpy functions: accuracy, forgetting, preservation, AUC, intervals.

Conventions
-----------
- Accuracies are fractions in [0, 1]; "points" are percentage points (``100 ×`` a fraction difference).
- A ratio whose denominator is (nearly) zero is undefined and returned as ``nan``, never as 0 or inf.
- Membership scores are oriented so that **higher means "more likely a member"** (a forget item the model
  was trained on); an AUC above 0.5 means the attack separates members from non-members.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

EPS = 1e-9
SPLIT_NAMES = ("forget", "forget_holdout", "retain", "retain_holdout")


def _ratio(num: float, den: float, eps: float = EPS) -> float:
    if not (math.isfinite(num) and math.isfinite(den)) or abs(den) <= eps:
        return float("nan")
    return float(num / den)


# ------------------------------------------------------------------------------------------ accuracy
def mcq_credit(scores: Sequence[float], answer: int, atol: float = 1e-6) -> float:
    """Credit for one multiple-choice item from its option scores (higher = preferred).

    Ties get **fractional credit**: if the correct option is one of ``k`` options tied at the maximum
    (within ``atol``), the item scores ``1/k``. A model that scores every option equally therefore gets
    exactly chance (``1/n``), neither 0 nor 1. NaN scores (padding for missing options) are ignored.

    Examples
    --------
    >>> mcq_credit([0.1, 0.5, 0.2], 1)
    1.0
    >>> mcq_credit([0.5, 0.5, 0.2, 0.5], 1)
    0.3333333333333333
    >>> mcq_credit([0.9, 0.5], 1)
    0.0
    """
    s = np.asarray(scores, dtype=float)
    if not 0 <= answer < len(s) or not np.isfinite(s[answer]):
        raise ValueError(f"answer index {answer} has no finite score among {len(s)} options")
    best = np.nanmax(s)
    tied = np.isfinite(s) & (s >= best - atol)
    return float(1.0 / tied.sum()) if tied[answer] else 0.0


def mcq_accuracy(score_rows: Sequence[Sequence[float]], answers: Sequence[int], atol: float = 1e-6) -> float:
    """Mean :func:`mcq_credit` over items (ties get fractional credit); ``nan`` for no items.

    Examples
    --------
    >>> mcq_accuracy([[1, 0], [0, 1], [0.3, 0.3]], [0, 0, 0])
    0.5
    """
    if len(answers) == 0:
        return float("nan")
    return float(np.mean([mcq_credit(s, a, atol) for s, a in zip(score_rows, answers, strict=True)]))


# ------------------------------------------------------------------------------------------ forgetting
def forgetting_rate(acc_forget_after: float) -> float:
    """The paper's forgetting rate ``1 - acc_forget_after`` (it rewards going below chance, beware).

    Examples
    --------
    >>> round(forgetting_rate(0.173), 3)
    0.827
    """
    return float(1.0 - acc_forget_after)


def forgetting_efficacy(acc_before: float, acc_after: float, acc_oracle: float, eps: float = 1e-6) -> float:
    """``(acc_before - acc_after) / (acc_before - acc_oracle)``: 1 = exactly the oracle's accuracy.

    Above 1 means the model overshot below the oracle (also a leak); ``nan`` when the memorised model is no
    more accurate than the oracle within ``eps`` (there was nothing to forget).

    Examples
    --------
    >>> round(forgetting_efficacy(0.9, 0.6, 0.3), 6)
    0.5
    >>> forgetting_efficacy(0.5, 0.3, 0.5)
    nan
    """
    return _ratio(acc_before - acc_after, acc_before - acc_oracle, eps)


def knowledge_preservation(acc_retain_before: float, acc_retain_after: float) -> float:
    """KP ratio ``acc_retain_after / acc_retain_before`` (``nan`` if the model knew nothing before).

    Examples
    --------
    >>> round(knowledge_preservation(0.8, 0.72), 6)
    0.9
    """
    return _ratio(acc_retain_after, acc_retain_before)


def point_drop(acc_before: float, acc_after: float) -> float:
    """Accuracy drop in percentage points, ``100 (before - after)`` (negative = improved).

    Examples
    --------
    >>> round(point_drop(0.80, 0.768), 6)
    3.2
    """
    return float(100.0 * (acc_before - acc_after))


def harmonic_score(efficacy: float, kp: float) -> float:
    """Harmonic mean of forgetting efficacy and KP, the single number methods are ranked by.

    The target of forgetting is the oracle, so efficacy is *folded* at 1 before averaging
    (``e' = max(0, 1 - |1 - e|)``: overshooting to 1.2 counts like stopping short at 0.8), and KP is
    clipped to [0, 1]. Returns 0 when either part is 0 and ``nan`` when either is undefined.

    Examples
    --------
    >>> harmonic_score(1.0, 1.0)
    1.0
    >>> round(harmonic_score(0.9, 0.9), 6)
    0.9
    >>> harmonic_score(1.2, 0.8) == harmonic_score(0.8, 0.8)
    True
    >>> harmonic_score(0.0, 1.0)
    0.0
    """
    if not (math.isfinite(efficacy) and math.isfinite(kp)):
        return float("nan")
    e = max(0.0, 1.0 - abs(1.0 - efficacy))
    k = min(max(kp, 0.0), 1.0)
    return 0.0 if e + k == 0 else float(2 * e * k / (e + k))


def relearn_recovery(acc_before: float, acc_after_unlearn: float, acc_after_relearn: float) -> float:
    """Share of the forgotten accuracy a relearning attack brings back.

    ``(acc_after_relearn - acc_after_unlearn) / (acc_before - acc_after_unlearn)``; 0 = nothing recovered,
    1 = back to the memorised model; ``nan`` if unlearning removed nothing.

    Examples
    --------
    >>> round(relearn_recovery(0.9, 0.3, 0.45), 6)
    0.25
    """
    return _ratio(acc_after_relearn - acc_after_unlearn, acc_before - acc_after_unlearn)


# ------------------------------------------------------------------------------------------ membership
def auc(members: npt.ArrayLike, nonmembers: npt.ArrayLike) -> float:
    """ROC AUC of membership scores (Mann–Whitney U / (m·n)), ties counted as one half.

    ``P(score_member > score_nonmember) + ½ P(equal)``, computed from mid-ranks in O((m+n) log(m+n)).

    Examples
    --------
    >>> auc([3, 4], [1, 2])
    1.0
    >>> auc([1, 2], [1, 2])
    0.5
    >>> auc([2], [1, 2, 3])
    0.5
    """
    pos = np.asarray(members, dtype=float)
    neg = np.asarray(nonmembers, dtype=float)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    sorted_v = allv[order]
    ranks = np.empty(allv.size, dtype=float)
    # mid-ranks for tied runs
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def roc_curve(members: npt.ArrayLike, nonmembers: npt.ArrayLike) -> tuple[list[float], list[float]]:
    """ROC points ``(fpr, tpr)`` from (0, 0) to (1, 1), one step per distinct score threshold.

    Examples
    --------
    >>> roc_curve([3, 2], [1, 2])
    ([0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0])
    """
    pos = np.asarray(members, dtype=float)
    neg = np.asarray(nonmembers, dtype=float)
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    fpr, tpr = [0.0], [0.0]
    for t in thresholds:
        fpr.append(float((neg >= t).mean()))
        tpr.append(float((pos >= t).mean()))
    return fpr, tpr


def privleak(auc_model: float, auc_oracle: float) -> float:
    """PrivLeak ``(AUC - AUC_oracle) / AUC_oracle``: 0 = as private as the retrained oracle.

    Examples
    --------
    >>> round(privleak(0.6, 0.5), 6)
    0.2
    """
    return _ratio(auc_model - auc_oracle, auc_oracle)


def mia_resistance(auc_value: float) -> float:
    """The paper's "MIA resistance" ``1 - 2 |AUC - 0.5|`` (1 = chance-level attack).

    Examples
    --------
    >>> round(mia_resistance(0.555), 3)
    0.89
    """
    return float(1.0 - 2.0 * abs(auc_value - 0.5))


# ------------------------------------------------------------------------------------------ uncertainty
def bootstrap_ci(
    samples: np.ndarray | Sequence[float] | tuple[Sequence[float], ...],
    statistic: Callable[..., float] = np.mean,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic``.

    ``samples`` is one array, or a tuple of arrays resampled independently (e.g. ``(members, nonmembers)``
    with ``statistic=auc``). Seeded: the same inputs give the same interval.

    Examples
    --------
    >>> bootstrap_ci([2.0, 2.0, 2.0])
    (2.0, 2.0)
    """
    groups = samples if isinstance(samples, tuple) else (samples,)
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if any(a.size == 0 for a in arrays):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        stats[b] = statistic(*[a[rng.integers(0, a.size, a.size)] for a in arrays])
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) across seeds; std is ``nan`` for a single seed.

    Examples
    --------
    >>> [round(x, 6) for x in mean_std([0.5, 0.7, 0.9])]
    [0.7, 0.2]
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    std = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return float(v.mean()), std


# ------------------------------------------------------------------------------------------ result rows
def method_row(
    acc: Mapping[str, float],
    memorized_acc: Mapping[str, float],
    oracle_acc: Mapping[str, float],
    mia_auc: Mapping[str, float],
    oracle_mia_auc: Mapping[str, float],
    *,
    changed_param_fraction: float | None = None,
    acc_after_relearn: float | None = None,
    wall_s: float | None = None,
    peak_mem_mb: float | None = None,
    forget_logp: float | None = None,
    oracle_forget_logp: float | None = None,
    fluency: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One report row from measured accuracies (``{split: acc}`` with the four split names) and AUCs.

    With ``forget_logp`` (and the oracle's) the row also holds ``forget_logp_gap_to_oracle``
    (:func:`logp_gap`); ``fluency`` (:func:`unlearn.eval.fluency.fluency`) is copied as is.

    Efficacy is measured on the forget split against the memorised model and the oracle; KP on the retain
    split. ``acc_after_relearn`` is the held-back half's accuracy after the relearning attack (the recovery
    is taken relative to the forget accuracies). Unmeasured costs stay ``None``.

    Examples
    --------
    >>> accs = {"forget": 0.3, "forget_holdout": 0.28, "retain": 0.9, "retain_holdout": 0.4}
    >>> row = method_row(accs, {**accs, "forget": 0.9, "retain": 0.95}, {**accs, "forget": 0.25},
    ...                  {"loss": 0.52}, {"loss": 0.5})
    >>> round(row["forgetting_efficacy"], 4), round(row["privleak"]["loss"], 4)
    (0.9231, 0.04)
    """
    row: dict[str, Any] = {f"{split}_acc": float(acc[split]) for split in SPLIT_NAMES}
    row["forgetting_rate"] = forgetting_rate(acc["forget"])
    row["forgetting_efficacy"] = forgetting_efficacy(
        memorized_acc["forget"], acc["forget"], oracle_acc["forget"]
    )
    row["forgetting_efficacy_holdout"] = forgetting_efficacy(
        memorized_acc["forget_holdout"], acc["forget_holdout"], oracle_acc["forget_holdout"]
    )
    row["knowledge_preservation"] = knowledge_preservation(memorized_acc["retain"], acc["retain"])
    row["retain_point_drop"] = point_drop(memorized_acc["retain"], acc["retain"])
    row["harmonic"] = harmonic_score(row["forgetting_efficacy"], row["knowledge_preservation"])
    row["mia_auc"] = {a: float(v) for a, v in mia_auc.items()}
    row["privleak"] = {a: privleak(v, oracle_mia_auc[a]) for a, v in mia_auc.items() if a in oracle_mia_auc}
    row["mia_resistance"] = {a: mia_resistance(v) for a, v in mia_auc.items()}
    row["relearn_recovery"] = (
        None
        if acc_after_relearn is None
        else relearn_recovery(memorized_acc["forget"], acc["forget"], acc_after_relearn)
    )
    row["changed_param_fraction"] = changed_param_fraction
    row["wall_s"] = wall_s
    row["peak_mem_mb"] = peak_mem_mb
    if forget_logp is not None:
        row["forget_logp"] = float(forget_logp)
        if oracle_forget_logp is not None:
            row["forget_logp_gap_to_oracle"] = logp_gap(forget_logp, oracle_forget_logp)
    if fluency is not None:
        row["fluency"] = {k: float(v) for k, v in fluency.items()}
    return row


def logp_gap(logp: float, oracle_logp: float) -> float:
    """Relative gap of a log-likelihood to the oracle's, ``(logp - oracle) / |oracle|``: 0 at the oracle,
    negative when the model finds the forgotten text less likely than a model that never saw it.

    Examples
    --------
    >>> logp_gap(-13.5, -6.9) < -0.9  # the over-forgetting of token-NPO in the demo
    True
    >>> logp_gap(-6.0, -8.0)
    0.25
    """
    return (logp - oracle_logp) / abs(oracle_logp)


def seed_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine one method's rows from several seeds: every number becomes ``{"mean", "std", "n"}``.

    Nested dicts (``mia_auc`` by attack) are summarised key by key; ``None``/NaN values are left out of
    the statistics (``n`` counts the seeds that measured the value).

    Examples
    --------
    >>> rows = [{"forget_acc": 0.25, "mia_auc": {"loss": 0.5}}, {"forget_acc": 0.75, "mia_auc": {"loss": 0.6}}]
    >>> s = seed_summary(rows)
    >>> s["forget_acc"]["mean"], s["forget_acc"]["n"], round(s["mia_auc"]["loss"]["mean"], 6)
    (0.5, 2, 0.55)
    """
    out: dict[str, Any] = {}
    for key in rows[0]:
        values = [r.get(key) for r in rows]
        if isinstance(values[0], Mapping):
            out[key] = seed_summary([v for v in values if isinstance(v, Mapping)])
            continue
        nums = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(float(v))]
        if not nums:
            out[key] = None
            continue
        mean, std = mean_std(nums)
        out[key] = {"mean": mean, "std": std, "n": len(nums)}
    return out


def mean_value(value: Any) -> float | None:
    """A number, or the ``mean`` of a several-seed ``{"mean", "std"}`` value; ``None`` if absent or not finite."""
    if isinstance(value, Mapping):
        value = value.get("mean")
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
