"""Size limits on input: the longest line of a line-based file and the longest document, with one-line errors.

Line-based inputs (JSONL, CSV, text, OBO, UMLS RRF, PubTator, MeSH tree/CSV, tables) are read through
:func:`iter_lines`, which never holds more than one line and stops at a line longer than :func:`max_line_bytes`
after reading that many bytes: a 100 MB single-line JSONL fails at once with ``file:1: line longer than …``,
not with ``MemoryError`` minutes later. Files a library parses (every XML reader) are first scanned by
:func:`check_line_lengths`, which applies the same limit without holding a line. Tagged documents longer than
:func:`max_document_chars` are refused naming the file and line.

==================================  ===================  =============================================
environment variable                default              applies to
==================================  ===================  =============================================
``MEDUNLEARN_MAX_LINE_BYTES``       16 MiB               one line of JSONL, CSV, TXT, OBO, RRF, PubTator, XML
``MEDUNLEARN_MAX_DOCUMENT_CHARS``   1,000,000            one document to tag (spaCy's own default)
==================================  ===================  =============================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ontology.common.errors import ConfigError, InputError

DEFAULT_MAX_LINE_BYTES = 16 << 20
DEFAULT_MAX_DOCUMENT_CHARS = 1_000_000


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r}: expected a positive integer")
    return value


def max_line_bytes() -> int:
    """The longest line a line-based input may have (``MEDUNLEARN_MAX_LINE_BYTES``, default 16 MiB)."""
    return _env_int("MEDUNLEARN_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)


def max_document_chars() -> int:
    """The longest document that is tagged (``MEDUNLEARN_MAX_DOCUMENT_CHARS``, default 1,000,000)."""
    return _env_int("MEDUNLEARN_MAX_DOCUMENT_CHARS", DEFAULT_MAX_DOCUMENT_CHARS)


def iter_lines(fh: BinaryIO, path: str | Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line)`` of a binary file, each at most :func:`max_line_bytes` long (plus its newline).

    Raises
    ------
    InputError
        ``path:line: line longer than … bytes``, after reading no more than the limit of that line.

    Examples
    --------
    >>> import io
    >>> [n for n, _ in iter_lines(io.BytesIO(b"a\\nb\\n"), "x.txt")]
    [1, 2]
    """
    limit = max_line_bytes()
    number = 0
    while raw := fh.readline(limit + 1):
        number += 1
        if len(raw) > limit and raw[-1:] != b"\n":
            raise _line_too_long(limit, path, number)
        yield number, raw


def check_line_lengths(path: str | Path) -> None:
    """Raise at the first line of a file longer than :func:`max_line_bytes` (its newline not counted), as
    :func:`iter_lines` would, for files that a library parses itself (XML). The file is read in chunks (at
    most 1 MiB), so no line is held and an over-long one is refused after at most one chunk beyond the limit.
    """
    limit = max_line_bytes()
    run = 0  # bytes since the last newline
    newlines = 0
    with open(path, "rb") as fh:
        # a chunk is at most ``limit`` long: a line that starts and ends inside one cannot be too long
        while chunk := fh.read(min(limit, 1 << 20)):
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
            else:
                if run + first > limit:
                    break
                newlines += chunk.count(b"\n")
                run = len(chunk) - chunk.rfind(b"\n") - 1
            if run > limit:
                break
        else:
            return
    raise _line_too_long(limit, path, newlines + 1)


def _line_too_long(limit: int, path: str | Path, line: int) -> InputError:
    return InputError(
        f"line longer than {limit:,} bytes (the limit; MEDUNLEARN_MAX_LINE_BYTES raises it)", path, line
    )


def check_document(text: str, path: str | Path, line: int | None = None) -> str:
    """``text`` when it is at most :func:`max_document_chars` long; else one line naming the file and line."""
    limit = max_document_chars()
    if len(text) > limit:
        raise InputError(
            f"document of {len(text):,} characters is longer than {limit:,} (the limit; "
            "MEDUNLEARN_MAX_DOCUMENT_CHARS raises it)",
            path,
            line,
        )
    return text
