"""Progress output for long loops: a tqdm bar on a terminal, one plain line per stage otherwise.

Redirected logs and CI output get no carriage-return updates: off a terminal a loop prints a single line
when it ends (``tagging: 1200 doc in 3.4 s``). ``--quiet`` or ``MEDUNLEARN_QUIET=1`` silence both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress bar of the process."""
    global _QUIET
    _QUIET = quiet


def is_quiet() -> bool:
    """True when progress output is off (``--quiet`` or ``MEDUNLEARN_QUIET=1``)."""
    return _QUIET or os.environ.get("MEDUNLEARN_QUIET") == "1"


def on_terminal() -> bool:
    """True when stderr, where progress goes, is a terminal (bars); False for a file, a pipe or CI (lines)."""
    return sys.stderr.isatty()


class Bar(Protocol):
    """What loops use of a bar: tqdm's ``update``, ``set_postfix`` and ``close``, and ``with``."""

    def update(self, n: int = 1) -> Any: ...

    def set_postfix(self, **kwargs: Any) -> Any: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


class StageLine:
    """A bar off a terminal: counts silently and prints one line when closed."""

    def __init__(self, desc: str, total: int | None, unit: str) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.n = 0
        self.postfix = ""
        self._start = time.perf_counter()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, **kwargs: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in kwargs.items())

    def line(self) -> str:
        """``desc: n[/total] unit in s s[, postfix]``."""
        count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        seconds = time.perf_counter() - self._start
        return f"{self.desc}: {count} {self.unit} in {seconds:.1f} s" + (
            f", {self.postfix}" if self.postfix else ""
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            print(self.line(), file=sys.stderr, flush=True)

    def __enter__(self) -> StageLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(*, desc: str, total: int | None = None, unit: str = "it") -> Bar:
    """A manual bar (``update``/``set_postfix``/``close``): tqdm on a terminal, a :class:`StageLine` off one."""
    if not is_quiet() and not on_terminal():
        return StageLine(desc, total, unit)
    return tqdm(desc=desc, total=total, unit=unit, disable=is_quiet(), file=sys.stderr, dynamic_ncols=True)


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``iterable`` with a bar on a terminal, or one line at the end off a terminal."""
    if is_quiet():
        return iter(iterable)
    if on_terminal():
        return iter(tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True))
    return _with_line(iterable, StageLine(desc, total, unit))


def _with_line(iterable: Iterable[T], line: StageLine) -> Iterator[T]:
    for item in iterable:
        yield item
        line.update(1)
    line.close()
