"""``medunlearn eval …``: run a benchmark suite, evaluate one checkpoint, list the suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ontology.common.cli import CliGroup

app = typer.Typer(help="Benchmark suites: memorize, oracle, unlearn, measure, report.", cls=CliGroup)

SIZE_HELP = "smoke (tiny random model, seconds), small (SmolLM2-135M, ~100/300 items), full (all items)."


def _inputs(
    suite: str, size: str, data: Path | None, methods: str | None, model: str | None, seeds: int,
    limit: int | None, forget_topic: str | None, drop_oral: bool | None,
) -> Any:  # fmt: skip
    from unlearn.eval.inputs import resolve_inputs
    from unlearn.eval.suite import default_data_dir, load_suite

    cfg = load_suite(suite, forget_topic=forget_topic, drop_oral=drop_oral)
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    return resolve_inputs(
        cfg, size, data_dir=data or default_data_dir(), methods=chosen, model=model, seeds=seeds, limit=limit
    )


def _print_rows(results: dict[str, Any]) -> None:
    from rich.console import Console

    from unlearn.eval.terminal import measures_table

    # a column per model: wide enough for "100.000%" (or "0.250 ± 0.010" across seeds) under each
    per_model = 10 if results["seeds"] == 1 else 16
    console = Console(width=max(110, Console().width, 36 + per_model * len(results["methods"])))
    title = f"{results['suite']} — {results['size']}, {results['model']}, seeds {results['seeds']}"
    measures = [
        ("forget acc", "forget_acc", "pct"),
        ("forget-holdout acc", "forget_holdout_acc", "pct"),
        ("retain acc", "retain_acc", "pct"),
        ("retain-holdout acc", "retain_holdout_acc", "pct"),
        ("forgetting efficacy (1 = oracle)", "forgetting_efficacy", "ratio"),
        ("KP", "knowledge_preservation", "ratio"),
        ("MIA AUC LOSS", "mia_auc.loss", "auc"),
        ("MIA AUC Min-K%++", "mia_auc.min_k_pp", "auc"),
        ("relearn recovery", "relearn_recovery", "ratio"),
        ("changed params", "changed_param_fraction", "pct3"),
        ("wall s", "wall_s", "f1"),
    ]
    table = measures_table(title, results["methods"], measures)
    console.print(table)
    m = results["masks"]
    console.print(
        f"target tokens in scope: {m['forget_items_with_target']} of {m['forget_items']} forget items; answer "
        f"fallback: {m['answer_fallback_items']} of {m['forget_items']} were given their answer span as target; "
        f"retain items with a target token: {m['retain_items_with_target']} of {m['retain_items']} "
        f"({m['retain_target_share']:.1%})"
    )
    console.print(f"report: {results['report']}")


@app.command("suites")
def suites(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the benchmark suites with their sizes and default methods."""
    from unlearn.eval.suite import load_suite, suite_names

    rows: list[dict[str, Any]] = []
    for name in suite_names():
        cfg = load_suite(name)
        rows.append({
            "name": name, "description": cfg.description, "scope": cfg.scope or cfg.topic_scopes,
            "scope_suggest": cfg.scope_suggest.model_dump() if cfg.scope_suggest else None,
            "sizes": {s: {"model": r.model, "methods": r.methods} for s, r in cfg.sizes.items()},
        })  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['name']}: {row['description']}")
        for s, r in row["sizes"].items():
            typer.echo(f"    --size {s}: model {r['model']}, methods {','.join(r['methods'])}")


def _default_out(inp: Any) -> Path:
    """``runs/eval/<suite>[-<topic>]-<size>``: where a suite run and its tuning write by default."""
    topic = f"-{inp.cfg.forget_label().split('/')[0].lower()}" if inp.cfg.dataset == "mhqa" else ""
    return Path("runs/eval") / f"{inp.cfg.name}{topic}-{inp.size}"


