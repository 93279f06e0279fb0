"""Match keys for concept labels and synonyms, the rules that keep a key out, and the trie the tagger walks.

A *key* is a tuple of normalised words (:func:`ontology.normalize.normalize`): case folded,
hyphens and slashes split like spaces, possessive ``'s`` dropped, simple plurals reduced
(``disorders`` → ``disorder``, ``therapies`` → ``therapy``), British spellings made American
(``haemorrhage`` → ``hemorrhage``). Text tokens are normalised by the same function, so a label
matches its case, hyphen/space, plural and spelling variants. Inverted labels (MeSH
``Stress Disorders, Post-Traumatic``) also get their natural order
(``Post-Traumatic Stress Disorders``), and hyphenated words also match written together
(``posttraumatic``): :func:`ontology.normalize.name_keys`.

:class:`TaggingRules` decides which keys exist (``docs/hierarchy.md``, "Tagging rules"): synonym scopes,
subtrees that are no concept spans unless a scope asks for them (publication types, named groups …),
an explicit stoplist, a stoplist learnt from annotated corpora (names that curators rarely linked where
they were written), and short abbreviations that match only in their own case (``NO`` nitric oxide, not
"no").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from spacy.lang.en.stop_words import STOP_WORDS

from ontology.common.config import StrictModel
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph
from ontology.normalize import abbreviation_case, name_keys, normalize

#: value stored under this key of a trie node when a key ends there
END = ""
#: words of a token that must break a match (punctuation other than hyphens and possessives)
BARRIER = ("\x00",)
#: synonym scopes used for matching by default (``BROAD`` synonyms name a more general concept)
DEFAULT_SCOPES = ("EXACT", "RELATED", "NARROW")
#: generic and non-clinical subtrees: MeSH V Publication Characteristics ("News", "Forms"), M Named Groups
#: ("Patients", "Child"), K Humanities ("History", "Life"), G01.910 Time, D000388 Air
DEFAULT_EXCLUDE = ("V", "M", "K", "G01.910", "MESH:D000388")


def term_words(text: str) -> tuple[str, ...]:
    """Normalised words of a label or of one text token (:func:`ontology.normalize.normalize`, split).

    Examples
    --------
    >>> term_words("Stress Disorders, Post-Traumatic")
    ('stress', 'disorder', 'post', 'traumatic')
    >>> term_words("Alzheimer's Disease"), term_words("AIDS")
    (('alzheimer', 'disease'), ('aids',))
    """
    return tuple(normalize(text).split())


def label_variants(label: str, *, keep_stop_words: bool = False) -> set[tuple[str, ...]]:
    """All keys of one label: as written, comma-inverted, hyphenated words joined; keys made only of stop words
    are dropped unless ``keep_stop_words`` (an abbreviation matched in its own case, ``NO``, may be one).

    Examples
    --------
    >>> sorted(label_variants("Stress Disorders, Post-Traumatic"))  # doctest: +NORMALIZE_WHITESPACE
    [('post', 'traumatic', 'stress', 'disorder'), ('posttraumatic', 'stress', 'disorder'),
     ('stress', 'disorder', 'post', 'traumatic'), ('stress', 'disorder', 'posttraumatic')]
    """
    keys = {tuple(k.split()) for k in name_keys(label)}
    return {k for k in keys if k and (keep_stop_words or not all(w in STOP_WORDS for w in k))}


class TaggingRules(StrictModel):
    """Which names become match keys (YAML keys of the same names; ``docs/hierarchy.md``, "Tagging rules")."""

    synonym_scopes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SCOPES), description="synonym scopes that become keys"
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="subtrees (MeSH tree numbers or concept ids) that are no concept spans unless a scope "
        "asks for them; items absent from the graph are ignored",
    )
    stoplist: list[str] = Field(
        default_factory=list, description="names never tagged (compared after normalisation)"
    )
    learnt_stoplist: bool = Field(
        True, description="drop names that annotated corpora (corpus_evidence) rarely link where written"
    )
    stoplist_min_occurrences: int = Field(
        3, ge=1, description="learnt stoplist: a name must be written at least this often to be judged"
    )
    stoplist_max_rate: float = Field(
        0.25, ge=0, le=1, description="learnt stoplist: dropped when linked/occurrences is below this"
    )
    case_sensitive_chars: int = Field(
        5, ge=0, description="abbreviation-like names up to this length match only in their own case"
    )
    proper_names: bool = Field(
        True,
        description="a one-word match in Title Case beside another untagged Title-Case word ('Grid Iron') "
        "is part of a name, not a concept span",
    )


@dataclass(frozen=True)
class Entry:
    """What a key resolves to: a concept, its level and role, whether the key came from its label, how often
    annotated corpora linked the key to the concept, and the case a short abbreviation must be written in."""

    concept_id: str
    level: int
    role: int = 0
    from_label: bool = True
    linked: int = 0
    case: str | None = None


@dataclass
class Lexicon:
    """Keys → concepts, held as a trie of normalised words for longest-match lookup.

    A key may have several entries (alternatives), best first: the one annotated corpora linked more often,
    then the more specific concept (deeper level), then a key taken from a label over one taken from a
    synonym, then the smaller id. The tagger takes the first alternative whose case constraint the text meets.
    ``dropped`` counts the keys the rules kept out, by reason; ``stopped`` lists the learnt stoplist as
    ``(key, concept, linked, occurrences)``.
    """

    trie: dict[str, Any] = field(default_factory=dict)
    entries: dict[tuple[str, ...], list[Entry]] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    stopped: list[tuple[str, str, int, int]] = field(default_factory=list)

    def add(self, key: tuple[str, ...], entry: Entry) -> None:
        """Add one entry under ``key`` (an entry of the same concept and case is replaced when worse)."""
        alts = self.entries.setdefault(key, [])
        for i, old in enumerate(alts):
            if old.concept_id == entry.concept_id and old.case == entry.case:
                if _rank(entry) < _rank(old):
                    alts[i] = entry
                break
        else:
            alts.append(entry)
        alts.sort(key=_rank)
        node = self.trie
        for w in key:
            node = node.setdefault(w, {})
        node[END] = tuple(alts)

    def lookup(self, words: Iterable[str]) -> Entry | None:
        """The best entry of exactly this word sequence (case constraints ignored), or None."""
        alts = self.entries.get(tuple(words))
        return alts[0] if alts else None

    @property
    def concepts(self) -> int:
        """Number of distinct concepts reachable through some key."""
        return len({e.concept_id for alts in self.entries.values() for e in alts})

    def __len__(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and dicts (msgpack/JSON-ready) from which :meth:`from_dict` rebuilds this lexicon."""
        return {
            "entries": [
                [list(key), [[e.concept_id, e.level, e.role, e.from_label, e.linked, e.case] for e in alts]]
                for key, alts in self.entries.items()
            ],
            "unlabelled": list(self.unlabelled),
            "dropped": dict(self.dropped),
            "stopped": [list(s) for s in self.stopped],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lexicon:
        """The lexicon :meth:`to_dict` described (alternatives keep their order).

        Examples
        --------
        >>> lex = Lexicon()
        >>> lex.add(("panic", "disorder"), Entry("X:1", 4))
        >>> again = Lexicon.from_dict(lex.to_dict())
        >>> again.entries == lex.entries and again.trie == lex.trie
        True
        """
        lex = cls(
            unlabelled=list(data.get("unlabelled", [])),
            dropped=dict(data.get("dropped", {})),
            stopped=[(str(a), str(b), int(c), int(d)) for a, b, c, d in data.get("stopped", [])],
        )
        for words, alts in data["entries"]:
            key = tuple(words)
            entries = [Entry(c, int(lv), int(r), bool(fl), int(lk), case) for c, lv, r, fl, lk, case in alts]
            lex.entries[key] = entries
            node = lex.trie
            for w in key:
                node = node.setdefault(w, {})
            node[END] = tuple(entries)
        return lex

    @classmethod
    def from_graph(
        cls,
        cg: ConceptGraph,
        levels: Mapping[str, int],
        roles: Mapping[str, int] | None = None,
        *,
        rules: TaggingRules | None = None,
        include: Iterable[str] = (),
        include_obsolete: bool = False,
    ) -> Lexicon:
        """Build the lexicon of every labelled concept of ``cg``.

        Parameters
        ----------
        cg : ConceptGraph
            The concept graph (labels, ``synonyms`` as ``(text, scope)`` pairs, optional ``corpus_evidence``).
        levels : Mapping[str, int]
            Level 1–4 of each concept (0 or missing: no level).
        roles : Mapping[str, int], optional
            Role of each concept (0 neutral, 1 preserve, 2 target); neutral when missing.
        rules : TaggingRules, optional
            Which names become keys (defaults: :class:`TaggingRules`).
        include : iterable of str
            Concepts tagged even inside an ``exclude`` subtree (a forget scope's concepts).
        include_obsolete : bool
            Also match obsolete concepts.

        Raises
        ------
        InputError
            When no concept of the graph has a label.
        """
        rules = rules or TaggingRules()
        scopes = set(rules.synonym_scopes)
        excluded = excluded_concepts(cg, rules.exclude) - set(include)
        stop = {normalize(w) for w in rules.stoplist}
        lex = cls()
        roles = roles or {}
        dropped = {"excluded concept": 0, "stoplist": 0, "learnt stoplist": 0, "learnt stoplist (concept)": 0}
        for cid, attrs in cg.graph.nodes(data=True):
            if attrs.get("obsolete") and not include_obsolete:
                continue
            label = (attrs.get("label") or "").strip()
            if not label:
                lex.unlabelled.append(cid)
                continue
            if cid in excluded:
                dropped["excluded concept"] += 1
                continue
            level = int(levels.get(cid, 0) or 0)
            role = int(roles.get(cid, 0))
            evidence = _evidence(attrs)
            if rules.learnt_stoplist and evidence:
                linked = sum(a for a, _ in evidence.values())
                seen = sum(b for _, b in evidence.values())
                if seen >= rules.stoplist_min_occurrences and linked < rules.stoplist_max_rate * seen:
                    dropped["learnt stoplist (concept)"] += 1
                    lex.stopped.append(("*", cid, linked, seen))
                    continue
            names = [(label, True)] + [
                (text, False) for text, scope in attrs.get("synonyms") or () if scope in scopes and text
            ]
            for name, from_label in names:
                case = abbreviation_case(name, rules.case_sensitive_chars)
                for key in label_variants(name, keep_stop_words=case is not None):
                    joined = " ".join(key)
                    if joined in stop:
                        dropped["stoplist"] += 1
                        continue
                    linked, seen = evidence.get(joined, (0, 0))
                    if (
                        rules.learnt_stoplist
                        and seen >= rules.stoplist_min_occurrences
                        and linked < rules.stoplist_max_rate * seen
                    ):
                        dropped["learnt stoplist"] += 1
                        lex.stopped.append((joined, cid, linked, seen))
                        continue
                    lex.add(key, Entry(cid, level, role, from_label, linked, case))
        lex.dropped = dropped
        if not lex.entries:
            shown = ", ".join(lex.unlabelled[:3])
            raise InputError(f"no concept has a label to match (unlabelled: {shown or 'graph is empty'})")
        return lex


def _evidence(attrs: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``corpus_evidence`` of one concept summed over corpora: normalised name → (linked, occurrences)."""
    out: dict[str, tuple[int, int]] = {}
    for names in (attrs.get("corpus_evidence") or {}).values():
        for name, (linked, seen) in names.items():
            a, b = out.get(name, (0, 0))
            out[name] = (a + linked, b + seen)
    return out


def excluded_concepts(cg: ConceptGraph, items: Iterable[str]) -> set[str]:
    """Concepts under the ``exclude`` items: a tree-number prefix (``V``, ``G01.910``: every concept with a
    tree number at or below it) or a concept id (the concept and its descendants). Unknown items name nothing.
    """
    prefixes = []
    out: set[str] = set()
    for item in items:
        if item in cg.graph:
            out.add(item)
            out |= cg.descendants(item)
        else:
            prefixes.append(item)
    if prefixes:
        for cid, attrs in cg.graph.nodes(data=True):
            for tn in attrs.get("tree_numbers") or ():
                if any(tn == p or tn.startswith(p + ".") or (len(p) == 1 and tn[:1] == p) for p in prefixes):
                    out.add(cid)
                    break
    return out


def _rank(e: Entry) -> tuple[int, int, int, str]:
    """Sort key of alternatives: more corpus links, deeper level, label keys, smaller id first."""
    return (-e.linked, -e.level, -int(e.from_label), e.concept_id)
