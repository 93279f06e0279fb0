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
7. British spellings become American ones, word by word (:func:`american`): ``haemorrhage`` → ``hemorrhage``,
   ``oesophagus`` → ``esophagus``, ``tumour`` → ``tumor``, ``sulphate`` → ``sulfate``, ``hospitalised`` →
   ``hospitalized``, ``centre`` → ``center``, ``aluminium`` → ``aluminum``. The rules are patterns of medical
   vocabulary (``haem``, ``aemia``, ``paed``, ``oe`` in ``oedema``/``oestrogen``/``diarrhoea``…) and word lists
   (``-our``, ``-ise``, ``-re`` stems), not a general English speller.

:func:`name_keys` gives every normalised form of one concept name: as written, with a MeSH-style comma
inversion undone (``Stress Disorders, Post-Traumatic`` → ``post traumatic stress disorder``) and with
hyphenated words also written together (``posttraumatic``).

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

#: whole words spelt differently (British → American) that no pattern below covers
_AMERICAN_WORDS = {
    "aluminium": "aluminum",
    "ageing": "aging",
    "programme": "program",
    "programmes": "programs",
    "grey": "gray",
    "mould": "mold",
    "moulds": "molds",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
    "catalogue": "catalog",
    "analogue": "analog",
    "analogues": "analogs",
    "homologue": "homolog",
    "homologues": "homologs",
    "defence": "defense",
    "defences": "defenses",
    "licence": "license",
    "offence": "offense",
}
_AMERICAN_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"aemi(a|as|c)$"), r"emi\1"),
    (re.compile(r"haem"), "hem"),
    (re.compile(r"paed"), "ped"),
    (re.compile(r"aesth"), "esth"),
    (re.compile(r"^aetiol"), "etiol"),
    (re.compile(r"^(c|f|gyn|pr)ae"), r"\1e"),
    (re.compile(r"^oe(dem|soph|str|stradiol)"), r"e\1"),
    (re.compile(r"^foet"), "fet"),
    (re.compile(r"^coeli"), "celi"),
    (re.compile(r"^homoeo"), "homeo"),
    (re.compile(r"amoeb"), "ameb"),
    (re.compile(r"(rrh|pn)oea(s|l)?$"), r"\1ea\2"),
    (re.compile(r"sulph"), "sulf"),
    (
        re.compile(
            r"^(tum|behavi|col|hum|lab|od|vap|rum|fav|hon|neighb|flav|sav|harb|arm|vig|rig|ferv|splend|endeav)our"
        ),
        r"\1or",
    ),
    (re.compile(r"^(cent|fib|lit|met|calib|lust|theat|spect)re(s|d)?$"), r"\1er\2"),
    (
        re.compile(
            r"^(hospital|immun|sensit|desensit|stabil|organ|catheter|random|optim|minim|recogn|normal|standard"
            r"|vascular|revascular|neutral|crystall|local|general|steril|anesthet|hypnot|ion|oxid|colon|util"
            r"|mobil|immobil|fertil|visual|real|special|central|polymer|lyophil|pasteur|vapor|cauter|homogen"
            r"|hybrid|categor|character|emphas|summar|metabol|traumat|stigmat|institutional|hospitalis)is"
            r"(e|ed|es|ing|ation|ations|er|ers)$"
        ),
        r"\1iz\2",
    ),
    (re.compile(r"^(\w{2,})lys(e|ed|es|ing)$"), r"\1lyz\2"),
]

_AMERICAN_HINT = re.compile(
    r"ae|oe|sulph|our|re[sd]?$|is(e|ed|es|ing|ation|ations|er|ers)$|lys(e|ed|es|ing)$"
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


@lru_cache(maxsize=1 << 16)
def american(word: str) -> str:
    """The American spelling of one lower-case word by the rules of step 7 (the word itself otherwise).

    Examples
    --------
    >>> [american(w) for w in ["haemorrhage", "anaemia", "oedema", "diarrhoea", "tumours", "sulphate",
    ...                        "hospitalised", "centre", "paediatric", "analysed", "disease", "arise"]]
    ... # doctest: +NORMALIZE_WHITESPACE
    ['hemorrhage', 'anemia', 'edema', 'diarrhea', 'tumors', 'sulfate', 'hospitalized', 'center',
     'pediatric', 'analyzed', 'disease', 'arise']
    """
    if word in _AMERICAN_WORDS:
        return _AMERICAN_WORDS[word]
    if not word.isalpha() or not _AMERICAN_HINT.search(word):
        return word
    for pattern, repl in _AMERICAN_PATTERNS:
        word = pattern.sub(repl, word)
    return word


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
    return " ".join(singular(american(w)) for w in words)


_HYPHEN_IN_WORD = re.compile(r"(?<=\w)-(?=\w)")


def name_keys(name: str) -> set[str]:
    """Every normalised form of one concept name: as written, comma-inverted, hyphenated words joined.

    Examples
    --------
    >>> sorted(name_keys("Stress Disorders, Post-Traumatic"))  # doctest: +NORMALIZE_WHITESPACE
    ['post traumatic stress disorder', 'posttraumatic stress disorder', 'stress disorder post traumatic',
     'stress disorder posttraumatic']
    """
    forms = {name}
    parts = [p.strip() for p in name.split(",")]
    if len(parts) > 1 and all(parts):
        forms.add(" ".join(reversed(parts)))
    for form in list(forms):
        if _HYPHEN_IN_WORD.search(form):
            forms.add(_HYPHEN_IN_WORD.sub("", form))
    return {k for k in (normalize(f) for f in forms) if k}


#: names up to this many characters may be abbreviation-like (:func:`abbreviation_case`)
ABBREVIATION_CHARS = 5


def abbreviation_case(name: str, max_chars: int = ABBREVIATION_CHARS) -> str | None:
    """The letters and digits a short abbreviation-like name must be written with, or None.

    A name of at most ``max_chars`` characters is abbreviation-like when it has two or more upper-case letters
    (``AIDS``, ``NO``, ``5-FU``, ``CsA``), or two characters and one upper-case letter (``Li``, ``Na``, ``Hb``): such
    a name matches only text written in the same case ("NO", "NO's"; not "no"). A Title-Case word (``Air``,
    ``Iron``) is no abbreviation.

    Examples
    --------
    >>> [abbreviation_case(n) for n in ["NO", "Li", "5-FU", "CsA", "Air", "Iron", "NSCLCs", "tin"]]
    ['NO', 'Li', '5FU', 'CsA', None, None, None, None]
    """
    name = name.strip()
    if not name or len(name) > max_chars:
        return None
    upper = sum(c.isupper() for c in name)
    if upper >= 2 or (upper == 1 and len(name) <= 2):
        return "".join(c for c in name if c.isalnum())
    return None


def written_as(text: str, case: str) -> bool:
    """True when ``text`` spells the abbreviation ``case`` (letters and digits only, an optional plural ``s``).

    Examples
    --------
    >>> written_as("NOs", "NO"), written_as("no", "NO"), written_as("5-FU", "5FU")
    (True, False, True)
    """
    letters = "".join(c for c in text if c.isalnum())
    return letters == case or letters == case + "s"
