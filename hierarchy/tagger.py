"""A spaCy tagger built from a concept graph, with no model download.

Pipeline: ``spacy.blank("en")`` + scispaCy's ``combined_rule_tokenizer`` (a hyphen between letters split off;
registered as ``medunlearn.Tokenizer.v1``) + scispaCy's abbreviation detector + our component
``medunlearn_concepts`` (old name ``concept_matcher``), registered through the ``spacy_factories`` entry point
so that ``nlp.add_pipe("medunlearn_concepts", config={"source": GRAPH})`` works without importing this module.
Its lexicon is saved with the pipeline (``to_disk``/``to_bytes``). The matcher walks a trie of normalised
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import spacy
import srsly
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.attrs import IDX, LENGTH, ORTH
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import filter_spans

from hierarchy.abbreviations import abbreviation_pairs
from hierarchy.lexicon import BARRIER, END, Entry, Lexicon, TaggingRules, term_words
from hierarchy.spans import SPANS_KEY, make_span
from ontology.common.errors import MedunlearnError
from ontology.normalize import written_as

# scispaCy's detector runs an empty global matcher on documents without abbreviations
warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
#: tokens that carry no words but do not break a match (``Alzheimer 's disease``, ``post - traumatic``)
_TRANSPARENT = frozenset({"'s", "’s", "'", "’", "-"})
#: a hyphen between letters is a token of its own: curated corpora annotate "cocaine" in "cocaine-dependent"
HYPHEN_INFIX = r"(?<=[^\W\d_])-(?=[^\W\d_])"
_CACHE_LIMIT = 500_000
#: the factory's name; ``concept_matcher`` is its older spelling, kept working
FACTORY = "medunlearn_concepts"
TOKENIZER = "medunlearn.Tokenizer.v1"
_DEFAULTS: dict[str, Any] = {
    "source": None,
    "spans_key": SPANS_KEY,
    "ents": False,
    "scope": None,
    "rules": {},
}


def make_concepts(
    nlp: Language,
    name: str,
    source: str | None,
    spans_key: str,
    ents: bool,
    scope: list[str] | None,
    rules: dict[str, Any],
) -> ConceptMatcher:
    """spaCy factory of :class:`ConceptMatcher` (``nlp.add_pipe("medunlearn_concepts", config={"source": …})``).

    ``source`` is a graph or hierarchy directory (or an ontology file), read on first use; ``rules`` holds
    :class:`~hierarchy.lexicon.TaggingRules` keys and ``scope`` forget-scope items (``docs/hierarchy.md``).
    The lexicon is saved with the pipeline: a loaded pipeline no longer needs ``source``.
    """
    return ConceptMatcher(nlp, name, source=source, spans_key=spans_key, ents=ents, scope=scope, rules=rules)


Language.factory(FACTORY, default_config=_DEFAULTS, func=make_concepts)
Language.factory("concept_matcher", default_config=_DEFAULTS, func=make_concepts)


class ConceptMatcher:
    """Longest-match concept tagger over a :class:`~hierarchy.lexicon.Lexicon` trie."""

    def __init__(
        self,
        nlp: Language,
        name: str = FACTORY,
        *,
        source: str | None = None,
        spans_key: str = SPANS_KEY,
        ents: bool = False,
        scope: list[str] | None = None,
        rules: Mapping[str, Any] | None = None,
    ) -> None:
        from pydantic import ValidationError

        self.name = name
        self.spans_key = spans_key
        self.ents = ents
        self.source = source
        self.scope = list(scope) if scope is not None else None
        try:
            self.rules = TaggingRules.model_validate(dict(rules or {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise MedunlearnError(f"{name}: rules.{key}: {err['msg']}") from None
        self.vocab = nlp.vocab
        self._lexicon: Lexicon | None = None
        self.proper_names = self.rules.proper_names
        self._words: dict[int, tuple[str, ...]] = {}

    @property
    def lexicon(self) -> Lexicon:
        """The lexicon: set, loaded with the pipeline, or built from ``source`` on first use."""
        if self._lexicon is None:
            if self.source is None:
                raise MedunlearnError(
                    f"{self.name} has no lexicon: give it a source (config={{'source': GRAPH}}) "
                    "or build the pipeline with build_nlp()"
                )
            self._lexicon = build_lexicon(self.source, rules=self.rules, scope=self.scope)[0]
        return self._lexicon

    def set_lexicon(self, lexicon: Lexicon, *, proper_names: bool = True) -> None:
        """Attach the lexicon to match; ``proper_names``: see :attr:`TaggingRules.proper_names`."""
        self._lexicon = lexicon
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
        if self.ents:
            doc.ents = filter_spans([*doc.ents, *spans])
        return doc

    def _inherit_abbreviations(
        self, doc: Doc, chosen: dict[int, tuple[int, Entry]], taken: bytearray
    ) -> None:
        inherited: dict[str, tuple[str, int, int]] = {}
        for short, long in abbreviation_pairs(doc):
            entry = None
            if long.start in chosen and chosen[long.start][0] == long.end:
                entry = chosen[long.start][1]
            if entry is None:
                entry = self.lexicon.lookup(w for t in long for w in term_words(t.text))
            if entry is None:
                continue
            s, e = short.start, short.end
            inherited[short.text] = (entry.concept_id, entry.level, entry.role)
            exact = s in chosen and chosen[s][0] == e
            if exact or not any(taken[s:e]):
                taken[s:e] = b"\x01" * (e - s)
                chosen[s] = (e, entry)
        doc._.concept_abbreviations = inherited

    # -- serialisation: the lexicon travels with the pipeline (nlp.to_disk / spacy.load, nlp.to_bytes)
    def _state(self) -> dict[str, Any]:
        return {"lexicon": self.lexicon.to_dict(), "proper_names": self.proper_names}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.set_lexicon(Lexicon.from_dict(state["lexicon"]), proper_names=state["proper_names"])

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return cast(bytes, srsly.msgpack_dumps(self._state()))

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> ConceptMatcher:
        self._set_state(srsly.msgpack_loads(data))
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_msgpack(path / "lexicon.msgpack", self._state())

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> ConceptMatcher:
        self._set_state(srsly.read_msgpack(Path(path) / "lexicon.msgpack"))
        return self


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


def make_tokenizer(nlp: Language) -> Any:
    """scispaCy's ``combined_rule_tokenizer`` that also splits a hyphen between two letters (:data:`HYPHEN_INFIX`).

    Registered as the spaCy tokenizer ``medunlearn.Tokenizer.v1``, so that a saved pipeline loads with it.

    Examples
    --------
    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> [t.text for t in make_tokenizer(nlp)("cocaine-dependent 5-FU users")]
    ['cocaine', '-', 'dependent', '5-FU', 'users']
    """
    # spaCy calls this while it builds nlp, before nlp.tokenizer exists: scispaCy reads the default's rules
    if not hasattr(nlp, "tokenizer"):
        nlp.tokenizer = spacy.registry.tokenizers.get("spacy.Tokenizer.v1")()(nlp)
    with warnings.catch_warnings():  # scispaCy's infix regex trips a FutureWarning of the re module
        warnings.simplefilter("ignore", FutureWarning)
        tokenizer = combined_rule_tokenizer(nlp)
        infixes = tokenizer.infix_finditer.__self__.pattern  # type: ignore[union-attr]
        tokenizer.infix_finditer = re.compile(f"{infixes}|{HYPHEN_INFIX}").finditer
    return tokenizer


@spacy.registry.tokenizers(TOKENIZER)
def create_tokenizer() -> Callable[[Language], Any]:
    """The tokenizer factory spaCy's config names ``medunlearn.Tokenizer.v1``."""
    return make_tokenizer


