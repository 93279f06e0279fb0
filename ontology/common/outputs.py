"""Where a command may write: nothing of the user's is replaced, deleted or hidden, and no output is its input.

Every command that writes (``-o/--out``, a run's ``output.dir``, the model cache) checks its target with
:func:`check_output` before it computes anything:

- an output may never be one of the inputs it is derived from, nor a directory holding one (replacing it
  would destroy the input), nor lie inside an input directory: refused, even with ``--force``;
- a path that does not exist, or an empty directory, is written;
- an existing path that the command's own kind of output recognises as ours -- by its manifest or meta file
  (a graph's ``meta.json``, a run's ``manifest.json``, a MASKS file's metadata, …; see
  :class:`OutputKind`) -- is replaced (atomically) or, for a run directory, continued;
- anything else is refused with one line naming it, unless the user passes ``--force``; a file where a
  directory is written (or the other way round) is refused even then.

The rules and each command's marker are listed in ``docs/safety.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontology.common.errors import MedunlearnError

#: recognisers read at most this much of a file
_SNIFF = 1 << 16


@dataclass(frozen=True)
class OutputKind:
    """One kind of output: ``what`` it is (for messages), whether it is a directory, the ``marker`` that
    makes an existing one ours (in words), and the predicate that finds it."""

    what: str
    is_dir: bool
    marker: str
    recognise: Callable[[Path], bool]


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output(
    out: str | Path, kind: OutputKind, *, inputs: Iterable[str | Path | None] = (), force: bool = False
) -> Path:
    """Check that ``out`` may be written as ``kind`` from ``inputs``; return it.

    Raises
    ------
    MedunlearnError
        One line naming ``out``: it is (or holds) an input; it is a file where a directory is written or
        the other way round; or it exists, is not empty, is not ours and ``force`` is off.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> kind = OutputKind("a graph directory", True, "meta.json", lambda p: (p / "meta.json").is_file())
    >>> _ = (d / "notes.txt").write_text("mine")
    >>> try:
    ...     check_output(d, kind)
    ... except MedunlearnError as e:
    ...     print(str(e).split(": ", 1)[1])
    exists and is not a graph directory written by medunlearn (no meta.json): nothing was written; choose another output or pass --force to replace it
    """
    out = Path(out)
    target = out.resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        source = Path(given).resolve()
        if _inside(source, target) or _inside(target, source):
            relation = "is" if source == target else "holds" if _inside(source, target) else "is inside"
            raise MedunlearnError(
                f"{out}: {relation} the input {given}; an output may never overlap its input"
            )
    if not out.exists() and not out.is_symlink():
        return out
    if out.is_dir() != kind.is_dir:
        want, found = ("a directory", "a file") if kind.is_dir else ("a file", "a directory")
        raise MedunlearnError(f"{out}: is {found}, but {kind.what} is {want}; choose another output")
    if kind.is_dir and not any(out.iterdir()):
        return out
    if force or kind.recognise(out):
        return out
    raise MedunlearnError(
        f"{out}: exists and is not {kind.what} written by medunlearn (no {kind.marker}): nothing was written; "
        "choose another output or pass --force to replace it"
    )


def read_small_json(path: Path, limit: int = 1 << 24) -> Any:
    """The JSON value of a file of at most ``limit`` bytes, or None when it is missing, larger or not JSON."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
        return None if len(data) > limit else json.loads(data)
    except (OSError, ValueError):
        return None


def read_head(path: Path, size: int = _SNIFF) -> bytes:
    """The first ``size`` bytes of a file (empty when unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def first_json_line(path: Path, limit: int = 1 << 24) -> Any:
    """The JSON value of the first line of a file (read up to ``limit`` bytes), or None."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.readline(limit))
    except (OSError, ValueError):
        return None


def parquet_metadata(path: Path) -> dict[bytes, bytes] | None:
    """The schema metadata of a Parquet file, or None when it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException, ValueError):
        return None
    return dict(schema.metadata or {})
