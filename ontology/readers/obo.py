"""A tolerant, fast line-based OBO 1.4 reader (also reads the OBO 1.2 synonym tags).

Real releases break strict parsers, so every line that cannot be read is skipped and
reported as ``file:line: reason`` in ``graph.graph["skipped"]``; ``strict=True`` raises
:class:`~ontology.common.errors.InputError` at the first one instead.

What becomes what:

- ``[Term]`` stanzas → nodes (``[Typedef]`` and ``[Instance]`` stanzas are read past).
  Stanzas that repeat an id are merged, as the OBO 1.4 spec says.
- ``is_a`` → edges child → parent with ``relation="is_a"``: the hierarchy.
- ``relationship: part_of X`` → the node attribute ``relationships`` as ``(relation, target)``
  pairs (present only on terms that have some), *not* edges: the graph's edges are the ``is_a`` hierarchy only, so ``parents()`` and
  ``depth()`` never mix ``part_of`` into it.
- ``alt_id`` → ``graph.graph["alt_ids"]`` (alt id → primary id); ``is_a`` targets written with an
  alt id are redirected to the primary.
- ``is_obsolete: true`` → ``obsolete=True``; obsolete terms keep their node (and ``replaced_by``)
  but contribute no edges, so they stay out of the hierarchy.
- ``synonym: "text" SCOPE [TYPE] [xrefs]`` → ``(text, SCOPE)``; ``def: "text" [xrefs]`` → ``definition``.
- ``property_value: skos:exactMatch MESH:D002771`` (and ``closeMatch``, ``broadMatch``, ``narrowMatch``,
  ``relatedMatch``) → the node attribute ``mappings`` as ``(predicate, target)`` pairs (present only on terms
  that have some), the target also among the ``xrefs``: merges read the predicate to give a joined label an
  honest synonym scope (:mod:`ontology.merge`).
- ``property_value: meshv:treeNumber "F03.080" xsd:string`` (MeSH RDF's predicate, as ``ontology export
  --format obo`` writes it) → ``tree_numbers``.

An ``is_a`` to an id that is no term of the file is dropped and noted in ``skipped`` (in strict
mode too: the line itself is well formed). A cyclic ``is_a`` is read as is (detecting it is
:mod:`ontology.validate`'s job).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from sys import intern
from typing import Any

import networkx as nx

from ontology.common.errors import InputError
from ontology.graph import SYNONYM_SCOPES, ConceptGraph, gc_paused
from ontology.readers.provenance import Skips, source_record

_OLD_SYNONYM_TAGS = {
    "exact_synonym": "EXACT",
    "related_synonym": "RELATED",
    "broad_synonym": "BROAD",
    "narrow_synonym": "NARROW",
}
_SCOPES = {s: s for s in SYNONYM_SCOPES}  # maps to the shared constant: one string object per scope
_ESCAPES = {"n": "\n", "t": "\t", "W": " "}


def _quoted(value: str) -> tuple[str, str] | None:
    """Split ``"text with \\" escapes" rest`` into (text, rest); ``None`` if not a closed quote."""
    if not value.startswith('"'):
        return None
    end = value.find('"', 1)
    while end != -1 and value[end - 1] == "\\":
        # count the backslashes: an even number means the quote is not escaped
        k = end - 1
        while k > 0 and value[k] == "\\":
            k -= 1
        if (end - 1 - k) % 2 == 0:
            break
        end = value.find('"', end + 1)
    if end == -1:
        return None
    text = value[1:end]
    if "\\" in text:
        text = _unescape(text)
    return text, value[end + 1 :].strip()


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _first_token(value: str) -> str:
    """The identifier at the start of a value, without ``! comment`` or ``{modifiers}``."""
    return value.split(None, 1)[0] if value else ""


def _lines(path: Path, skips: Skips) -> Iterator[tuple[int, str]]:
    """Stream (line number, stripped text) from the file, decoding line by line.

    Blank lines are left out. Invalid UTF-8 raises in strict mode (naming the byte offset) and is
    replaced by U+FFFD otherwise.
    """
    offset = 0
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the with block below)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                message = f"invalid UTF-8 at byte offset {offset + exc.start}"
                if skips.strict:
                    raise InputError(message, path, number) from None
                skips.add(f"{message} (replaced by U+FFFD)", number)
                line = raw.decode("utf-8", errors="replace").strip()
            offset += len(raw)
            if line:
                if number == 1 and line[0] == "\ufeff":
                    line = line[1:]
                yield number, line


_SKOS_MAPPING = tuple(f"skos:{m}Match " for m in ("exact", "close", "broad", "narrow", "related"))
_TREE_NUMBER = ("meshv:treeNumber ", "http://id.nlm.nih.gov/mesh/vocab#treeNumber ")


def _header_value(value: str) -> str:
    return value.split(" xsd:", 1)[0].strip().strip('"')


