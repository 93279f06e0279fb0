"""One text normalisation for concept search and (later) the hierarchy tagger.

Rules, applied in this order by :func:`normalize`:

1. Unicode NFKC (full-width letters, ligatures, compatibility forms such as ``ﬁ`` → ``fi``).
2. Case folding (``str.casefold``: ``Straße`` → ``strasse``).
3. Possessive ``'s`` / ``’s`` at the end of a word is removed (``Alzheimer's`` → ``alzheimer``).
4. Hyphens and dashes (``-‐‑‒–—−``), underscores, slashes and the punctuation ``,;:()[]{}"'`` become spaces,
   so ``non-small-cell`` equals ``non small cell``.
5. Runs of white space collapse to one space; leading/trailing space is dropped.
6. Simple plurals, word by word, for purely alphabetic words of more than three letters that are not in
   :data:`PLURAL_EXCEPTIONS`: ``-ies`` → ``-y``; ``-sses``, ``-xes``, ``-ches``, ``-shes`` and (from seven
   letters) ``-uses`` lose ``-es`` (``viruses`` → ``virus``); from eight letters ``-oses`` → ``-osis``
   (``psychoses`` → ``psychosis``); a final
   ``-s`` is dropped unless the word ends in ``-ss``, ``-us`` or ``-is`` (``virus``, ``diagnosis``, ``stress``
   stay as they are).

The function is deterministic and idempotent, so the same call on the index side and on the query side
makes ``Anxiety-Disorders`` find ``anxiety disorder``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Words ending in ``s`` that are singular (mostly disease names) and keep their ``s``.
PLURAL_EXCEPTIONS = frozenset(
    {
        "aids",
        "overdoses",
        "diabetes",
        "herpes",
        "measles",
        "mumps",
        "rabies",
        "rickets",
        "scabies",
        "series",
        "species",
        "tetanus",
        "lupus",
        "physics",
        "genetics",
        "pediatrics",
        "paediatrics",
        "obstetrics",
        "orthopedics",
        "orthopaedics",
        "geriatrics",
        "diagnostics",
        "therapeutics",
        "ethics",
        "statistics",
        "mathematics",
        "economics",
    }
)

_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_SEPARATORS = re.compile(r"[\-‐‑‒–—―−_/,;:()\[\]{}\"'’‘“”]+")
_SPACES = re.compile(r"\s+")


def singular(word: str) -> str:
    """The singular of one lower-case word by the simple rules above.

    Examples
    --------
    >>> [singular(w) for w in ["disorders", "therapies", "abscesses", "viruses", "causes", "psychoses", "diabetes"]]
    ['disorder', 'therapy', 'abscess', 'virus', 'cause', 'psychosis', 'diabetes']
    """
    if len(word) <= 3 or not word.isalpha() or word in PLURAL_EXCEPTIONS or not word.endswith("s"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")) or (word.endswith("uses") and len(word) >= 7):
        return word[:-2]
    if word.endswith("oses") and len(word) >= 8:
        return word[:-2] + "is"
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


@lru_cache(maxsize=1 << 18)
def normalize(text: str) -> str:
    """Normalise a label, synonym or query for matching.

    Examples
    --------
    >>> normalize("Anxiety-Disorders")
    'anxiety disorder'
    >>> normalize("Alzheimer's Disease") == normalize("alzheimer disease")
    True
    >>> normalize("ＣＯＶＩＤ–19  Pneumonias")
    'covid 19 pneumonia'
    >>> normalize(normalize("Non-Small-Cell Lung Carcinomas"))
    'non small cell lung carcinoma'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _POSSESSIVE.sub(r"\1", text)
    text = _SEPARATORS.sub(" ", text)
    words = _SPACES.sub(" ", text).strip().split(" ")
    return " ".join(singular(w) for w in words)
