"""Annotated corpora in PubTator format (BioCreative V CDR, NCBI Disease, …).

One block per document, blocks separated by a blank line::

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention text<TAB>type<TAB>id[|id…][<TAB>individual mentions]
    PMID<TAB>CID<TAB>chemical id<TAB>disease id          (relation lines: read past)

Offsets are character offsets into ``title + " " + abstract``. Several ids joined by ``|`` mark a
*composite* mention ("ocular and auditory toxicity"); its optional seventh field names each part
(``Ocular toxicity|auditory toxicity``). ``-1`` marks a mention linked to no concept.

A mention whose offsets do not cut its own text out of the document is skipped and reported as
``file:line: reason`` (``strict=True`` raises instead), like every other unreadable line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ontology.common.errors import InputError
from ontology.readers.provenance import Skips, read_text

_TEXT_LINE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")
#: a file is PubTator when one of its first lines looks like ``123|t|…``
SNIFF = re.compile(rb"^\d+\|[ta]\|", re.M)


@dataclass(frozen=True)
class Mention:
    """One annotated mention: char offsets into :attr:`PubtatorDoc.text`, its ids (``()`` when ``-1``)."""

    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]
    parts: tuple[str, ...] = ()
    line: int = 0

    @property
    def composite(self) -> bool:
        """True when the mention names several concepts (``D014786|D006311``)."""
        return len(self.ids) > 1


@dataclass
class PubtatorDoc:
    """One document: id, title, abstract and its mentions in file order."""

    doc_id: str
    title: str = ""
    abstract: str = ""
    mentions: list[Mention] = field(default_factory=list)

    @property
    def text(self) -> str:
        """``title + " " + abstract``: the string the offsets point into."""
        return f"{self.title} {self.abstract}" if self.abstract else self.title


@dataclass
class PubtatorCorpus:
    """The documents of one file, with what was skipped and how many relation lines were read past."""

    path: Path
    docs: list[PubtatorDoc]
    skipped: list[str] = field(default_factory=list)
    relations: int = 0

    def __len__(self) -> int:
        return len(self.docs)


def read_pubtator(path: str | Path, strict: bool = False) -> PubtatorCorpus:
    """Read a PubTator file.

    Raises
    ------
    InputError
        For a missing, empty or non-UTF-8 file, a file with no ``PMID|t|`` line, or (``strict``) the first
        malformed line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.txt"
    >>> _ = p.write_text("1|t|Lithium toxicity.\\n1|a|None.\\n1\\t0\\t7\\tLithium\\tChemical\\tD008094\\n")
    >>> doc = read_pubtator(p).docs[0]
    >>> doc.text, doc.mentions[0].ids
    ('Lithium toxicity. None.', ('D008094',))
    """
    path = Path(path)
    skips = Skips(path, strict)
    text = read_text(path, skips)
    docs: dict[str, PubtatorDoc] = {}
    pending: list[tuple[str, list[str], int]] = []
    relations = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        m = _TEXT_LINE.match(line)
        if m and "\t" not in line.split("|", 2)[0]:
            doc = docs.setdefault(m.group(1), PubtatorDoc(m.group(1)))
            if m.group(2) == "t":
                doc.title = m.group(3)
            else:
                doc.abstract = m.group(3)
            continue
        fields = line.split("\t")
        if len(fields) == 4 and not fields[1].isdigit():
            relations += 1
            continue
        if len(fields) not in (6, 7):
            skips.add(
                f"expected a 'PMID|t|', 'PMID|a|' or 6-7 tab-separated mention line, got {line[:60]!r}",
                number,
            )
            continue
        pending.append((fields[0], fields, number))
    if not docs:
        raise InputError("not a PubTator file: no 'PMID|t|title' line", path)
    for pmid, fields, number in pending:
        owner = docs.get(pmid)
        if owner is None:
            skips.add(f"mention of document {pmid}, which has no title line", number)
            continue
        mention = _mention(owner, fields, number, skips)
        if mention is not None:
            owner.mentions.append(mention)
    return PubtatorCorpus(path, list(docs.values()), skips.result(), relations)


def _mention(doc: PubtatorDoc, fields: list[str], number: int, skips: Skips) -> Mention | None:
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        skips.add(f"offsets {fields[1]!r}, {fields[2]!r} are not integers", number)
        return None
    if doc.text[start:end] != fields[3]:
        skips.add(f"offsets {start}-{end} do not hold the mention text {fields[3]!r}", number)
        return None
    ids = tuple(i.strip() for i in fields[5].split("|") if i.strip() and i.strip() != "-1")
    parts = tuple(p.strip() for p in fields[6].split("|")) if len(fields) == 7 else ()
    return Mention(start, end, fields[3], fields[4], ids, parts, number)
