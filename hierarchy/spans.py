"""Concept spans on spaCy docs: where they go and how a span carries its concept, level and role.

A concept span is a :class:`spacy.tokens.Span` in ``doc.spans["concepts"]`` (and, when the component is asked
to, in ``doc.ents``) whose label is the concept id and whose ``kb_id`` holds ``"level:role"``; the extensions
``span._.concept_id``, ``span._.level`` and ``span._.role`` read them. Both survive ``Doc.to_bytes`` (and so
``nlp.pipe(n_process=…)``), which custom span attributes would not.
"""

from __future__ import annotations

from spacy.tokens import Doc, Span

SPANS_KEY = "concepts"


def _kb_field(span: Span, i: int) -> int:
    parts = span.kb_id_.split(":")
    return int(parts[i]) if len(parts) == 2 else 0


Span.set_extension("concept_id", getter=lambda sp: sp.label_ or None, force=True)
Span.set_extension("level", getter=lambda sp: _kb_field(sp, 0), force=True)
Span.set_extension("role", getter=lambda sp: _kb_field(sp, 1), force=True)
if not Doc.has_extension("concept_abbreviations"):
    #: short form → (concept id, level, role) of the abbreviations a document defines
    Doc.set_extension("concept_abbreviations", default=None)


def make_span(doc: Doc, start: int, end: int, concept_id: str, level: int, role: int) -> Span:
    """A concept span: ``span._.concept_id``, ``span._.level`` and ``span._.role`` read from it."""
    return Span(doc, start, end, label=concept_id, kb_id=f"{level}:{role}")
