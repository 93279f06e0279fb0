"""RDF serialisations owlready2 cannot read (Turtle, N-Triples, JSON-LD) into a concept graph.

The triples go through the same vocabulary mapping as the OWL reader
(:class:`ontology.readers.owl.TripleCollector`), so a Turtle file and its RDF/XML twin give the same graph.
The parser is pyoxigraph (Rust) when it is installed, otherwise rdflib; pyoxigraph is about an order of
magnitude faster and smaller on large files (``docs/benchmarks.md``). ``engine="rdflib"`` forces
rdflib.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ontology.common.errors import InputError
from ontology.common.limits import check_line_lengths
from ontology.graph import ConceptGraph, gc_paused
from ontology.readers.owl import TripleCollector, _invalid_utf8
from ontology.readers.xmlsafe import EntityRefused, check_xml

#: Accepted ``format`` names → (pyoxigraph format name, rdflib format name).
FORMATS: dict[str, tuple[str, str]] = {
    "turtle": ("TURTLE", "turtle"),
    "ttl": ("TURTLE", "turtle"),
    "nt": ("N_TRIPLES", "nt"),
    "ntriples": ("N_TRIPLES", "nt"),
    "json-ld": ("JSON_LD", "json-ld"),
    "jsonld": ("JSON_LD", "json-ld"),
    "rdfxml": ("RDF_XML", "xml"),
}

_BATCH = 1 << 15
_LINE = re.compile(r"line (\d+)|:(\d+):\d+|on line (\d+)|at line (\d+)", re.I)


_PREFIX = re.compile(
    r"^(Parser error )?at line \d+( column \d+| between columns \d+ and \d+| of <[^>]*>)?:\s*"
)


def _line_of(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def _have_oxigraph() -> bool:
    try:
        import pyoxigraph  # noqa: F401
    except ImportError:
        return False
    return True


def _remote_context(node: Any) -> str | None:
    """The first ``@context`` / ``@import`` of a JSON-LD tree that names a document instead of holding one."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("@context", "@import"):
                    refs = value if isinstance(value, list) else [value]
                    found = next((r for r in refs if isinstance(r, str)), None)
                    if found is not None:
                        return found
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


def refuse_remote_contexts(path: Path) -> None:
    """Raise :class:`EntityRefused` for a JSON-LD file whose context is loaded from elsewhere (a URL or a
    file: JSON-LD's analogue of an external entity, which rdflib would fetch); nothing is ever fetched."""
    import json

    try:
        tree = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise InputError(f"malformed jsonld: {str(exc)[:200]}", path, getattr(exc, "lineno", None)) from None
    remote = _remote_context(tree)
    if remote is not None:
        raise EntityRefused(f"remote JSON-LD contexts are refused (never fetched): {remote[:200]}", path)


def _feed_oxigraph(path: Path, fmt: str, collector: TripleCollector) -> None:
    import pyoxigraph as ox

    named, blank = ox.NamedNode, ox.BlankNode
    objs: list[tuple[str, str, str]] = []
    lits: list[tuple[str, str, Any, Any]] = []
    for t in ox.parse(path=path, format=getattr(ox.RdfFormat, fmt), base_iri=path.resolve().as_uri()):
        s, p, o = t.subject, t.predicate.value, t.object
        subj = s.value if type(s) is named else "_:" + s.value
        if type(o) is named:
            objs.append((subj, p, o.value))
        elif type(o) is blank:
            objs.append((subj, p, "_:" + o.value))
        else:
            lang = o.language
            lits.append((subj, p, o.value, "@" + lang if lang else o.datatype.value))
        if len(objs) >= _BATCH:
            collector.add_objects(objs)
            objs = []
        if len(lits) >= _BATCH:
            collector.add_literals(lits)
            lits = []
    collector.add_objects(objs)
    collector.add_literals(lits)


def _feed_rdflib(path: Path, fmt: str, collector: TripleCollector) -> None:
    import rdflib

    g = rdflib.Graph()
    g.parse(str(path), format=fmt)
    objs: list[tuple[str, str, str]] = []
    lits: list[tuple[str, str, Any, Any]] = []
    for s, p, o in g:
        subj = str(s) if isinstance(s, rdflib.URIRef) else "_:" + str(s)
        if isinstance(o, rdflib.Literal):
            lits.append((subj, str(p), str(o), "@" + o.language if o.language else str(o.datatype or "")))
        else:
            objs.append((subj, str(p), str(o) if isinstance(o, rdflib.URIRef) else "_:" + str(o)))
    collector.add_objects(objs)
    collector.add_literals(lits)


def read_rdf(
    path: str | Path, format: str = "turtle", strict: bool = False, engine: str = "auto"
) -> ConceptGraph:
    """Read a Turtle, N-Triples or JSON-LD ontology (also RDF/XML, but :func:`read_owl` is faster there).

    Parameters
    ----------
    path : str or Path
        The file.
    format : str
        ``turtle`` (``ttl``), ``nt`` (``ntriples``), ``json-ld`` (``jsonld``) or ``rdfxml``.
    strict : bool
        Raise at the first duplicate id (see :func:`ontology.readers.owl.read_owl`).
    engine : str
        ``auto`` (pyoxigraph if installed, else rdflib), ``oxigraph`` or ``rdflib``.

    Raises
    ------
    InputError
        Missing or empty file, unknown format, or a syntax error (``file:line: message`` when the parser
        gives the line).
    """
    path = Path(path)
    if format not in FORMATS:
        raise InputError(f"unknown RDF format {format!r} (expected one of {', '.join(FORMATS)})", path)
    if not path.is_file():
        raise InputError("is a directory, expected a file" if path.is_dir() else "file not found", path)
    with open(path, "rb") as fh:
        if not fh.read(4096).strip():
            raise InputError("empty file", path)
    if FORMATS[format][0] == "RDF_XML":
        check_xml(path, external_dtd=False)
    else:  # the parsers hold a line whole: refuse one over the limit before they start
        check_line_lengths(path)
        if FORMATS[format][0] == "JSON_LD":
            refuse_remote_contexts(path)
    if engine == "auto":
        engine = "oxigraph" if _have_oxigraph() else "rdflib"
    if engine not in ("oxigraph", "rdflib"):
        raise InputError(f"unknown RDF engine {engine!r} (expected auto, oxigraph or rdflib)", path)
    ox_name, rdflib_name = FORMATS[format]
    collector = TripleCollector()
    try:
        with gc_paused():
            if engine == "oxigraph":
                _feed_oxigraph(path, ox_name, collector)
            else:
                _feed_rdflib(path, rdflib_name, collector)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"invalid UTF-8 at byte offset {exc.start}", path, _line_of(path, exc.start)
        ) from None
    except Exception as exc:  # parser errors differ by engine and format: report them all as one line
        bad_byte = _invalid_utf8(path)
        if bad_byte is not None:
            raise InputError(f"invalid UTF-8 at byte offset {bad_byte[0]}", path, bad_byte[1]) from None
        line = getattr(exc, "lineno", None)
        if line is None:
            m = _LINE.search(str(exc))
            line = int(next(g for g in m.groups() if g)) if m else None
        detail = " ".join(str(getattr(exc, "msg", None) or exc).split())
        detail = _PREFIX.sub("", detail)[:300] or type(exc).__name__
        raise InputError(f"malformed {format}: {detail}", path, line) from None
    with gc_paused():
        cg = collector.build(path, format)
    if strict and collector.duplicates:
        raise InputError(f"{collector.duplicates[0][0]} (strict mode)", path)
    return cg
