"""JSON Lines input with one-line errors naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ontology.common.errors import InputError
from ontology.common.limits import iter_lines


def iter_jsonl(path: str | Path, required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every non-blank line of a JSONL file.

    Raises
    ------
    InputError
        ``file: no such file``, or ``file:line:`` invalid UTF-8, invalid JSON, a line that is not a JSON
        object, an object without one of the ``required`` fields, or a line longer than the limit
        (:func:`ontology.common.limits.max_line_bytes`; the file is streamed, one line at a time).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n\\n{"b": 2}\\n')
    >>> [n for n, _ in iter_jsonl(p)]
    [1, 3]
    >>> try:
    ...     list(iter_jsonl(p, required=["a"]))
    ... except InputError as e:
    ...     print(str(e).split(":", 1)[1])
    3: missing field(s) a
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "is a directory, expected a JSONL file" if path.is_dir() else "no such file", path=path
        )
    with open(path, "rb") as fh:
        for n, raw in iter_lines(fh, path):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", path=path, line=n) from None
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", path=path, line=n) from None
            except RecursionError:
                raise InputError("invalid JSON: nested too deeply", path=path, line=n) from None
            if not isinstance(row, dict):
                raise InputError("expected a JSON object", path=path, line=n)
            missing = [k for k in required if k not in row]
            if missing:
                raise InputError(f"missing field(s) {', '.join(missing)}", path=path, line=n)
            yield n, row
