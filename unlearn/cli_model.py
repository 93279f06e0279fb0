"""``medunlearn model …``: list and prepare the offline models."""

from __future__ import annotations

import typer

app = typer.Typer(help="Offline model registry: list models, prepare (convert and cache) them.", no_args_is_help=True)