def _tuned_for(inp: Any, target: Path, tuned: Path | None, untuned: bool) -> Any:
    """The tuned settings a suite run uses: ``--tuned FILE``, else ``OUT/tuned.json`` when it exists, never
    with ``--untuned``."""
    from unlearn.eval.runner import item_ids
    from unlearn.eval.tuned import TUNED_FILE, identity, read_tuned

    if untuned and tuned is not None:
        from ontology.common.errors import MedunlearnError

        raise MedunlearnError("--tuned and --untuned exclude each other")
    path = tuned if tuned is not None else target / TUNED_FILE
    if untuned or (tuned is None and not path.is_file()):
        return None
    ident = identity(inp.cfg.name, inp.cfg.forget_label(), inp.size, inp.model)
    found = read_tuned(path, ident, {k: item_ids(v) for k, v in inp.tuning().items()})
    typer.echo(
        f"tuned settings: {path} ({', '.join(m for m in inp.methods if found.chosen(m)) or 'no method'})",
        err=True,
    )
    return found


@app.command("suite")
def suite(
    name: str = typer.Argument(..., help="Suite name (see `medunlearn eval suites`) or a suite YAML file."),
    size: str = typer.Option("smoke", "--size", help=SIZE_HELP),
    methods: str | None = typer.Option(
        None, "--methods", help="Comma-separated methods (default: the size's)."
    ),
    seeds: int = typer.Option(
        1,
        "--seeds",
        help="Run N seeds of unlearning and relearning on the same split and models; mean ± std.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Default: runs/eval/<suite>-<size>. Must be new, empty or an earlier suite run (continued; see --force).",
    ),
    data: Path | None = typer.Option(None, "--data", help="Shared data folder (default ../shared/data)."),
    model: str | None = typer.Option(None, "--model", help="Override the size's model."),
    forget_topic: str | None = typer.Option(
        None, "--forget-topic", help="MHQA: Trauma, Anxiety, Depression, …"
    ),
    drop_oral: bool | None = typer.Option(
        None, "--drop-oral/--keep-oral", help="MedMCQA: oral surgery items."
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most N items per split (a quick check)."),
    until: str | None = typer.Option(None, "--until", help="Stop after: masks, memorize, oracle, unlearn, …"),
    tuned: Path | None = typer.Option(
        None, "--tuned", help="Tuned settings from `eval tune` (default: OUT/tuned.json when it exists)."
    ),
    untuned: bool = typer.Option(False, "--untuned", help="Ignore OUT/tuned.json: the recipe's settings."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    force: bool = typer.Option(
        False, "--force", help="Write into OUT even when it holds files that are not an earlier run's."
    ),
) -> None:
    """Memorize → oracle → unlearn (each method) → evaluate → relearn → report, as cached stages.

    Finished stages are reused (keyed by config hash); an interrupted run resumes. Inputs (suite, data files,
    model and chat template, split sizes, tuned settings) are checked before any long computation.
    """
    from ontology.common.outputs import check_output
    from unlearn.eval.runner import STAGE_GROUPS, run_suite
    from unlearn.eval.suite import default_data_dir
    from unlearn.stages import STAGES_OUTPUT

    if until is not None and until not in STAGE_GROUPS:
        from ontology.common.errors import MedunlearnError

        raise MedunlearnError(f"unknown stage {until!r} for --until; choose from {', '.join(STAGE_GROUPS)}")
    inputs = [data or default_data_dir(), Path(name)]
    if out is not None:  # checked before the inputs are read
        check_output(out, STAGES_OUTPUT, inputs=inputs, force=force)
    inp = _inputs(name, size, data, methods, model, seeds, limit, forget_topic, drop_oral)
    target = out or _default_out(inp)
    check_output(target, STAGES_OUTPUT, inputs=inputs, force=force)
    results = run_suite(inp, target, until=until, tuned=_tuned_for(inp, target, tuned, untuned))
    if results is None:
        typer.echo(f"stopped after {until}; stages in {target / 'stages'}")
        return
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        _print_rows(results)


@app.command("tune")
def tune(
    name: str = typer.Argument(..., help="Suite name (see `medunlearn eval suites`) or a suite YAML file."),
    size: str = typer.Option("smoke", "--size", help="smoke or small (full reports every item: none left)."),
    methods: str | None = typer.Option(
        None, "--methods", help="Comma-separated methods (default: the size's)."
    ),
    trials: int | None = typer.Option(
        None, "--trials", help="Trials per method (default: the size's tune.trials)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Default: runs/eval/<suite>-<size> (as eval suite)."
    ),
    data: Path | None = typer.Option(None, "--data", help="Shared data folder (default ../shared/data)."),
    model: str | None = typer.Option(None, "--model", help="Override the size's model."),
    forget_topic: str | None = typer.Option(None, "--forget-topic", help="MHQA: the forgotten topic."),
    drop_oral: bool | None = typer.Option(
        None, "--drop-oral/--keep-oral", help="MedMCQA: oral surgery items."
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="At most N items per tuning part (a quick check)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the tuned settings as JSON."),
) -> None:
    """Tune every method on the suite's tuning split (disjoint from the reported one) with the same budget.

    Memorize and oracle models of the tuning split, then N trials per method over its learning rate and main
    knob (the size's `tune` section); the chosen settings go to OUT/tuned.json, which `eval suite` reads.
    """
    from unlearn.eval.tune import run_tuning

    inp = _inputs(name, size, data, methods, model, 1, limit, forget_topic, drop_oral)
    found = run_tuning(inp, out or _default_out(inp), trials=trials)
    if as_json:
        typer.echo(json.dumps(found.data, indent=2))
        return
    _print_tuned(found.data, found.path)


def _print_tuned(data: dict[str, Any], path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from unlearn.eval.report import fmt

    table = Table(
        title=f"tuned on {sum(map(len, data['split'].values()))} tuning items, {data['budget']['trials']} trials each"
    )
    for col in ("method", "chosen", "trial", "KP ≥ min", "efficacy", "KP", "harmonic"):
        table.add_column(col)
    for m, entry in data["methods"].items():
        best = entry["trials"][entry["trial"]]
        chosen = ", ".join(f"{k} {v:g}" for k, v in entry["chosen"].items())
        table.add_row(m, chosen, str(entry["trial"] + 1), "yes" if entry["eligible"] else "no",
                      fmt(best["efficacy"], "ratio"), fmt(best["kp"], "ratio"), fmt(best["harmonic"], "ratio"))  # fmt: skip
    Console(width=max(110, Console().width)).print(table)
    typer.echo(f"rule: {data['rule']}")
    typer.echo(f"tuned settings: {path}")


@app.command("model")
def model(
    model_dir: str = typer.Argument(..., help="A model directory (or registry name) to evaluate."),
    suite: str = typer.Option(..., "--suite", help="Suite whose splits to use."),
    size: str = typer.Option("smoke", "--size", help=SIZE_HELP),
    data: Path | None = typer.Option(None, "--data", help="Shared data folder (default ../shared/data)."),
    forget_topic: str | None = typer.Option(None, "--forget-topic", help="MHQA: the forgotten topic."),
    drop_oral: bool | None = typer.Option(
        None, "--drop-oral/--keep-oral", help="MedMCQA: oral surgery items."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", help="A suite run's results.json: adds efficacy, KP, PrivLeak against its rows."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Evaluate one checkpoint (e.g. unlearned elsewhere) on a suite's splits: accuracies and MIA AUCs."""
    from ontology.common.errors import MedunlearnError
    from unlearn.eval.evaluate import evaluate_model_dir, load_reference
    from unlearn.eval.report import _clean, fmt

    ref = None
    if reference is not None:
        ref = load_reference(reference)
        if ref is None:
            raise MedunlearnError(f"{reference}: no single-seed suite results there")
    inp = _inputs(suite, size, data, None, model_dir, 1, None, forget_topic, drop_oral)
    result = _clean(evaluate_model_dir(inp, inp.model_dir, ref))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for split in ("forget", "forget_holdout", "retain", "retain_holdout"):
        acc = fmt(result[f"{split}_acc"], "pct", result["ci"][f"{split}_acc"])
        typer.echo(f"{split:<15} acc {acc}  n={result['split_sizes'][split]}")
    typer.echo("MIA AUC (forget vs forget-holdout): "
               + ", ".join(f"{a} {fmt(v, 'auc')}" for a, v in result["mia_auc"].items()))  # fmt: skip
    if "row" in result:
        row = result["row"]
        typer.echo(
            f"against the reference: efficacy {fmt(row['forgetting_efficacy'], 'ratio')}, "
            f"KP {fmt(row['knowledge_preservation'], 'ratio')}, "
            f"PrivLeak (LOSS) {fmt(row['privleak'].get('loss'), 'ratio')}"
        )
