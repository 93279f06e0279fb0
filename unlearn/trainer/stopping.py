"""When a run stops early: a non-finite loss, or a retain loss over its budget (``train.retain_budget``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def retain_over_budget(losses: Sequence[float], budget: float, window: int) -> tuple[float, float] | None:
    """``(recent, baseline)`` when the mean of the last ``window`` retain losses exceeds ``budget`` times the
    mean of the first ``window`` (the baseline); ``None`` while within budget or before the baseline is full.

    Means over a window, not single batches, so that one hard retain batch does not stop a healthy run.

    Examples
    --------
    >>> retain_over_budget([1.0, 1.2, 1.4, 2.0], budget=1.5, window=2)  # (1.4 + 2.0) / 2 > 1.5 * 1.1
    (1.7, 1.1)
    >>> retain_over_budget([1.0, 2.0], budget=1.5, window=2) is None  # the baseline itself
    True
    """
    if len(losses) <= window:
        return None
    recent, baseline = sum(losses[-window:]) / window, sum(losses[:window]) / window
    return (recent, baseline) if recent > budget * baseline else None


class Collapse(Exception):
    """Raised inside a step when the run must stop early (non-finite loss, retain loss over budget)."""


def check_step(
    step: int, parts: Mapping[str, float], history: Sequence[Mapping[str, float]], train: Any
) -> None:
    """Raise :class:`Collapse` when a loss of this step is not finite or the retain loss is over budget
    (``train``: the run's ``train`` section; ``history``: the earlier steps' losses)."""
    for name, value in parts.items():
        if not math.isfinite(value):
            raise Collapse(f"non-finite {name} loss ({value}) at step {step}")
    budget, window = train.retain_budget, train.retain_budget_window
    if budget is not None and "retain" in parts:
        losses = [h["retain"] for h in history] + [parts["retain"]]
        if over := retain_over_budget(losses, budget, window):
            raise Collapse(
                f"retain loss {over[0]:.4f} (mean of the last {min(window, len(losses))} steps) over budget "
                f"({budget} x {over[1]:.4f}, the mean of the first {window}) at step {step}"
            )
