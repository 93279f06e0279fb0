"""Abbreviations defined in the text ("posttraumatic stress disorder (PTSD)"): scispaCy's detector (Schwartz &
Hearst), started only where parentheses are, as the spaCy component ``paren_abbreviation_detector``."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from scispacy.abbreviation import AbbreviationDetector, filter_matches
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.tokens import Doc, Span


class ParenthesisAbbreviationDetector(AbbreviationDetector):
    """scispaCy's abbreviation detector (Schwartz & Hearst), started only where parentheses are.

    scispaCy runs a ``( … )`` token Matcher and an (often empty) global Matcher over every document,
    which costs about a third of the tagging time. Here the candidate ``( … )`` windows come from a
    scan of the token texts (same windows: 1 to 8 tokens inside the brackets), and scispaCy's own
    ``filter_matches``/``find_matches_for`` run only when there is a candidate.
    """

    def __call__(self, doc: Doc) -> Doc:
        orths = doc.to_array(ORTH)
        opens = (orths == self.vocab_open).nonzero()[0].tolist()
        if not opens:
            return doc
        closes = (orths == self.vocab_close).nonzero()[0].tolist()
        matches = []
        for o in opens:  # closing brackets 1 to 8 tokens after the opening one
            for c in closes[bisect.bisect_left(closes, o + 2) : bisect.bisect_right(closes, o + 9)]:
                matches.append((0, o + 1, c))
        filtered = filter_matches(sorted(matches, key=lambda m: (m[1], m[2])), doc)
        if not filtered:
            return doc
        for long_form, short_forms in self.find_matches_for(filtered, doc):
            for short in short_forms:
                short._.long_form = long_form
                doc._.abbreviations.append(short)
        if self.make_serializable:
            doc._.abbreviations = [self.make_short_form_serializable(a) for a in doc._.abbreviations]
        return doc


@Language.factory("paren_abbreviation_detector", default_config={"make_serializable": False})
def make_paren_abbreviation_detector(
    nlp: Language, name: str, make_serializable: bool
) -> ParenthesisAbbreviationDetector:
    """spaCy factory of :class:`ParenthesisAbbreviationDetector`; ``make_serializable`` as scispaCy's (dicts
    instead of spans in ``doc._.abbreviations``, which ``nlp.pipe(n_process=…)`` needs)."""
    det = ParenthesisAbbreviationDetector(nlp, name, make_serializable=make_serializable)
    det.vocab_open = nlp.vocab.strings.add("(")
    det.vocab_close = nlp.vocab.strings.add(")")
    return det


def abbreviation_pairs(doc: Doc) -> Iterator[tuple[Span, Span]]:
    """(short form, long form) of each abbreviation the detector found, as Spans or as scispaCy's
    serialisable dicts (``make_serializable``, needed by ``nlp.pipe(n_process=…)``)."""
    for abbr in doc._.abbreviations:
        if isinstance(abbr, dict):
            yield doc[abbr["short_start"] : abbr["short_end"]], doc[abbr["long_start"] : abbr["long_end"]]
        elif isinstance(abbr._.long_form, Span):
            yield abbr, abbr._.long_form
