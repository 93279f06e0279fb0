"""Conventions shared by every ``medunlearn`` command group.

- ``--quiet``/``-q`` is accepted after any group or command (as well as before the group);
- old flag spellings stay accepted as hidden aliases (:data:`HIDDEN_ALIASES`), never shown in ``--help``;
- click usage errors are reported as the command's usage line plus one ``error:`` line (exit code 2).

Every Typer app passes ``cls=CliGroup``. Only public click/typer API is used (``Group.resolve_command``,
``Command.params``, ``typer.main.get_command``), so this works whether typer runs on the ``click``
package or on its own vendored copy (``typer._click``, typer >= 0.29).
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from ontology.common.progress import set_quiet

#: old spelling -> current spelling; rewritten for a command that has the current one and not the old one
HIDDEN_ALIASES: dict[str, str] = {
    "--output": "--out",  # `ontology build` / `ontology export` before the flags were unified
    "-f": "--text-field",  # `hierarchy tag`; everywhere else -f is --format
    "--no-no-abbreviations": "--abbreviations",  # typer's generated negation of the old `--no-abbreviations`
}

QUIET_HELP = "No progress bars or stage lines (also accepted before the group)."


def _set_quiet(ctx: Any, param: Any, value: bool) -> bool:
    if value:
        set_quiet(True)
    return value


def _quiet_option() -> Any:
    """A ``--quiet/-q`` click option built by typer itself, so it is of the click flavour typer uses."""
    probe = typer.Typer()

    @probe.command()
    def _probe(quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP)) -> None:
        """Unused: only its option is taken."""

    (option,) = [p for p in typer.main.get_command(probe).params if p.name == "quiet"]
    option.expose_value = False
    option.callback = _set_quiet
    return option


_QUIET = _quiet_option()


def _option_names(command: Any) -> set[str]:
    return {o for p in command.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}


def add_quiet(command: Any) -> None:
    """Give ``command`` and every command below it a ``--quiet/-q`` option (idempotent)."""
    names = _option_names(command)
    if "--quiet" not in names and "-q" not in names:
        command.params.append(copy.copy(_QUIET))
    for sub in (getattr(command, "commands", None) or {}).values():
        add_quiet(sub)


def rewrite_aliases(command: Any, args: Sequence[str]) -> list[str]:
    """``args`` of ``command`` with hidden old flag spellings replaced by the current ones (up to ``--``)."""
    names = _option_names(command)
    live = {old: new for old, new in HIDDEN_ALIASES.items() if new in names and old not in names}
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + list(args[i:])
        for old, new in live.items():
            if arg == old:
                arg = new
            elif old.startswith("--") and arg.startswith(old + "="):
                arg = new + arg[len(old) :]
            elif not old.startswith("--") and arg.startswith(old) and not arg.startswith("--"):
                arg = f"{new}={arg[len(old) :]}"  # -fVALUE
        out.append(arg)
    return out


class CliGroup(TyperGroup):
    """A command group that applies the shared conventions to the commands below it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for sub in self.commands.values():
            add_quiet(sub)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not getattr(command, "commands", None):
            rest = rewrite_aliases(command, rest)
        return name, command, rest


def _click_modules() -> list[Any]:
    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            continue
    return mods


#: ``ClickException`` of every click flavour present (typer's vendored copy and the ``click`` package)
CLICK_ERRORS: tuple[type[BaseException], ...] = tuple(m.ClickException for m in _click_modules())
#: Ctrl-C, and ``Abort`` of typer and of every click flavour present (older click turns Ctrl-C into Abort)
INTERRUPTS: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    typer.Abort,
    *(m.Abort for m in _click_modules() if hasattr(m, "Abort")),
)


def report_click_error(exc: Any) -> int:
    """Print a click error as the command's usage line plus one ``error:`` line; return the exit code, 2.

    A group invoked without a command (click's "Missing command", or its no-args help) names the commands.
    """
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if type(exc).__name__ != "NoArgsIsHelpError" else "Missing command."
    message = " ".join(message.split())  # click may wrap a suggestion onto a second line
    if ctx is not None:
        commands = getattr(ctx.command, "commands", None)
        if commands and message.startswith("Missing command"):
            visible = [n for n, c in commands.items() if not getattr(c, "hidden", False)]
            message = f"missing command; choose one of: {', '.join(visible)}"
        print(ctx.get_usage(), file=sys.stderr)
        message = f"{message} (see '{ctx.command_path} --help')"
    print(f"error: {message}", file=sys.stderr)
    return 2  # usage mistakes and unreadable files alike are bad input
