"""``medunlearn ontology …``: build, inspect, search, export and validate concept graphs."""

from __future__ import annotations

import typer

app = typer.Typer(help="Read medical ontologies (OWL, OBO, MeSH, UMLS, tables) into one concept graph.", no_args_is_help=True)
