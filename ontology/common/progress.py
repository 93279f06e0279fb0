"""Progress bars for long loops, silenced by ``--quiet`` or ``MEDUNLEARN_QUIET=1``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress bar of the process."""
    global _QUIET
    _QUIET = quiet


def is_quiet() -> bool:
    """True when progress output is off (``--quiet``, ``MEDUNLEARN_QUIET=1``, or no terminal and in CI)."""
    return _QUIET or os.environ.get("MEDUNLEARN_QUIET") == "1"


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr unless output is quiet."""
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            disable=is_quiet(),
            file=sys.stderr,
            dynamic_ncols=True,
        )
    )


def bar(*, desc: str, total: int | None = None, unit: str = "it") -> tqdm:
    """A manual bar (``update``/``set_postfix``) that honours quiet mode."""
    return tqdm(desc=desc, total=total, unit=unit, disable=is_quiet(), file=sys.stderr, dynamic_ncols=True)
