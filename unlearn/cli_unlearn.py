"""``medunlearn unlearn …``."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the dual-strategy unlearner or a baseline; apply and revert unlearning patches.", no_args_is_help=True)
