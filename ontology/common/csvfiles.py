"""CSV/TSV input streamed line by line, with one-line errors naming the file and line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ontology.common.errors import InputError
from ontology.common.limits import iter_lines, max_line_bytes


def _decoded(path: Path, fh: BinaryIO) -> Iterator[str]:
    for n, raw in iter_lines(fh, path):
        try:
            yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", path=path, line=n) from None


def iter_csv_rows(path: str | Path, delimiter: str = ",") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a CSV file with a header line (``csv.DictReader``), streamed: each line is at
    most :func:`~ontology.common.limits.max_line_bytes` long, and so is each field.

    Raises
    ------
    InputError
        ``file: no such file``, or ``file:line:`` invalid UTF-8, a line or field over the limit, or CSV the
        ``csv`` module cannot read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("id,text\\n1,a\\n2,b\\n")
    >>> [(n, r["text"]) for n, r in iter_csv_rows(p)]
    [(2, 'a'), (3, 'b')]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "is a directory, expected a CSV file" if path.is_dir() else "no such file", path=path
        )
    csv.field_size_limit(max(csv.field_size_limit(), max_line_bytes()))
    with open(path, "rb") as fh:
        reader = csv.DictReader(_decoded(path, fh), delimiter=delimiter)
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None


def parse_csv(text: str, path: str | Path, delimiter: str = ",") -> Iterator[list[str]]:
    """The rows of CSV ``text`` read from ``path`` (``csv.reader``); a malformed row is one line naming the file.

    Examples
    --------
    >>> list(parse_csv("a,b\\r\\n1,2\\n", "x.csv"))
    [['a', 'b'], ['1', '2']]
    """
    csv.field_size_limit(max(csv.field_size_limit(), max_line_bytes()))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None


def csv_header(path: str | Path, delimiter: str = ",") -> list[str]:
    """The header fields of a CSV file (empty for an empty file)."""
    path = Path(path)
    with open(path, "rb") as fh:
        for _, line in zip(range(1), _decoded(path, fh), strict=False):
            return next(csv.reader([line], delimiter=delimiter))
    return []
