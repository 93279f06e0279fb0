"""Safe XML reading: refuse entity declarations (entity bombs, XXE) and over-long lines before parsing content.

Every XML reader -- RDF/XML and OWL/XML (:mod:`ontology.readers.owl`, :mod:`ontology.readers.rdf`), MeSH
descriptor XML, ICD-10-CM, GraphML imports -- first calls :func:`check_xml`. It runs expat over the prolog
only (everything before the root element, where a DOCTYPE and its entity declarations must sit) and raises
:class:`EntityRefused` naming the file and line if it declares any entity: internal or external, general or
parameter. External DTDs are never fetched; where a format has no use for one (RDF/XML, OWL/XML, GraphML:
``external_dtd=False``) a DOCTYPE naming one is refused too, since the entities it would define would
silently vanish; MeSH's ``<!DOCTYPE DescriptorRecordSet SYSTEM "desc2017.dtd">`` stays fine. It then scans
the file for a line longer than ``MEDUNLEARN_MAX_LINE_BYTES``
(:func:`ontology.common.limits.check_line_lengths`), the limit of every line-based input.
:func:`safe_iterparse` then streams the file with ``xml.etree.ElementTree.iterparse``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ontology.common.errors import InputError
from ontology.common.limits import check_line_lengths

ENTITY_MESSAGE = "XML entity declarations are refused (entity expansion or external entity attack)"
DTD_MESSAGE = "an external DTD is refused here (its entities would never be loaded)"


class EntityRefused(InputError):
    """An XML file that declares entities, or names an external DTD where its format needs none."""


class _RootReached(Exception):
    pass


def check_xml(path: str | Path, *, external_dtd: bool = True) -> None:
    """Raise :class:`EntityRefused` if the XML prolog declares an entity (or, unless ``external_dtd``, names
    an external DTD); :class:`InputError` for a missing file, a directory, a prolog that is not well formed
    or a line over the limit."""
    _check_prolog(Path(path), external_dtd)
    check_line_lengths(path)


def _check_prolog(path: Path, external_dtd: bool) -> None:
    """:func:`check_xml`'s prolog part: returns at the root element."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def entity(name: str, is_parameter: int, *_: object) -> None:
        shown = f"% {name}" if is_parameter else name
        raise EntityRefused(f"{ENTITY_MESSAGE}: <!ENTITY {shown} ...>", path, parser.CurrentLineNumber)

    def doctype(name: str, system_id: str | None, public_id: str | None, *_: object) -> None:
        if not external_dtd and (system_id or public_id):
            raise EntityRefused(f"{DTD_MESSAGE}: {system_id or public_id}", path, parser.CurrentLineNumber)

    def start(*_: object) -> None:
        raise _RootReached

    parser.EntityDeclHandler = entity
    parser.StartDoctypeDeclHandler = doctype
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
    except IsADirectoryError:
        raise InputError("is a directory, expected an XML file", path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None


def safe_iterparse(path: str | Path, events: tuple[Any, ...] = ("end",)) -> Iterator[tuple[str, ET.Element]]:
    """``ElementTree.iterparse`` after :func:`check_xml`; parse errors become :class:`InputError`.

    The caller clears the elements it has read (``elem.clear()``) to keep memory bounded.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("empty file", path)
    check_xml(path)
    try:
        yield from ET.iterparse(path, events=events)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML: {exc.msg.split(':')[0]}", path, line) from None
