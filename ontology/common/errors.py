"""Exception types whose message is one clear line naming the file, line or item at fault."""

from __future__ import annotations

from pathlib import Path


class MedunlearnError(Exception):
    """Base class for errors the CLI reports as one line, without a traceback.

    The message is always one line: line breaks in it (a parser's multi-line message, a file name) are
    replaced by spaces.

    Examples
    --------
    >>> str(MedunlearnError("bad file:\\n  line 1\\n"))
    'bad file: line 1'
    """

    def __str__(self) -> str:
        return " ".join(part.strip() for part in super().__str__().splitlines() if part.strip())


class InputError(MedunlearnError):
    """Bad input: a file, a line in it, or an item of a collection.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or Path, optional
        The file at fault.
    line : int, optional
        1-based line number inside ``path``.

    Examples
    --------
    >>> str(InputError("unknown stanza", path="x.obo", line=3))
    'x.obo:3: unknown stanza'
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(InputError):
    """A configuration file with an unknown key, a wrong type or a missing file."""
