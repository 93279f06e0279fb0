"""``medunlearn model …``: list and prepare the offline models."""

from __future__ import annotations

import json

import typer

from ontology.common.cli import CliGroup

app = typer.Typer(help="Offline model registry: list models, prepare (convert and cache) them.", cls=CliGroup)


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON.")) -> None:
    """List registered models and where each is cached ($MEDUNLEARN_HOME/models/NAME)."""
    from unlearn.models import registry_rows

    rows = registry_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['name']:<12} {row['cached'] or 'not prepared':<50} {row['description']}")


@app.command("prepare")
def prepare_model(
    name: str = typer.Argument(..., help="smollm2, tiny-llama, a local model directory, or a .gguf file."),
    force: bool = typer.Option(
        False, "--force", help="Rebuild even when the cache is intact (and replace whatever is at its place)."
    ),
) -> None:
    """Convert (once) and cache a model as safetensors; print the cached directory."""
    from unlearn.models import prepare

    typer.echo(str(prepare(name, force=force)))


@app.command("ask")
def ask(
    name: str = typer.Argument(..., help="Registered name or local model directory."),
    question: str = typer.Argument(..., help="The question, sent through the chat template."),
    max_new_tokens: int = typer.Option(40, help="Length of the greedy answer."),
) -> None:
    """Ask a model one question through its chat template (greedy decoding)."""
    from unlearn.models import answer, load_model

    model, tok = load_model(name)
    typer.echo(answer(model, tok, question, max_new_tokens=max_new_tokens))
