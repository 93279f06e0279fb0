"""``medunlearn demo``: the whole flow on the bundled demo data, with a final table and an HTML report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="The whole flow on the bundled demo data.", invoke_without_command=True)


def _pct(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def print_results(results: dict[str, Any]) -> None:
    """The final table, the completions and where the time went."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    names = list(results["methods"])
    table = Table(title=f"medunlearn demo — {results['model']}, scope {results['suite']}")
    table.add_column("measure")
    for name in names:
        table.add_column(name, justify="right")
    measures = [
        ("forget acc (memorised in-scope records)", "forget_acc", _pct),
        ("forget-holdout acc (never trained)", "forget_holdout_acc", _pct),
        ("retain acc (memorised other records)", "retain_acc", _pct),
        ("general acc (general medical QA)", "retain_holdout_acc", _pct),
        ("forget target log-lik per token", "forget_target_logp", _num),
        ("retain target log-lik per token", "retain_target_logp", _num),
        ("MIA AUC, LOSS attack (oracle ≈ ideal)", "mia_auc.loss", lambda x: _num(x, 3)),
        ("MIA AUC, Min-K%++ attack", "mia_auc.min_k_pp", lambda x: _num(x, 3)),
        (
            "changed parameters (measured)",
            "changed_param_fraction",
            lambda x: "—" if x is None else f"{100 * x:.3f}%",
        ),
        ("unlearning wall time (s)", "wall_s", lambda x: _num(x, 1)),
    ]
    for label, key, fmt in measures:
        cells = []
        for name in names:
            row = results["methods"][name]
            value = (row.get(key.split(".")[0]) or {}).get(key.split(".")[1]) if "." in key else row.get(key)
            cells.append(fmt(value))
        table.add_row(label, *cells)
    console.print(table)
    console.print("forget/retain logp: mean log-likelihood per token of the record's procedure or diagnosis after "
                  "'Patient NAME, MRN …, underwent' (higher = better remembered)")  # fmt: skip
    comp = Table(title="Completions before (memorized) and after unlearning")
    keys = [k for k in results["completions"][0] if k not in ("kind", "prompt", "expected")]
    for col in ("record", "prompt", "expected", *keys):
        comp.add_column(col)
    for row in results["completions"]:
        comp.add_row(row["kind"], row["prompt"], row["expected"], *(row[k] for k in keys))
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
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of tables."),
) -> None:
    """Ontology → hierarchy → tag → masks → memorize → unlearn (dual + graddiff) → evaluate → report.

    Finished stages are cached under OUT/MODEL-SCOPE/stages (keyed by config hash): a second run, or a run
    interrupted with Ctrl-C and started again, reuses them.
    """
    if ctx.invoked_subcommand is not None:
        return
    from unlearn.demo.pipeline import DemoConfig, run_demo, write_summary

    cfg = DemoConfig(model=model, scope=scope)
    target = out / f"{Path(model).name}-{scope.replace(':', '_')}"
    results = run_demo(cfg, target)
    write_summary(results, target)
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        print_results(results)
