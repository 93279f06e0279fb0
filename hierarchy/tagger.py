"""A spaCy tagger built from a concept graph, with no model download.

Pipeline: ``spacy.blank("en")`` + scispaCy's ``combined_rule_tokenizer`` (a hyphen between letters split off)
+ scispaCy's
``abbreviation_detector`` + our ``concept_matcher``. The matcher walks a trie of normalised
words (see :mod:`hierarchy.lexicon`): at every token start it follows the trie as far as the
text allows, then keeps the longest candidates, the more specific concept (deeper level) when
two overlap, and gives every short form of a detected abbreviation the concept of its long form.
Spans land in ``doc.spans["concepts"]`` with ``span._.concept_id``, ``span._.level`` and
``span._.role``.

Long texts go through :func:`tag_text` (or :func:`tag_texts`), which splits them into paragraphs
first: the abbreviation detector is quadratic in the number of parentheses of one document.
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import spacy
from scispacy.abbreviation import AbbreviationDetector, filter_matches
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.attrs import IDX, LENGTH, ORTH
from spacy.language import Language
from spacy.tokens import Doc, Span

from hierarchy.lexicon import BARRIER, END, Entry, Lexicon, TaggingRules, term_words
from ontology.common.errors import InputError, MedunlearnError
from ontology.graph import ConceptGraph
from ontology.normalize import written_as

SPANS_KEY = "concepts"
# scispaCy's detector runs an empty global matcher on documents without abbreviations
warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
#: tokens that carry no words but do not break a match (``Alzheimer 's disease``, ``post - traumatic``)
_TRANSPARENT = frozenset({"'s", "’s", "'", "’", "-"})
#: a hyphen between letters is a token of its own: curated corpora annotate "cocaine" in "cocaine-dependent"
HYPHEN_INFIX = r"(?<=[^\W\d_])-(?=[^\W\d_])"
_CACHE_LIMIT = 500_000


def _kb_field(span: Span, i: int) -> int:
    parts = span.kb_id_.split(":")
    return int(parts[i]) if len(parts) == 2 else 0


# a span's concept is its label, its level and role are stored as "level:role" in its kb_id
Span.set_extension("concept_id", getter=lambda sp: sp.label_ or None, force=True)
Span.set_extension("level", getter=lambda sp: _kb_field(sp, 0), force=True)
Span.set_extension("role", getter=lambda sp: _kb_field(sp, 1), force=True)
if not Doc.has_extension("concept_abbreviations"):
    Doc.set_extension("concept_abbreviations", default=None)


def make_span(doc: Doc, start: int, end: int, concept_id: str, level: int, role: int) -> Span:
    """A concept span: ``span._.concept_id``, ``span._.level`` and ``span._.role`` read from it."""
    return Span(doc, start, end, label=concept_id, kb_id=f"{level}:{role}")


@Language.factory("concept_matcher", default_config={"spans_key": SPANS_KEY})
def make_concept_matcher(nlp: Language, name: str, spans_key: str) -> ConceptMatcher:
    """spaCy factory; the lexicon is attached afterwards with :meth:`ConceptMatcher.set_lexicon`."""
    return ConceptMatcher(nlp, name, spans_key=spans_key)


class ConceptMatcher:
    """Longest-match concept tagger over a :class:`~hierarchy.lexicon.Lexicon` trie."""

    def __init__(self, nlp: Language, name: str = "concept_matcher", *, spans_key: str = SPANS_KEY) -> None:
        self.name = name
        self.spans_key = spans_key
        self.vocab = nlp.vocab
        self.lexicon: Lexicon | None = None
        self.proper_names = True
        self._words: dict[int, tuple[str, ...]] = {}

    def set_lexicon(self, lexicon: Lexicon, *, proper_names: bool = True) -> None:
        """Attach the lexicon to match; ``proper_names``: see :attr:`TaggingRules.proper_names`."""
        self.lexicon = lexicon
        self.proper_names = proper_names

    def _token_words(self, orth: int) -> tuple[str, ...]:
        words = self._words.get(orth)
        if words is None:
            text = self.vocab.strings[orth]
            words = () if text in _TRANSPARENT else (term_words(text) or BARRIER)
            if len(self._words) > _CACHE_LIMIT:
                self._words.clear()
            self._words[orth] = words
        return words

    def candidates(self, doc: Doc) -> list[tuple[int, int, Entry]]:
        """Every ``(start_token, end_token, entry)`` whose key matches at token boundaries.

        Of a key's alternatives the first whose case constraint the text meets is taken (an abbreviation-like
        name such as ``NO`` matches "NO" and "NOs", not "no").
        """
        if self.lexicon is None:
            raise MedunlearnError("concept_matcher has no lexicon: build the pipeline with build_nlp()")
        words: list[str] = []
        wtok: list[int] = []
        token_words = self._token_words
        orths = doc.to_array(ORTH).tolist()
        for ti, orth in enumerate(orths):
            for w in token_words(orth):
                words.append(w)
                wtok.append(ti)
        trie = self.lexicon.trie
        n = len(words)
        out: list[tuple[int, int, Entry]] = []
        for i in range(n):
            node = trie.get(words[i])
            if node is None or (i > 0 and wtok[i - 1] == wtok[i]):
                continue
            j = i + 1
            while True:
                alts = node.get(END)
                if alts is not None and (j == n or wtok[j] != wtok[j - 1]):
                    entry = alts[0]
                    if entry.case is not None or len(alts) > 1:
                        entry = self._first_in_case(alts, orths, wtok[i], wtok[j - 1] + 1)
                    if entry is not None:
                        out.append((wtok[i], wtok[j - 1] + 1, entry))
                if j == n:
                    break
                node = node.get(words[j])
                if node is None:
                    break
                j += 1
        return out

    def _first_in_case(self, alts: tuple[Entry, ...], orths: list[int], start: int, end: int) -> Entry | None:
        strings = self.vocab.strings
        written = "".join(strings[o] for o in orths[start:end])
        for entry in alts:
            if entry.case is None or written_as(written, entry.case):
                return entry
        return None

    def __call__(self, doc: Doc) -> Doc:
        cands = self.candidates(doc)
        arr = doc.to_array([IDX, LENGTH])
        starts, lengths = arr[:, 0].tolist(), arr[:, 1].tolist()

        def chars(c: tuple[int, int, Entry]) -> int:
            return starts[c[1] - 1] + lengths[c[1] - 1] - starts[c[0]]

        cands.sort(key=lambda c: (-chars(c), -c[2].level, c[0]))
        taken = bytearray(len(doc))
        chosen: dict[int, tuple[int, Entry]] = {}
        for s, e, entry in cands:
            if not any(taken[s:e]):
                taken[s:e] = b"\x01" * (e - s)
                chosen[s] = (e, entry)
        if self.proper_names:
            _drop_name_parts(doc, chosen, taken)
        _extend_stereo_prefixes(doc, chosen, taken)
        if Doc.has_extension("abbreviations"):
            self._inherit_abbreviations(doc, chosen, taken)
        spans = []
        for s in sorted(chosen):
            e, entry = chosen[s]
            spans.append(make_span(doc, s, e, entry.concept_id, entry.level, entry.role))
        doc.spans[self.spans_key] = spans
        return doc

    def _inherit_abbreviations(
        self, doc: Doc, chosen: dict[int, tuple[int, Entry]], taken: bytearray
    ) -> None:
        assert self.lexicon is not None
        inherited: dict[str, Entry] = {}
        for short in doc._.abbreviations:
            long = short._.long_form
            if not isinstance(long, Span):
                continue
            entry = None
            if long.start in chosen and chosen[long.start][0] == long.end:
                entry = chosen[long.start][1]
            if entry is None:
                entry = self.lexicon.lookup(w for t in long for w in term_words(t.text))
            if entry is None:
                continue
            s, e = short.start, short.end
            inherited[short.text] = entry
            exact = s in chosen and chosen[s][0] == e
            if exact or not any(taken[s:e]):
                taken[s:e] = b"\x01" * (e - s)
                chosen[s] = (e, entry)
        doc._.concept_abbreviations = inherited


_SENTENCE_END = frozenset({".", "!", "?", ":", ";"})
#: configuration prefixes of chemical names: "L-arginine" is a mention of Arginine
STEREO_PREFIXES = frozenset({"L", "D", "DL", "l", "d", "dl", "R", "S", "cis", "trans"})


def _extend_stereo_prefixes(doc: Doc, chosen: dict[int, tuple[int, Entry]], taken: bytearray) -> None:
    """Widen a match to a configuration prefix written before it with a hyphen ("L-arginine", "d-amphetamine")."""
    for s in [s for s in chosen if s >= 2 and not taken[s - 1] and not taken[s - 2]]:
        prefix, hyphen = doc[s - 2], doc[s - 1]
        starts_word = s < 3 or bool(doc[s - 3].whitespace_) or doc[s - 3].text in ("(", "[")
        if hyphen.text == "-" and prefix.text in STEREO_PREFIXES and not prefix.whitespace_ and starts_word:
            chosen[s - 2] = chosen.pop(s)
            taken[s - 2 : s] = b"\x01\x01"


def _is_title(text: str) -> bool:
    return len(text) > 1 and text[0].isupper() and text[1:].islower() and text.isalpha()


def _drop_name_parts(doc: Doc, chosen: dict[int, tuple[int, Entry]], taken: bytearray) -> None:
    """Drop one-token matches written in Title Case mid-sentence beside another untagged Title-Case word
    ("Grid Iron incision", "Gold Coast"): the words form a name, not a concept mention."""
    for s in [s for s, (e, _) in chosen.items() if e == s + 1]:
        tok = doc[s]
        if not _is_title(tok.text) or s == 0 or doc[s - 1].text in _SENTENCE_END or "\n" in doc[s - 1].text:
            continue
        before = s > 0 and not taken[s - 1] and _is_title(doc[s - 1].text)
        after = s + 1 < len(doc) and not taken[s + 1] and _is_title(doc[s + 1].text)
        if before or after:
            del chosen[s]
            taken[s] = 0


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
        return doc


@Language.factory("paren_abbreviation_detector")
def make_paren_abbreviation_detector(nlp: Language, name: str) -> ParenthesisAbbreviationDetector:
    """spaCy factory of :class:`ParenthesisAbbreviationDetector`."""
    det = ParenthesisAbbreviationDetector(nlp, name)
    det.vocab_open = nlp.vocab.strings.add("(")
    det.vocab_close = nlp.vocab.strings.add(")")
    return det


def make_tokenizer(nlp: Language) -> Any:
    """scispaCy's ``combined_rule_tokenizer`` that also splits a hyphen between two letters (:data:`HYPHEN_INFIX`).

    Examples
    --------
    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> [t.text for t in make_tokenizer(nlp)("cocaine-dependent 5-FU users")]
    ['cocaine', '-', 'dependent', '5-FU', 'users']
    """
    with warnings.catch_warnings():  # scispaCy's infix regex trips a FutureWarning of the re module
        warnings.simplefilter("ignore", FutureWarning)
        tokenizer = combined_rule_tokenizer(nlp)
        infixes = tokenizer.infix_finditer.__self__.pattern  # type: ignore[union-attr]
        tokenizer.infix_finditer = re.compile(f"{infixes}|{HYPHEN_INFIX}").finditer
    return tokenizer


def make_pipeline(lexicon: Lexicon, *, abbreviations: bool = True, proper_names: bool = True) -> Language:
    """The tagging pipeline for an already built lexicon.

    Examples
    --------
    >>> from ontology.graph import ConceptGraph
    >>> cg = ConceptGraph()
    >>> cg.add_concept("X:1", "Anxiety Disorders")
    >>> nlp = make_pipeline(Lexicon.from_graph(cg, {"X:1": 3}))
    >>> doc = nlp("An anxiety disorder.")
    >>> [(s.text, s._.concept_id, s._.level) for s in doc.spans["concepts"]]
    [('anxiety disorder', 'X:1', 3)]
    """
    nlp = spacy.blank("en")
    nlp.tokenizer = make_tokenizer(nlp)
    if abbreviations:
        nlp.add_pipe("paren_abbreviation_detector")
    matcher = cast(ConceptMatcher, nlp.add_pipe("concept_matcher"))
    matcher.set_lexicon(lexicon, proper_names=proper_names)
    return nlp


def build_nlp(
    source: Any,
    *,
    abbreviations: bool = True,
    linker: bool = False,
    scope: Iterable[str] | None = None,
    rules: TaggingRules | None = None,
) -> Language:
    """The tagging pipeline for a concept graph or hierarchy.

    Parameters
    ----------
    source : Hierarchy, ConceptGraph, or path
        A hierarchy (levels known), a graph (levels computed with the automatic rule), or a
        HIER / GRAPH directory.
    abbreviations : bool
        Run scispaCy's abbreviation detector so that short forms inherit their long form's concept.
    linker : bool
        Add the fuzzy fallback :class:`ConceptLinker` (scispaCy's candidate generator over the graph's
        own names) for word runs the exact matcher leaves untagged.
    scope : iterable of str, optional
        Forget scope: spans then carry ``span._.role`` (otherwise every role is 0), and its concepts are
        tagged even inside a subtree the rules exclude.
    rules : TaggingRules, optional
        Which names become keys (:class:`hierarchy.lexicon.TaggingRules`; its defaults when None).
    """
    from hierarchy.store import open_hierarchy

    hier = open_hierarchy(source)
    cg = hier.graph
    rules = rules or TaggingRules()
    levels = {cid: hier.level(cid) for cid in cg}
    roles: Mapping[str, int] = {}
    include: frozenset[str] = frozenset()
    if scope is not None:
        from hierarchy.roles import assign_roles
        from hierarchy.scope import Scope

        resolved = Scope.parse(list(scope), hier)
        table = assign_roles(hier, resolved)
        roles = {cid: r.role for cid, r in table.items()}
        include = resolved.concepts
    lexicon = Lexicon.from_graph(cg, levels, roles, rules=rules, include=include)
    nlp = make_pipeline(lexicon, abbreviations=abbreviations, proper_names=rules.proper_names)
    if linker:
        fuzzy = cast(ConceptLinker, nlp.add_pipe("concept_linker", after="concept_matcher"))
        fuzzy.set_generator(graph_candidate_generator(cg), levels, roles)
    return nlp


def graph_candidate_generator(cg: ConceptGraph, *, hnsw_m: int = 16, ef_construction: int = 100) -> Any:
    """A scispaCy ``CandidateGenerator`` over the labels and synonyms of ``cg`` (nothing downloaded).

    Same recipe as scispaCy's ``create_tfidf_ann_index`` (TF-IDF of character 3-grams, nmslib HNSW,
    cosine), with lighter HNSW settings so that a 30k-concept graph indexes in seconds, not minutes.
    """
    import nmslib
    import numpy as np
    from scispacy.candidate_generation import CandidateGenerator
    from scispacy.linking_utils import Entity, KnowledgeBase
    from sklearn.feature_extraction.text import TfidfVectorizer

    entities = [
        Entity(cid, a["label"], [t for t, _ in a.get("synonyms") or ()], [], a.get("definition"))
        for cid, a in cg.graph.nodes(data=True)
        if (a.get("label") or "").strip() and not a.get("obsolete")
    ]
    if not entities:
        raise InputError("no concept has a label to link to")
    kb = KnowledgeBase(entities)
    aliases = list(kb.alias_to_cuis)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)
    vectors = vectorizer.fit_transform(aliases)
    keep = np.asarray(vectors.sum(axis=1)).reshape(-1) != 0
    aliases = [a for a, k in zip(aliases, keep, strict=True) if k]
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(vectors[keep])
    index.createIndex({"M": hnsw_m, "efConstruction": ef_construction, "post": 0}, print_progress=False)
    return CandidateGenerator(index, vectorizer, aliases, kb, ef_search=100)


@Language.factory(
    "concept_linker", default_config={"threshold": 0.85, "max_words": 5, "spans_key": SPANS_KEY}
)
def make_concept_linker(
    nlp: Language, name: str, threshold: float, max_words: int, spans_key: str
) -> ConceptLinker:
    """spaCy factory; the candidate generator is attached with :meth:`ConceptLinker.set_generator`."""
    return ConceptLinker(threshold=threshold, max_words=max_words, spans_key=spans_key)


class ConceptLinker:
    """Fuzzy fallback: link runs of content words that no exact span covers to their nearest concept name.

    A run is up to ``max_words`` consecutive alphabetic tokens that are not stop words; it becomes a span
    when its best candidate's cosine similarity (TF-IDF character 3-grams) reaches ``threshold``.
    """

    def __init__(self, *, threshold: float = 0.85, max_words: int = 5, spans_key: str = SPANS_KEY) -> None:
        self.threshold = threshold
        self.max_words = max_words
        self.spans_key = spans_key
        self.generator: Any = None
        self.levels: Mapping[str, int] = {}
        self.roles: Mapping[str, int] = {}

    def set_generator(self, generator: Any, levels: Mapping[str, int], roles: Mapping[str, int]) -> None:
        """Attach the candidate generator and the level/role of each concept."""
        self.generator, self.levels, self.roles = generator, levels, roles

    def __call__(self, doc: Doc) -> Doc:
        from spacy.lang.en.stop_words import STOP_WORDS

        if self.generator is None:
            raise MedunlearnError(
                "concept_linker has no candidate generator: build the pipeline with build_nlp()"
            )
        existing = list(doc.spans.get(self.spans_key, []))
        covered = bytearray(len(doc))
        for sp in existing:
            covered[sp.start : sp.end] = b"\x01" * (sp.end - sp.start)
        runs: list[tuple[int, int]] = []
        start = None
        for tok in doc:
            ok = not covered[tok.i] and tok.is_alpha and tok.lower_ not in STOP_WORDS
            if ok and start is None:
                start = tok.i
            if start is not None and (not ok or tok.i + 1 - start >= self.max_words):
                runs.append((start, tok.i + 1 if ok else tok.i))
                start = None
        if start is not None:
            runs.append((start, len(doc)))
        if not runs:
            return doc
        found = []
        for (s, e), cands in zip(runs, self.generator([doc[s:e].text for s, e in runs], 5), strict=True):
            best = max(cands, key=lambda c: max(c.similarities), default=None)
            if best is not None and max(best.similarities) >= self.threshold:
                cid = best.concept_id
                found.append(
                    make_span(doc, s, e, cid, int(self.levels.get(cid, 0)), int(self.roles.get(cid, 0)))
                )
        if found:
            doc.spans[self.spans_key] = sorted(existing + found, key=lambda sp: sp.start)
        return doc


_PARA = re.compile(r"\n[ \t]*\n\s*")
_SENT_END = re.compile(r"[.!?;]\s+(?=[A-Z0-9(\[])")


def split_paragraphs(text: str, max_chars: int = 3000) -> Iterator[tuple[int, str]]:
    """``(offset, chunk)`` pieces of ``text``: paragraphs, long ones cut at sentence ends.

    Examples
    --------
    >>> list(split_paragraphs("One.\\n\\nTwo two."))
    [(0, 'One.'), (6, 'Two two.')]
    """
    pos = 0
    for m in [*_PARA.finditer(text), None]:
        end = m.start() if m else len(text)
        yield from _cut(text, pos, end, max_chars)
        if m:
            pos = m.end()


def _cut(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, str]]:
    while end - start > max_chars:
        cut = None
        for m in _SENT_END.finditer(text, start, start + max_chars):
            cut = m.end()
        if cut is None or cut <= start:
            ws = text.rfind(" ", start, start + max_chars)
            cut = ws + 1 if ws > start else start + max_chars
        if text[start:cut].strip():
            yield start, text[start:cut]
        start = cut
    if text[start:end].strip():
        yield start, text[start:end]


def doc_spans(
    doc: Doc, offset: int = 0, key: str = SPANS_KEY, text: str | None = None
) -> list[dict[str, Any]]:
    """The spans of one doc as ``{"start", "end", "text", "concept_id", "level"}`` dicts.

    ``text`` is the string the doc was made from (saves rebuilding ``doc.text``).
    """
    text = doc.text if text is None else text
    out = []
    for s in doc.spans.get(key, []):
        a, b = s.start_char, s.end_char
        level = s.kb_id_.split(":")[0]
        out.append(
            {
                "start": a + offset,
                "end": b + offset,
                "text": text[a:b],
                "concept_id": s.label_,
                "level": int(level or 0),
            }
        )
    return out


def tag_texts(nlp: Language, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[list[dict[str, Any]]]:
    """Span dicts of each text (char offsets into that text), paragraphs streamed through ``nlp.pipe``.

    An abbreviation defined in one paragraph is also tagged in the other paragraphs of its text.
    """
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            yield from _tag_batch(nlp, batch, batch_size)
            batch = []
    if batch:
        yield from _tag_batch(nlp, batch, batch_size)


#: chat-template markers such as ``<|im_end|>``: the tokenizer would glue them to the word before
CHAT_MARKER = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>")


def blank_chat_markers(text: str) -> str:
    """``text`` with chat-template markers replaced by spaces of the same length (offsets unchanged).

    Examples
    --------
    >>> blank_chat_markers("repair<|im_end|>\\n")
    'repair          \\n'
    """
    return CHAT_MARKER.sub(lambda m: " " * len(m.group()), text)


def _tag_batch(nlp: Language, texts: list[str], batch_size: int) -> Iterator[list[dict[str, Any]]]:
    pieces = [
        (i, off, chunk)
        for i, text in enumerate(texts)
        for off, chunk in split_paragraphs(blank_chat_markers(text))
    ]
    spans: list[list[dict[str, Any]]] = [[] for _ in texts]
    abbrevs: list[dict[str, Entry]] = [{} for _ in texts]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
        docs = nlp.pipe((c for _, _, c in pieces), batch_size=batch_size)
        for (i, off, chunk), doc in zip(pieces, docs, strict=True):
            spans[i].extend(doc_spans(doc, off, text=chunk))
            abbrevs[i].update(doc._.concept_abbreviations or {})
    for text, found, known in zip(texts, spans, abbrevs, strict=True):
        if known:
            _spread_abbreviations(text, found, known)
        yield found


def _spread_abbreviations(text: str, spans: list[dict[str, Any]], known: dict[str, Entry]) -> None:
    """Tag every other occurrence of a defined short form (replacing a span of exactly that text)."""
    exact = {(s["start"], s["end"]): s for s in spans}
    taken = sorted(exact)  # non-overlapping (start, end), sorted
    alternatives = "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
    for m in re.finditer(rf"(?<!\w)(?:{alternatives})(?!\w)", text):
        short = m.group()
        entry = known[short]
        a, b = m.span()
        span = exact.get((a, b))
        if span is not None:
            span.update(concept_id=entry.concept_id, level=entry.level)
            continue
        k = bisect.bisect_left(taken, (a, b))
        if (k > 0 and taken[k - 1][1] > a) or (k < len(taken) and taken[k][0] < b):
            continue
        taken.insert(k, (a, b))
        new = {"start": a, "end": b, "text": short, "concept_id": entry.concept_id, "level": entry.level}
        spans.append(new)
        exact[(a, b)] = new
    spans.sort(key=lambda s: s["start"])


def tag_text(nlp: Language, text: str) -> list[dict[str, Any]]:
    """Concept spans of one text as char-offset dicts (long texts are split into paragraphs first).

    Examples
    --------
    >>> from ontology.graph import ConceptGraph
    >>> cg = ConceptGraph()
    >>> cg.add_concept("X:1", "Panic Disorder")
    >>> tag_text(make_pipeline(Lexicon.from_graph(cg, {"X:1": 4})), "Panic disorders (PD).\\n\\nPD again.")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'start': 0, 'end': 15, 'text': 'Panic disorders', 'concept_id': 'X:1', 'level': 4},
     {'start': 17, 'end': 19, 'text': 'PD', 'concept_id': 'X:1', 'level': 4},
     {'start': 23, 'end': 25, 'text': 'PD', 'concept_id': 'X:1', 'level': 4}]
    """
    return next(tag_texts(nlp, [text]))
