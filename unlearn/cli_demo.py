"""``medunlearn demo``: the whole flow on the bundled demo data, with a final table and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ontology.common.cli import CliGroup

app = typer.Typer(help="The whole flow on the bundled demo data.", invoke_without_command=True, cls=CliGroup)


def print_results(results: dict[str, Any]) -> None:
    """The final table, the completions and where the time went."""
    from rich.console import Console
    from rich.table import Table

    from unlearn.eval.terminal import measures_table

    console = Console(width=max(100, Console().width))
    summary = results["summary"]  # the report's summary table has the same rows (unlearn.demo.pipeline)
    console.print(measures_table(summary["title"], results["methods"], summary["measures"]))
    console.print(summary["note"])
    comp = Table(title="Completions before (memorized) and after unlearning")
    keys = [k for k in results["completions"][0] if k not in ("kind", "prompt", "expected")]
    for col in ("record", "prompt", "expected", *keys):
        comp.add_column(col)
    for row in results["completions"]:
        opening = row["prompt"].rfind("Patient ")  # the banner and note header are the same for every record
        prompt = "… " + row["prompt"][opening:] if opening > 0 else row["prompt"]
        comp.add_row(row["kind"], prompt, row["expected"], *(row[k] for k in keys))
    console.print(comp)
    times = Table(title="Where the time went")
    times.add_column("stage")
    times.add_column("seconds", justify="right")
    times.add_column("cached")
    for t in results["timings"]:
        times.add_row(t["stage"], f"{t['seconds']:.1f}", "yes" if t["cached"] else "")
    console.print(times)
    console.print(f"report: {results['report']}")


@app.callback()
def demo(
    ctx: typer.Context,
    model: str = typer.Option(
        "smollm2", "--model", help="smollm2 (default), tiny-llama (seconds), or a local model."
    ),
    scope: str = typer.Option(
        "surgery", "--scope", help="Forget scope: surgery, mental, or a DEMO: concept id."
    ),
    out: Path = typer.Option(
        Path("runs/demo"), "--out", "-o", help="Where stages, caches and the report go."
    ),
    forget_identifiers: bool = typer.Option(
        False, "--forget-identifiers", help="Also target patients' names, record numbers and dates."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of tables."),
) -> None:
    """Ontology → hierarchy → tag → masks → memorize → unlearn (dual + graddiff) → evaluate → report.

    Finished stages are cached under OUT/MODEL-SCOPE/stages (keyed by config hash): a second run, or a run
    interrupted with Ctrl-C and started again, reuses them.
    """
    if ctx.invoked_subcommand is not None:
        return
    from unlearn.demo.pipeline import DemoConfig, run_demo, write_summary

    cfg = DemoConfig(model=model, scope=scope, forget_identifiers=forget_identifiers)
    target = out / f"{Path(model).name}-{scope.replace(':', '_')}"
    results = run_demo(cfg, target)
    write_summary(results, target)
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        print_results(results)
