"""Match keys for concept labels and synonyms, and the token-sequence trie the tagger walks.

A *key* is a tuple of normalised words (:func:`ontology.normalize.normalize`): case folded,
hyphens and slashes split like spaces, possessive ``'s`` dropped, simple plurals reduced
(``disorders`` → ``disorder``, ``therapies`` → ``therapy``). Text tokens are normalised by the same function, so a label
matches its case, hyphen/space and plural variants. Inverted labels (MeSH
``Stress Disorders, Post-Traumatic``) also get their natural order
(``Post-Traumatic Stress Disorders``), and hyphenated words also match written together
(``posttraumatic``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph
from ontology.normalize import normalize

#: value stored under this key of a trie node when a key ends there
END = ""
#: words of a token that must break a match (punctuation other than hyphens and possessives)
BARRIER = ("\x00",)
#: synonym scopes used for matching by default (``BROAD`` synonyms name a more general concept)
DEFAULT_SCOPES = ("EXACT", "RELATED", "NARROW")


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


def label_variants(label: str) -> set[tuple[str, ...]]:
    """All keys of one label: as written, comma-inverted, hyphenated words joined.

    Examples
    --------
    >>> sorted(label_variants("Stress Disorders, Post-Traumatic"))  # doctest: +NORMALIZE_WHITESPACE
    [('post', 'traumatic', 'stress', 'disorder'), ('posttraumatic', 'stress', 'disorder'),
     ('stress', 'disorder', 'post', 'traumatic'), ('stress', 'disorder', 'posttraumatic')]
    """
    forms = {label}
    parts = [p.strip() for p in label.split(",")]
    if len(parts) > 1 and all(parts):
        forms.add(" ".join(reversed(parts)))
    for form in list(forms):
        if re.search(r"\w-\w", form):
            forms.add(re.sub(r"(?<=\w)-(?=\w)", "", form))
    keys = {term_words(f) for f in forms}
    return {k for k in keys if k and not all(w in STOP_WORDS for w in k)}


@dataclass(frozen=True)
class Entry:
    """What a key resolves to: a concept, its level and role, and whether the key came from its label."""

    concept_id: str
    level: int
    role: int = 0
    from_label: bool = True


@dataclass
class Lexicon:
    """Keys → concepts, held as a trie of normalised words for longest-match lookup.

    Ambiguous keys resolve to the more specific concept (deeper level), then to a key taken from
    a label over one taken from a synonym, then to the smaller id.
    """

    trie: dict[str, Any] = field(default_factory=dict)
    entries: dict[tuple[str, ...], Entry] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)

    def add(self, key: tuple[str, ...], entry: Entry) -> None:
        """Add one key; keep the better entry when the key is already present."""
        old = self.entries.get(key)
        if old is not None and not _better(entry, old):
            return
        self.entries[key] = entry
        node = self.trie
        for w in key:
            node = node.setdefault(w, {})
        node[END] = entry

    def lookup(self, words: Iterable[str]) -> Entry | None:
        """The entry of exactly this word sequence, or None."""
        return self.entries.get(tuple(words))

    @property
    def concepts(self) -> int:
        """Number of distinct concepts reachable through some key."""
        return len({e.concept_id for e in self.entries.values()})

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_graph(
        cls,
        cg: ConceptGraph,
        levels: Mapping[str, int],
        roles: Mapping[str, int] | None = None,
        *,
        synonym_scopes: Iterable[str] = DEFAULT_SCOPES,
        include_obsolete: bool = False,
    ) -> Lexicon:
        """Build the lexicon of every labelled concept of ``cg``.

        Parameters
        ----------
        cg : ConceptGraph
            The concept graph (labels and ``synonyms`` as ``(text, scope)`` pairs).
        levels : Mapping[str, int]
            Level 1–4 of each concept (0 or missing: no level).
        roles : Mapping[str, int], optional
            Role of each concept (0 neutral, 1 preserve, 2 target); neutral when missing.
        synonym_scopes : iterable of str
            Synonym scopes that become keys.
        include_obsolete : bool
            Also match obsolete concepts.

        Raises
        ------
        InputError
            When no concept of the graph has a label.
        """
        scopes = set(synonym_scopes)
        lex = cls()
        roles = roles or {}
        for cid, attrs in cg.graph.nodes(data=True):
            if attrs.get("obsolete") and not include_obsolete:
                continue
            label = (attrs.get("label") or "").strip()
            if not label:
                lex.unlabelled.append(cid)
                continue
            level = int(levels.get(cid, 0) or 0)
            role = int(roles.get(cid, 0))
            for key in label_variants(label):
                lex.add(key, Entry(cid, level, role, True))
            for text, scope in attrs.get("synonyms") or ():
                if scope in scopes and text:
                    for key in label_variants(text):
                        lex.add(key, Entry(cid, level, role, False))
        if not lex.entries:
            shown = ", ".join(lex.unlabelled[:3])
            raise InputError(f"no concept has a label to match (unlabelled: {shown or 'graph is empty'})")
        return lex


def _better(new: Entry, old: Entry) -> bool:
    """Deeper level first, then label keys over synonym keys, then the smaller id."""
    if (new.level, new.from_label) != (old.level, old.from_label):
        return (new.level, new.from_label) > (old.level, old.from_label)
    return new.concept_id < old.concept_id