def blank_pipeline(*, abbreviations: bool = True) -> Language:
    """``spacy.blank("en")`` with the tagger's tokenizer and, by default, the abbreviation detector."""
    nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER}}})
    if abbreviations:
        nlp.add_pipe("paren_abbreviation_detector", config={"make_serializable": True})
    return nlp


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
    nlp = blank_pipeline(abbreviations=abbreviations)
    matcher = cast(ConceptMatcher, nlp.add_pipe(FACTORY, config={"rules": {"proper_names": proper_names}}))
    matcher.set_lexicon(lexicon, proper_names=proper_names)
    return nlp


def build_lexicon(
    source: Any, *, rules: TaggingRules | None = None, scope: Iterable[str] | None = None
) -> tuple[Lexicon, dict[str, int], Mapping[str, int]]:
    """The lexicon of a graph or hierarchy (object or directory), with each concept's level and role.

    ``scope`` (forget-scope items) gives spans their role and tags its concepts even inside a subtree the
    ``rules`` exclude.
    """
    from hierarchy.store import open_hierarchy

    hier = open_hierarchy(source)
    cg = hier.graph
    levels = {cid: hier.level(cid) for cid in cg}
    roles: Mapping[str, int] = {}
    include: frozenset[str] = frozenset()
    if scope is not None:
        from hierarchy.roles import assign_roles
        from hierarchy.scope import Scope

        resolved = Scope.parse(list(scope), hier)
        roles = {cid: r.role for cid, r in assign_roles(hier, resolved).items()}
        include = resolved.concepts
    lexicon = Lexicon.from_graph(cg, levels, roles, rules=rules or TaggingRules(), include=include)
    return lexicon, levels, roles


