"""Benchmark metrics against hand-computed values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from unlearn.eval import metrics as M


def test_accuracy_ties_get_fractional_credit() -> None:
    rows = [
        [0.9, 0.1, 0.2, 0.3],  # correct
        [0.5, 0.5, 0.1, 0.1],  # correct option tied with one other: 1/2
        [0.2, 0.2, 0.2, 0.2],  # all tied: 1/4 (chance)
        [0.1, 0.9, 0.2, 0.3],  # wrong
    ]
    answers = [0, 1, 3, 0]
    assert M.mcq_accuracy(rows, answers) == pytest.approx((1 + 0.5 + 0.25 + 0) / 4)
    # a missing option (nan) neither wins nor ties
    assert M.mcq_credit([np.nan, 0.3, 0.3], 1) == 0.5
    assert math.isnan(M.mcq_accuracy([], []))
    with pytest.raises(ValueError, match="answer index 3"):
        M.mcq_credit([0.1, 0.2], 3)


def test_forgetting_and_preservation_by_hand() -> None:
    assert M.forgetting_rate(0.173) == pytest.approx(0.827)
    # memorised 0.9 -> 0.45 with the oracle at 0.3: 0.45 / 0.6
    assert M.forgetting_efficacy(0.9, 0.45, 0.3) == pytest.approx(0.75)
    assert M.forgetting_efficacy(0.9, 0.1, 0.3) == pytest.approx(800 / 600)  # overshoot > 1
    assert math.isnan(M.forgetting_efficacy(0.4, 0.3, 0.4))  # nothing to forget
    assert M.knowledge_preservation(0.8, 0.708) == pytest.approx(0.885)
    assert math.isnan(M.knowledge_preservation(0.0, 0.5))
    assert M.point_drop(0.8, 0.768) == pytest.approx(3.2)
    assert M.relearn_recovery(0.9, 0.3, 0.6) == pytest.approx(0.5)
    assert math.isnan(M.relearn_recovery(0.5, 0.5, 0.6))


def test_harmonic_score_folds_overshoot() -> None:
    assert M.harmonic_score(1.0, 0.8) == pytest.approx(2 * 0.8 / 1.8)
    assert M.harmonic_score(1.25, 0.75) == pytest.approx(0.75)  # 1.25 folds to 0.75
    assert M.harmonic_score(2.5, 1.0) == 0.0
    assert M.harmonic_score(0.5, 1.3) == pytest.approx(2 * 0.5 / 1.5)  # KP clipped to 1
    assert math.isnan(M.harmonic_score(float("nan"), 1.0))


def test_auc_with_known_scores_and_ties() -> None:
    # pairs: 0.9 beats both, 0.8 beats both, 0.5 ties 0.5 (1/2) and beats 0.3  -> 5.5 / 6
    assert M.auc([0.9, 0.8, 0.5], [0.5, 0.3]) == pytest.approx(5.5 / 6)
    assert M.auc([1, 1], [1, 1, 1]) == 0.5
    assert M.auc([0, 0], [1, 2]) == 0.0
    assert math.isnan(M.auc([], [1.0]))


def test_auc_matches_pair_counting_and_roc_area() -> None:
    rng = np.random.default_rng(3)
    pos, neg = rng.integers(0, 6, 40), rng.integers(0, 5, 30)  # many ties
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    assert M.auc(pos, neg) == pytest.approx(pairs / (40 * 30))
    fpr, tpr = M.roc_curve(pos, neg)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapz(tpr, fpr) == pytest.approx(M.auc(pos, neg))


def test_privleak_and_resistance() -> None:
    assert M.privleak(0.6, 0.5) == pytest.approx(0.2)
    assert M.privleak(0.45, 0.5) == pytest.approx(-0.1)
    assert M.mia_resistance(0.555) == pytest.approx(0.89)
    assert M.mia_resistance(0.445) == pytest.approx(0.89)


def test_bootstrap_on_fixed_samples() -> None:
    # resampled means of [0, 1] are 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4: the 95% interval is [0, 1]
    assert M.bootstrap_ci([0.0, 1.0], n_boot=4000) == (0.0, 1.0)
    # 200 ones in 400: normal approximation 0.5 ± 1.96 * sqrt(0.25 / 400) = 0.5 ± 0.049
    sample = np.array([1.0, 0.0] * 200)
    lo, hi = M.bootstrap_ci(sample, n_boot=2000, seed=7)
    assert lo == pytest.approx(0.451, abs=0.01) and hi == pytest.approx(0.549, abs=0.01)
    assert M.bootstrap_ci(sample, n_boot=2000, seed=7) == (lo, hi)  # seeded
    assert M.bootstrap_ci(sample, n_boot=2000, seed=8) != (lo, hi)
    # two groups resampled independently, e.g. an AUC interval
    lo, hi = M.bootstrap_ci(([3.0, 4.0, 5.0], [0.0, 1.0, 2.0]), M.auc, n_boot=200)
    assert lo == hi == 1.0


def test_mean_std_across_seeds() -> None:
    mean, std = M.mean_std([0.5, 0.7, 0.9])
    assert mean == pytest.approx(0.7) and std == pytest.approx(0.2)
    mean, std = M.mean_std([0.4])
    assert mean == 0.4 and math.isnan(std)


def test_method_row_from_measurements() -> None:
    accs = {"forget": 0.35, "forget_holdout": 0.30, "retain": 0.88, "retain_holdout": 0.40}
    memorized = {"forget": 0.95, "forget_holdout": 0.40, "retain": 0.96, "retain_holdout": 0.41}
    oracle = {"forget": 0.25, "forget_holdout": 0.27, "retain": 0.95, "retain_holdout": 0.42}
    row = M.method_row(
        accs, memorized, oracle, {"loss": 0.56, "zlib": 0.5}, {"loss": 0.5, "zlib": 0.5},
        changed_param_fraction=0.001, acc_after_relearn=0.5, wall_s=3.0, peak_mem_mb=100.0,
    )  # fmt: skip
    assert row["forget_acc"] == 0.35 and row["retain_holdout_acc"] == 0.40
    assert row["forgetting_rate"] == pytest.approx(0.65)
    assert row["forgetting_efficacy"] == pytest.approx(0.60 / 0.70)
    assert row["forgetting_efficacy_holdout"] == pytest.approx(0.10 / 0.13)
    assert row["knowledge_preservation"] == pytest.approx(0.88 / 0.96)
    assert row["retain_point_drop"] == pytest.approx(8.0)
    e, k = 0.60 / 0.70, 0.88 / 0.96
    assert row["harmonic"] == pytest.approx(2 * e * k / (e + k))
    assert row["privleak"] == {"loss": pytest.approx(0.12), "zlib": 0.0}
    assert row["mia_resistance"]["loss"] == pytest.approx(0.88)
    assert row["relearn_recovery"] == pytest.approx(0.15 / 0.60)
    assert (row["changed_param_fraction"], row["wall_s"], row["peak_mem_mb"]) == (0.001, 3.0, 100.0)
    from unlearn.eval.report import ROW_KEYS

    assert set(ROW_KEYS) <= set(row)


def test_seed_summary() -> None:
    rows = [
        {"forget_acc": 0.2, "mia_auc": {"loss": 0.5}, "wall_s": None},
        {"forget_acc": 0.4, "mia_auc": {"loss": 0.7}, "wall_s": float("nan")},
        {"forget_acc": 0.6, "mia_auc": {"loss": 0.6}, "wall_s": None},
    ]
    s = M.seed_summary(rows)
    assert s["forget_acc"]["mean"] == pytest.approx(0.4) and s["forget_acc"]["std"] == pytest.approx(0.2)
    assert s["forget_acc"]["n"] == 3
    assert s["mia_auc"]["loss"]["mean"] == pytest.approx(0.6) and s["mia_auc"]["loss"][
        "std"
    ] == pytest.approx(0.1)
    assert s["wall_s"] is None