class _Term:
    __slots__ = (
        "alt_ids",
        "definition",
        "is_a",
        "label",
        "line",
        "mappings",
        "obsolete",
        "relationships",
        "replaced_by",
        "synonyms",
        "tree_numbers",
        "xrefs",
    )

    def __init__(self, line: int) -> None:
        self.line = line
        self.label = ""
        self.definition: str | None = None
        self.synonyms: list[tuple[str, str]] = []
        self.xrefs: list[str] = []
        self.is_a: list[tuple[str, int]] = []
        self.relationships: list[tuple[str, str]] | None = None  # rare fields: a list only when used
        self.alt_ids: list[str] | None = None
        self.mappings: list[tuple[str, str]] | None = None
        self.obsolete = False
        self.replaced_by: list[str] | None = None
        self.tree_numbers: list[str] | None = None


def _tag_readers(skips: Skips) -> dict[str, Callable[[_Term, str, int], None]]:
    """``tag -> read(term, value, line number)`` for every tag a ``[Term]`` stanza keeps (``id`` aside)."""

    def quoted(what: str, value: str, number: int) -> tuple[str, str] | None:
        parsed = _quoted(value)
        if parsed is None:
            skips.add(f"{what} without a closed quoted text", number)
        return parsed

    def is_a(term: _Term, value: str, number: int) -> None:
        target = _first_token(value)
        if not target:
            skips.add("is_a without a target", number)
            return
        term.is_a.append((intern(target), number))  # one string object per id, shared by the edges

    def synonym(term: _Term, value: str, number: int) -> None:
        if (parsed := quoted("synonym", value, number)) is None:
            return
        syn, rest = parsed
        token = rest.split(None, 1)[0] if rest else "RELATED"
        scope = _SCOPES.get(token)
        if scope is None:
            if not token.startswith("["):
                skips.add(f"synonym scope {token!r} is not EXACT, RELATED, BROAD or NARROW", number)
                return
            scope = "RELATED"  # OBO 1.2 style without a scope
        term.synonyms.append((syn, scope))

    def old_synonym(tag: str) -> Callable[[_Term, str, int], None]:
        def read(term: _Term, value: str, number: int) -> None:
            if (parsed := quoted(tag, value, number)) is not None:
                term.synonyms.append((parsed[0], _OLD_SYNONYM_TAGS[tag]))

        return read

    def xref(term: _Term, value: str, number: int) -> None:
        if ref := _first_token(value):
            term.xrefs.append(ref)

    def name(term: _Term, value: str, number: int) -> None:
        term.label = value

    def definition(term: _Term, value: str, number: int) -> None:
        if (parsed := quoted("def", value, number)) is not None:
            term.definition = parsed[0]

    def alt_id(term: _Term, value: str, number: int) -> None:
        if alt := _first_token(value):
            term.alt_ids = [*(term.alt_ids or ()), alt]

    def obsolete(term: _Term, value: str, number: int) -> None:
        term.obsolete = value.split(None, 1)[0].lower() == "true" if value else False

    def replaced_by(term: _Term, value: str, number: int) -> None:
        if target := _first_token(value):
            term.replaced_by = [*(term.replaced_by or ()), target]

    def relationship(term: _Term, value: str, number: int) -> None:
        parts = value.split(None, 2)
        if len(parts) < 2 or parts[1].startswith("!"):
            skips.add("relationship needs a relation and a target", number)
            return
        term.relationships = [*(term.relationships or ()), (parts[0], parts[1])]

    def property_value(term: _Term, value: str, number: int) -> None:
        if value.startswith(_TREE_NUMBER):
            if tree := _header_value(value.partition(" ")[2]):
                term.tree_numbers = [*(term.tree_numbers or ()), tree]
            return
        if not value.startswith(_SKOS_MAPPING):
            return  # other property values are read past
        predicate, _, rest = value.partition(" ")
        if target := _header_value(rest):
            term.mappings = [*(term.mappings or ()), (predicate[5:], target)]
            term.xrefs.append(target)

    readers = {
        "property_value": property_value,
        "is_a": is_a, "synonym": synonym, "xref": xref, "name": name, "def": definition, "alt_id": alt_id,
        "is_obsolete": obsolete, "replaced_by": replaced_by, "relationship": relationship,
    }  # fmt: skip
    return readers | {tag: old_synonym(tag) for tag in _OLD_SYNONYM_TAGS}


