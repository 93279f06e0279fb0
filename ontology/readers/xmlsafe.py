"""Safe XML streaming: refuse entity declarations (entity bombs, XXE) before parsing a byte of content.

:func:`safe_iterparse` first runs expat over the prolog only (everything before the root
element, where a DOCTYPE and its entity declarations must sit) and raises
:class:`InputError` if it declares any entity; then it streams the file with
``xml.etree.ElementTree.iterparse``. External DTDs are never fetched (ElementTree does not
resolve them), so a plain ``<!DOCTYPE x SYSTEM "desc2017.dtd">`` is fine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ontology.common.errors import InputError

ENTITY_MESSAGE = "XML entity declarations are refused (entity expansion or external entity attack)"


class _RootReached(Exception):
    pass


def check_prolog(path: str | Path) -> None:
    """Raise :class:`InputError` if the XML prolog declares an entity; return at the root element."""
    path = Path(path)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def entity(name: str, *_: object) -> None:
        raise InputError(f"{ENTITY_MESSAGE}: <!ENTITY {name} ...>", path, parser.CurrentLineNumber)

    def start(*_: object) -> None:
        raise _RootReached

    parser.EntityDeclHandler = entity
    parser.StartElementHandler = start
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _RootReached:
        return
    except expat.ExpatError as exc:
        raise InputError(f"not well-formed XML: {expat.ErrorString(exc.code)}", path, exc.lineno) from None
    except FileNotFoundError:
        raise InputError("file not found", path) from None


def safe_iterparse(path: str | Path, events: tuple[Any, ...] = ("end",)) -> Iterator[tuple[str, ET.Element]]:
    """``ElementTree.iterparse`` after :func:`check_prolog`; parse errors become :class:`InputError`.

    The caller clears the elements it has read (``elem.clear()``) to keep memory bounded.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError("empty file", path)
    check_prolog(path)
    try:
        yield from ET.iterparse(path, events=events)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML: {exc.msg.split(':')[0]}", path, line) from None
