"""``medunlearn hierarchy …``: four-level hierarchy, tagging and token masks."""

from __future__ import annotations

import typer

app = typer.Typer(help="Fold a concept graph into four levels, tag text, and emit token masks.", no_args_is_help=True)