class _Reader:
    """The state of one pass over an OBO file: header, terms by id, the stanza being read."""

    def __init__(self, skips: Skips) -> None:
        self.skips = skips
        self.terms: dict[str, _Term] = {}
        self.header: dict[str, str] = {}
        self.term: _Term | None = None  # the [Term] stanza being read; None in other stanzas
        self.in_header = True
        self.has_id = True  # whether the current [Term] stanza has had its id line
        self.readers = _tag_readers(skips)

    def end_stanza(self) -> None:
        if self.term is not None and not self.has_id:
            self.skips.add("[Term] stanza without an id", self.term.line)

    def stanza(self, line: str, number: int) -> None:
        self.in_header = False
        self.end_stanza()
        self.term = _Term(number) if line == "[Term]" else None
        self.has_id = self.term is None
        if self.term is None and line not in ("[Typedef]", "[Instance]"):
            self.skips.add(f"unknown stanza {line}", number)

    def header_line(self, tag: str, value: str) -> None:
        if tag == "property_value":
            key, _, rest = value.partition(" ")
            self.header[f"property_value:{key}"] = _header_value(rest)
        elif tag not in self.header:
            self.header[tag] = value

    def term_id(self, value: str, number: int) -> None:
        assert self.term is not None
        tid = intern(_first_token(value))
        if not tid:
            self.skips.add("empty id", number)
            return
        self.has_id = True
        existing = self.terms.get(tid)
        if existing is not None:  # a repeated stanza is merged into the first
            self.term = existing
        else:
            self.terms[tid] = self.term

    def line(self, line: str, number: int) -> None:
        if line[0] == "!":
            return
        if line[0] == "[":
            self.stanza(line, number)
            return
        colon = line.find(":")
        if colon <= 0:
            self.skips.add(f"not a 'tag: value' line: {line[:60]!r}", number)
            return
        tag, value = line[:colon], line[colon + 1 :].strip()
        if self.in_header:
            self.header_line(tag, value)
        elif self.term is None:
            return  # [Typedef] / [Instance] stanzas are read past
        elif tag == "id":
            self.term_id(value, number)
        elif (read := self.readers.get(tag)) is not None:
            read(self.term, value, number)
        # ignored and unknown tags (OBO allows extensions) are read past without a note


@gc_paused()  # about twice as fast at 100k concepts
def read_obo(path: str | Path, strict: bool = False) -> ConceptGraph:
    """Read an OBO 1.4 (or 1.2) file into a concept graph.

    Parameters
    ----------
    path : str or Path
        The ``.obo`` file.
    strict : bool
        Raise :class:`InputError` (``file:line: reason``) at the first unreadable line instead
        of skipping and reporting it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.obo"
    >>> _ = p.write_text("[Term]\\nid: X:1\\nname: root\\n\\n[Term]\\nid: X:2\\nname: leaf\\nis_a: X:1 ! root\\n")
    >>> read_obo(p).parents("X:2")
    ['X:1']
    """
    path = Path(path)
    reader = _Reader(Skips(path, strict))
    number = 0
    for number, line in _lines(path, reader.skips):
        reader.line(line, number)
    reader.end_stanza()
    if number == 0:
        raise InputError("empty file", path)
    if not reader.terms:
        raise InputError("no [Term] stanza with an id found: not an OBO ontology", path)
    return _build(path, reader.terms, reader.header, reader.skips)


def _build(path: Path, terms: dict[str, _Term], header: dict[str, str], skips: Skips) -> ConceptGraph:
    alt_ids: dict[str, str] = {}
    for tid, t in terms.items():
        for alt in t.alt_ids or ():
            if alt != tid and alt not in terms:
                alt_ids[alt] = tid
    graph = nx.DiGraph()
    prefixes: Counter[str] = Counter()
    pending: list[tuple[str, list[tuple[str, int]]]] = []
    for tid in list(terms):
        t = terms.pop(tid)  # each term is freed once its node exists: the peak stays one copy
        prefix = intern(tid.split(":", 1)[0] if ":" in tid else path.stem)
        prefixes[prefix] += 1
        attrs: dict[str, Any] = {
            "label": t.label,
            "synonyms": t.synonyms,
            "definition": t.definition,
            "xrefs": t.xrefs,
            "tree_numbers": t.tree_numbers or [],
            "semantic_types": [],
            "source": prefix,
            "obsolete": t.obsolete,
            "replaced_by": [alt_ids.get(r, r) for r in t.replaced_by or ()],
        }
        if t.relationships:
            attrs["relationships"] = t.relationships
        if t.mappings:
            attrs["mappings"] = t.mappings
        graph.add_node(tid, **attrs)
        if t.is_a and not t.obsolete:
            pending.append((tid, t.is_a))
    nodes = graph.nodes
    for tid, is_a in pending:
        for target, number in is_a:
            target = alt_ids.get(target, target)
            if target not in nodes:
                skips.note(f"is_a target {target} is not a term in this file; edge dropped", number)
                continue
            graph.add_edge(tid, target, relation="is_a")
    del pending
    version = header.get("data-version") or header.get("property_value:owl:versionInfo")
    licence = (
        header.get("property_value:terms:license")
        or header.get("property_value:dcterms:license")
        or header.get("property_value:http://purl.org/dc/terms/license")
        or header.get("license")
        or "not stated in the file"
    )
    graph.graph["sources"] = [source_record(path, "obo", version=version, licence=licence)]
    graph.graph["skipped"] = skips.result()
    graph.graph["alt_ids"] = alt_ids
    if prefixes:
        graph.graph["ontology"] = header.get("ontology", prefixes.most_common(1)[0][0])
    return ConceptGraph(graph)
