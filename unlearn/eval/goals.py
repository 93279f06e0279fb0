"""Acceptance goals of a benchmark run (issue #6's `small`-size goals), checked against its results.

Each goal compares one number of the checked method's row (default ``dual``) with a threshold or with the
oracle's row; a goal whose numbers were not measured is reported as ``None`` (unknown), never as met.
With several seeds the means are compared.

Examples
--------
>>> rows = {
...     "memorized": {"forget_acc": 0.9},
...     "oracle": {"forget_acc": 0.3, "mia_auc": {"loss": 0.50}},
...     "dual": {"forget_acc": 0.32, "forgetting_efficacy": 0.97, "forgetting_efficacy_holdout": 0.95,
...              "knowledge_preservation": 0.98, "changed_param_fraction": 0.001, "mia_auc": {"loss": 0.56},
...              "relearn_recovery": 0.2, "harmonic": 0.97},
...     "graddiff": {"harmonic": 0.5},
... }
>>> [(c.goal.split(" ")[0], c.met) for c in check_goals({"methods": rows})]  # doctest: +NORMALIZE_WHITESPACE
[('forgetting', True), ('forgetting', True), ('forget', True), ('KP', True), ('changed', True),
 ('MIA', False), ('relearning', True), ('harmonic', True)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from unlearn.eval.report import REFERENCE_ROWS, lookup, mean_value


@dataclass(frozen=True)
class Goals:
    """Thresholds; the defaults are the issue's goals for the `small` size."""

    efficacy_min: float = 0.90
    oracle_gap_max: float = 0.05
    kp_min: float = 0.97
    changed_max: float = 0.001
    mia_gap_max: float = 0.05
    relearn_max: float = 0.5


@dataclass(frozen=True)
class GoalCheck:
    """One goal: what it asks, what was measured, and whether it is met (``None``: not measured)."""

    goal: str
    measured: str
    met: bool | None


def _num(row: Mapping[str, Any], key: str) -> float | None:
    return mean_value(lookup(row, key))


def _bound(goal: str, value: float | None, ok: Callable[[float], bool], fmt: str = "{:.3f}") -> GoalCheck:
    return GoalCheck(goal, "—" if value is None else fmt.format(value), None if value is None else ok(value))


def _at_least(goal: str, value: float | None, bound: float, fmt: str = "{:.3f}") -> GoalCheck:
    return _bound(goal, value, lambda v: v >= bound, fmt)


def _at_most(goal: str, value: float | None, bound: float, fmt: str = "{:.3f}") -> GoalCheck:
    return _bound(goal, value, lambda v: v <= bound, fmt)


def check_goals(results: Mapping[str, Any], method: str = "dual", goals: Goals = Goals()) -> list[GoalCheck]:
    """Check ``method``'s row of ``results`` against ``goals`` (and the oracle / other methods' rows)."""
    rows = results["methods"]
    row, oracle = rows[method], rows.get("oracle", {})
    checks = [
        _at_least(f"forgetting efficacy ≥ {goals.efficacy_min:g} (forget)",
                  _num(row, "forgetting_efficacy"), goals.efficacy_min),
        _at_least(f"forgetting efficacy ≥ {goals.efficacy_min:g} (forget-holdout)",
                  _num(row, "forgetting_efficacy_holdout"), goals.efficacy_min),
    ]  # fmt: skip
    acc, acc_o = _num(row, "forget_acc"), _num(oracle, "forget_acc")
    gap = None if acc is None or acc_o is None else abs(acc - acc_o)
    checks.append(
        _at_most(f"forget acc within {goals.oracle_gap_max * 100:g} points of the oracle's",
                 gap, goals.oracle_gap_max, "{:.1%} apart")
    )  # fmt: skip
    checks.append(_at_least(f"KP ≥ {goals.kp_min:g}", _num(row, "knowledge_preservation"), goals.kp_min))
    checks.append(
        _at_most(f"changed parameters ≤ {goals.changed_max:.1%}",
                 _num(row, "changed_param_fraction"), goals.changed_max, "{:.3%}")
    )  # fmt: skip
    mine, theirs = row.get("mia_auc") or {}, oracle.get("mia_auc") or {}
    gaps = {
        a: abs(m - o)
        for a in mine
        if (m := mean_value(mine[a])) is not None and (o := mean_value(theirs.get(a))) is not None
    }
    worst = max(gaps, key=gaps.__getitem__) if gaps else None
    checks.append(
        GoalCheck(
            f"MIA AUC of every attack within {goals.mia_gap_max:g} of the oracle's",
            "—" if worst is None else f"largest gap {gaps[worst]:.3f} ({worst})",
            None if worst is None else gaps[worst] <= goals.mia_gap_max,
        )
    )
    checks.append(
        _at_most(f"relearning recovers < {goals.relearn_max:g} of the forgotten accuracy",
                 _num(row, "relearn_recovery"), goals.relearn_max)
    )  # fmt: skip
    others = {n: _num(r, "harmonic") for n, r in rows.items() if n not in REFERENCE_ROWS and n != method}
    mine_h = _num(row, "harmonic")
    known = {n: v for n, v in others.items() if v is not None}
    best = max(known, key=known.__getitem__) if known else None
    checks.append(
        GoalCheck(
            "harmonic mean of efficacy and KP ahead of every baseline",
            "—" if mine_h is None else f"{mine_h:.3f}" + (f" vs {known[best]:.3f} ({best})" if best else ""),
            None if mine_h is None or best is None else mine_h > known[best],
        )
    )
    return checks


def goals_section(results: Mapping[str, Any], method: str = "dual") -> dict[str, Any] | None:
    """``{"method", "checks": [{"goal", "measured", "met"}, ...]}`` for the report, or ``None`` when
    ``results`` has no ``method`` row or no oracle row to compare with."""
    rows = results["methods"]
    if method not in rows or "oracle" not in rows:
        return None
    return {"method": method, "checks": [asdict(c) for c in check_goals(results, method)]}
