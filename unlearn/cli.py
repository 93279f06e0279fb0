"""The ``medunlearn`` console script: one group per capability, each living beside its package."""

from __future__ import annotations

import errno
import logging
import os
import sys

import typer

from hierarchy.cli import app as hierarchy_app
from hierarchy.cli_tagging import set_tokenizer_resolver
from ontology.cli import app as ontology_app
from ontology.common.cli import CLICK_ERRORS, INTERRUPTS, CliGroup, report_click_error
from ontology.common.errors import MedunlearnError
from ontology.common.progress import set_quiet
from unlearn.cli_demo import app as demo_app
from unlearn.cli_eval import app as eval_app
from unlearn.cli_model import app as model_app
from unlearn.cli_unlearn import app as unlearn_app

app = typer.Typer(
    name="medunlearn",
    help=(
        "Remove sensitive medical knowledge from a language model while keeping its general medical competence.\n\n"
        "Flow: ontology (concept graph) -> hierarchy (levels, tags, token masks) -> unlearn (dual-strategy "
        "unlearner, baselines, evaluation).\n\n"
        "Exit codes: 0 done; 1 found problems or nothing found (`ontology validate`, `ontology search`); "
        "2 bad input or usage (one line naming the file, key or flag); 130 interrupted (finished stages are "
        "kept: run the same command again to resume)."
    ),
    cls=CliGroup,
    pretty_exceptions_enable=False,
)


def _prepared_tokenizer(name: str) -> str:
    """A registered model name or ``.gguf`` file prepared on first use (as `unlearn run` and `demo` do)."""
    from unlearn.models import REGISTRY, prepare

    return str(prepare(name)) if name in REGISTRY or name.endswith(".gguf") else name


set_tokenizer_resolver(_prepared_tokenizer)
app.add_typer(ontology_app, name="ontology")
app.add_typer(hierarchy_app, name="hierarchy")
app.add_typer(unlearn_app, name="unlearn")
app.add_typer(eval_app, name="eval")
app.add_typer(model_app, name="model")
app.add_typer(demo_app, name="demo")


@app.callback()
def _root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or stage lines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    set_quiet(quiet)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


#: storage failures reported as one line: disk full, quota or file-size limit, read-only or forbidden location
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def main(args: list[str] | None = None) -> None:
    """Entry point: bad input is reported as one line (exit 2), never a traceback; see the exit codes in --help."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    _exit(_run(args))


def _run(args: list[str] | None) -> int:
    """Run the command; return its exit code, having reported any bad input as one line."""
    try:
        # standalone_mode=False: errors reach the handlers below, and an Exit(n) comes back as its code
        code = app(args=args, prog_name="medunlearn", standalone_mode=False)
    except MedunlearnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CLICK_ERRORS as exc:
        return report_click_error(exc)
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRORS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"error: {where}{exc.strerror}; finished stages and outputs are kept (written atomically): "
            "free space or choose another --out / MEDUNLEARN_HOME, then run the same command again",
            file=sys.stderr,
        )
        return 2
    except INTERRUPTS:
        code = 130
    if code == 130:  # typer turns Ctrl-C into Exit(130)
        print("interrupted: finished stages are kept; run the same command again to resume", file=sys.stderr)
    return code if isinstance(code, int) else 0


def _exit(code: int) -> None:
    """Exit with ``code``. A worker process of torchrun / accelerate launch (WORLD_SIZE > 1) leaves without
    running C++ static destructors: after its work was done and the process group ended, one of them aborted
    now and then ('terminate called without an active exception', SIGABRT, no Python frame), failing the run."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
