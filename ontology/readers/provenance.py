"""Provenance records (``graph.graph["sources"]``) and skipped-item notes shared by the readers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ontology.common.errors import InputError
from ontology.common.hashing import sha256_file
from ontology.common.limits import iter_lines

MESH_LICENCE = (
    "MeSH {version}: courtesy of the U.S. National Library of Medicine (NLM); "
    "NLM does not endorse this product (https://www.nlm.nih.gov/databases/download/terms_and_conditions_mesh.html)"
)
MAX_SKIPPED = 10_000

_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")


def year_in_name(path: str | Path) -> str | None:
    """The first four-digit year in a file name (``desc2017.xml`` → ``"2017"``), or ``None``.

    Examples
    --------
    >>> year_in_name("2017MeshTree.txt"), year_in_name("mtrees.bin")
    ('2017', None)
    """
    m = _YEAR.search(Path(path).name)
    return m.group(1) if m else None


def source_record(
    path: str | Path, fmt: str, *, version: str | None = None, licence: str = "not stated in the file"
) -> dict[str, Any]:
    """One ``graph.graph["sources"]`` entry: file name, format, version, sha256 and licence line."""
    path = Path(path)
    return {
        "file": path.name,
        "format": fmt,
        "version": version,
        "sha256": sha256_file(path),
        "licence": licence,
    }


class Skips:
    """Collects ``file:line: reason`` notes for a tolerant reader, or raises at the first in strict mode.

    At most ``MAX_SKIPPED`` notes are kept (a summary line counts the rest); ``count`` is exact.
    """

    def __init__(self, path: str | Path, strict: bool) -> None:
        self.path = str(path)
        self.strict = strict
        self.notes: list[str] = []
        self.count = 0

    def add(self, reason: str, line: int | None = None) -> None:
        """Record one skipped item (raise :class:`InputError` when strict)."""
        if self.strict:
            raise InputError(reason, self.path, line)
        self.note(reason, line)

    def note(self, reason: str, line: int | None = None) -> None:
        """Record an item left out for a reason that is not a fault of the file (never raises)."""
        self.count += 1
        if len(self.notes) < MAX_SKIPPED:
            where = self.path if line is None else f"{self.path}:{line}"
            self.notes.append(f"{where}: {reason}")

    def result(self) -> list[str]:
        """The notes, with a final line counting those not kept."""
        if self.count > len(self.notes):
            return [*self.notes, f"{self.path}: ... and {self.count - len(self.notes)} more skipped"]
        return list(self.notes)


def read_text(path: str | Path, skips: Skips) -> str:
    """Read a UTF-8 text file (BOM dropped), failing clearly on a missing, empty or non-UTF-8 file.

    Invalid bytes raise :class:`InputError` naming the line and byte offset when ``skips`` is strict;
    otherwise they are replaced by U+FFFD and each is reported once.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:  # line by line: a line over the limit stops the read at once
            data = b"".join(raw for _, raw in iter_lines(fh, path))
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    if not data.strip():
        raise InputError("empty file", path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if skips.strict:
            line = data.count(b"\n", 0, exc.start) + 1
            raise InputError(f"invalid UTF-8 at byte offset {exc.start}", path, line) from None
        _report_bad_bytes(data, skips)
        text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _report_bad_bytes(data: bytes, skips: Skips) -> None:
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            skips.add(f"invalid UTF-8 at byte offset {offset + exc.start} (replaced by U+FFFD)", number)
        offset += len(raw) + 1