def build_nlp(
    source: Any,
    *,
    abbreviations: bool = True,
    linker: bool = False,
    scope: Iterable[str] | None = None,
    rules: TaggingRules | None = None,
    ents: bool = False,
) -> Language:
    """The tagging pipeline for a concept graph or hierarchy.

    The pipeline saves and loads (``nlp.to_disk(DIR)``, ``spacy.load(DIR)``) without ``source``, and runs
    under ``nlp.pipe(n_process=…)``.

    Parameters
    ----------
    source : Hierarchy, ConceptGraph, or path
        A hierarchy (levels known), a graph (levels computed with the automatic rule), or a
        HIER / GRAPH directory.
    abbreviations : bool
        Run scispaCy's abbreviation detector so that short forms inherit their long form's concept.
    linker : bool
        Add the fuzzy fallback :class:`~hierarchy.linker.ConceptLinker` (scispaCy's candidate generator over
        the graph's own names) for word runs the exact matcher leaves untagged.
    scope : iterable of str, optional
        Forget scope: spans then carry ``span._.role`` (otherwise every role is 0), and its concepts are
        tagged even inside a subtree the rules exclude.
    rules : TaggingRules, optional
        Which names become keys (:class:`hierarchy.lexicon.TaggingRules`; its defaults when None).
    ents : bool
        Also put the concept spans into ``doc.ents``.
    """
    from hierarchy.store import open_hierarchy

    rules = rules or TaggingRules()
    scope = list(scope) if scope is not None else None
    hier = open_hierarchy(source)
    lexicon, levels, roles = build_lexicon(hier, rules=rules, scope=scope)
    nlp = blank_pipeline(abbreviations=abbreviations)
    config = {
        "source": str(source) if isinstance(source, str | Path) else None,
        "rules": rules.model_dump(mode="json"),
        "scope": scope,
        "ents": ents,
    }
    matcher = cast(ConceptMatcher, nlp.add_pipe(FACTORY, config=config))
    matcher.set_lexicon(lexicon, proper_names=rules.proper_names)
    if linker:
        from hierarchy.linker import ConceptLinker, graph_names

        fuzzy = cast(ConceptLinker, nlp.add_pipe("concept_linker", after=FACTORY))
        fuzzy.set_names(graph_names(hier.graph, levels, roles))
    return nlp


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
    abbrevs: list[dict[str, Any]] = [{} for _ in texts]
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


def _spread_abbreviations(text: str, spans: list[dict[str, Any]], known: dict[str, Any]) -> None:
    """Tag every other occurrence of a defined short form (replacing a span of exactly that text)."""
    exact = {(s["start"], s["end"]): s for s in spans}
    taken = sorted(exact)  # non-overlapping (start, end), sorted
    alternatives = "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
    for m in re.finditer(rf"(?<!\w)(?:{alternatives})(?!\w)", text):
        short = m.group()
        concept_id, level = known[short][:2]
        a, b = m.span()
        span = exact.get((a, b))
        if span is not None:
            span.update(concept_id=concept_id, level=level)
            continue
        k = bisect.bisect_left(taken, (a, b))
        if (k > 0 and taken[k - 1][1] > a) or (k < len(taken) and taken[k][0] < b):
            continue
        taken.insert(k, (a, b))
        new = {"start": a, "end": b, "text": short, "concept_id": concept_id, "level": level}
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
