"""Terminal tables of results: one row per measure, one column per model (fits 100 columns)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from unlearn.eval.report import fmt, lookup

#: (row label, results key — ``a.b`` reads ``row["a"]["b"]`` —, display kind of :func:`report.fmt`)
Measure = tuple[str, str, str]


def measures_table(
    title: str, methods: Mapping[str, Mapping[str, Any]], measures: Sequence[Measure]
) -> Table:
    """A rich table with the measures as rows and the methods (models) as columns.

    Examples
    --------
    >>> t = measures_table("t", {"dual": {"forget_acc": 0.25}}, [("forget acc", "forget_acc", "pct")])
    >>> [c.header for c in t.columns], list(t.columns[1].cells)
    (['measure', 'dual'], ['25.0%'])
    """
    table = Table(title=title)
    table.add_column("measure")
    for name in methods:
        table.add_column(name, justify="right")
    for label, key, kind in measures:
        table.add_row(label, *(fmt(lookup(row, key), kind) for row in methods.values()))
    return table
