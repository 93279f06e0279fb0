"""``medunlearn eval …``."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmark suites: memorize, oracle, unlearn, measure, report.", no_args_is_help=True)
