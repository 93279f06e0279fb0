"""``medunlearn demo …``."""

from __future__ import annotations

import typer

app = typer.Typer(help="The whole flow on the bundled demo data.", no_args_is_help=True)
