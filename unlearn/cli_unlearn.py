"""``medunlearn unlearn …``: run a method from a YAML config, list methods, apply and revert patches."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ontology.common.cli import CliGroup

app = typer.Typer(
    help="Run the dual-strategy unlearner or a baseline; apply and revert unlearning patches.",
    cls=CliGroup,
)


@app.command("run")
def run(
    config: Path = typer.Argument(..., help="Run config (YAML); see configs/ for examples."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a key, e.g. --set train.steps=10 (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Write into output.dir even when it holds files that are not an earlier run's (they may be replaced).",
    ),
) -> None:
    """Unlearn: train, checkpoint (resumable), write model, patch and manifest into output.dir.

    output.dir must be new, empty or an earlier run's directory (which is resumed); it may not be, or hold,
    the model or a data file.
    """
    from ontology.common.outputs import check_output
    from unlearn.config import load_run_config, parse_overrides
    from unlearn.outputs import RUN_OUTPUT
    from unlearn.trainer import Unlearner

    cfg = load_run_config(config, parse_overrides(set_))
    inputs: list[str | Path] = [config, cfg.data.forget, *cfg.data.retain, cfg.model.name]
    check_output(cfg.output.dir, RUN_OUTPUT, inputs=inputs, force=force)
    unlearner = Unlearner(cfg)
    result = unlearner.run()
    # leave the process group cleanly: without it one rank of a two-process run sometimes aborted at exit
    # ("terminate called without an active exception") after its work was done
    unlearner.accelerator.end_training()
    if not result.is_main:  # other ranks of `accelerate launch` / torchrun stay quiet
        return
    if result.manifest is None:
        typer.echo(
            f"{result.status} after {result.steps} steps ({result.reason}); run again to resume from {cfg.output.dir}"
        )
        return
    m = result.manifest
    if as_json:
        typer.echo(json.dumps(m, indent=2, sort_keys=True, default=str))
        return
    typer.echo(
        f"{m['method']}: {m['status']} after {m['steps']} steps"
        + (f" ({m['stop_reason']})" if m["stop_reason"] else "")
        + f"; changed {m['changed_parameters']:,} of {m['total_parameters']:,} parameters "
        f"({100 * m['changed_fraction']:.4f}%); {m['wall_seconds']:.1f} s; peak memory "
        f"{m['peak_memory_bytes'] / 2**20:.0f} MiB"
        + (f"; epsilon {m['epsilon']}" if m["epsilon"] else "")
        + f"\noutputs in {cfg.output.dir}"
    )


@app.command("methods")
def methods(as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON.")) -> None:
    """List the registered methods and their defaults."""
    from unlearn.methods import METHODS, method_config

    rows = {
        name: {"description": m.description, **method_config(name).model_dump()}
        for name, m in METHODS.items()
    }
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for name, row in rows.items():
        typer.echo(f"{name:9s} {row['description']}")


def _patch_command(model: str, patch: Path, out: Path, forward: bool, force: bool) -> None:
    from ontology.common.hashing import sha256_file
    from ontology.common.outputs import check_output
    from unlearn.models import load_model, resolve_model_dir
    from unlearn.outputs import PATCHED, PATCHED_OUTPUT, save_model
    from unlearn.patch import apply_patch, load_patch, revert_patch

    check_output(out, PATCHED_OUTPUT, inputs=[patch, Path(model)], force=force)
    p = load_patch(patch)
    mdl, tok = load_model(model)
    (apply_patch if forward else revert_patch)(mdl, p)
    record = {
        "command": "apply-patch" if forward else "revert-patch",
        "model": str(resolve_model_dir(model)),
        "patch": str(patch),
        "patch_sha256": sha256_file(patch / "tensors.safetensors"),
        "changed": p.changed,
    }
    save_model(mdl, tok, out, extra={PATCHED: record})
    typer.echo(f"{'applied' if forward else 'reverted'} {p.changed:,} coordinates; wrote {out}")


_PATCH_OUT = (
    "Directory to write; an earlier output of apply-patch/revert-patch there is replaced (see --force)."
)
_PATCH_FORCE = "Replace OUT even when it is not an earlier output of apply-patch/revert-patch."


@app.command("apply-patch")
def apply_patch_cmd(
    model: str = typer.Argument(..., help="The original model (registry name or directory)."),
    patch: Path = typer.Argument(..., help="Patch directory written by `unlearn run`."),
    out: Path = typer.Option(..., "--out", "-o", help=f"Directory for the patched model. {_PATCH_OUT}"),
    force: bool = typer.Option(False, "--force", help=_PATCH_FORCE),
) -> None:
    """Apply an unlearning patch to the original model (bit-exact; refuses another model)."""
    _patch_command(model, patch, out, forward=True, force=force)


@app.command("revert-patch")
def revert_patch_cmd(
    model: str = typer.Argument(..., help="The unlearned model (registry name or directory)."),
    patch: Path = typer.Argument(..., help="Patch directory written by `unlearn run`."),
    out: Path = typer.Option(
        ..., "--out", "-o", help=f"Directory for the restored original model. {_PATCH_OUT}"
    ),
    force: bool = typer.Option(False, "--force", help=_PATCH_FORCE),
) -> None:
    """Revert an unlearning patch: restore the original weights bit for bit."""
    _patch_command(model, patch, out, forward=False, force=force)
