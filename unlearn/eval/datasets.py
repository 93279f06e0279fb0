"""Benchmark items from the real MCQ data sets, and their seeded memorised/held-out splits.

Every loader returns an :class:`ItemSet`: a list of items ``{id, question, options, answer, subject}``
(``answer`` is the 0-based index of the correct option) plus how many rows each filter dropped, so the
report can print the split sizes together with what was left out and why.

- **MedMCQA** (JSON lines, fields ``id, question, opa..opd, cop`` with ``cop`` 0-based, ``subject_name``).
  Rows with an empty option (41 in the dev split) are dropped: an empty string cannot be scored as an
  answer. ``drop_oral=True`` removes oral and maxillofacial surgery items by :data:`ORAL_MAXILLOFACIAL`,
  a keyword rule over the question and its options (teeth, jaws, TMJ, cleft palate, dental anaesthesia…).
  Head-and-neck general surgery (parotid, thyroid, tongue cancer, submandibular gland) is kept. On the dev
  split's 369 Surgery rows it drops 117 items (the data README estimates about 104).
- **MHQA gold** (CSV ``id, topic, type, question, option1..option4, correct_option, correct_option_number``).
  ``id`` is the PubMed id of the source abstract, shared by 22 pairs of questions: the second gets the id
  ``"<pmid>#2"``, and both carry ``group = pmid`` so that splits keep them together (2 of these pairs
  span two topics, i.e. forget and retain). The label is ``correct_option_number`` (1-based): in 11 rows
  the ``correct_option`` text disagrees with it. Mojibake (UTF-8 read as Windows-1252, e.g. ``TNF-Î±``)
  is repaired by :func:`repair_mojibake`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontology.common.csvfiles import csv_header, iter_csv_rows
from ontology.common.errors import InputError, MedunlearnError
from ontology.common.jsonl import iter_jsonl

MEDMCQA_FIELDS = ("id", "question", "opa", "opb", "opc", "opd", "cop", "subject_name")
MHQA_FIELDS = ("id", "topic", "question", "option1", "option2", "option3", "option4", "correct_option_number")
MHQA_TOPICS = ("Anxiety", "Depression", "Trauma", "Obsessive/Compulsive Disorders")
#: Subjects never used as MedMCQA retain data: Dental overlaps Surgery (oral surgery), Unknown is unlabelled.
MEDMCQA_NOT_RETAIN = ("Surgery", "Dental", "Unknown")

#: Oral and maxillofacial surgery: a word of this rule in the question or an option marks the item.
ORAL_MAXILLOFACIAL = re.compile(
    r"\b(teeth|tooth|dental|dentist\w*|dentigerous|denture\w*|edentulous|mandib\w*|maxill\w*|jaws?|TMJ"
    r"|temporomandibular|condyl\w*|zygom\w*|ZMC|le ?fort|cleft|palat\w*|molars?|premolars?|incisors?"
    r"|alveolar|occlus(?:ion|al)|malocclusion|trismus|genioplasty|odontogenic|ameloblast\w*|IMF|OPG"
    r"|orthopantomogram|pterygo\w*|buccal|panfacial|midface|oral surgery|extraction)\b",
    re.IGNORECASE,
)

#: Size presets: items per split (forget, forget_holdout, retain, retain_holdout); None = all available.
SIZES: dict[str, tuple[int | None, int | None, int | None, int | None]] = {
    "smoke": (12, 12, 12, 12),
    "small": (100, 100, 300, 100),
    "full": (None, None, None, None),
}
SPLITS = ("forget", "forget_holdout", "retain", "retain_holdout")
#: Tuning split sizes per preset, taken after the reported items in the seed-0 order (:func:`tuning_split`);
#: ``full`` reports every item, so it has none left to tune on.
TUNING_SIZES: dict[str, tuple[int, int, int, int]] = {
    "smoke": (12, 12, 12, 12),
    "small": (50, 50, 100, 50),
}


@dataclass
class ItemSet:
    """MCQ items and the number of rows each filter removed (``{reason: count}``)."""

    items: list[dict[str, Any]]
    source: str
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items)


# ------------------------------------------------------------------------------------------ text repair
_MOJIBAKE_RUN = re.compile(
    r"[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    r"\u2013-\u203a\u20ac\u2122]{2,}"
)


def _cp1252_byte(ch: str) -> bytes:
    try:
        return ch.encode("cp1252")
    except UnicodeEncodeError:
        return ch.encode("latin-1")  # the five bytes cp1252 leaves undefined (e.g. 0x9d) pass through as-is


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text decoded as Windows-1252 (``TNF-Î±`` → ``TNF-α``, ``â€™`` → ``’``).

    Each run of two or more Latin-1/Windows-1252 characters is re-encoded to bytes and decoded as UTF-8;
    the run is replaced only if that decoding succeeds, so correct accented text (``naïve``) is untouched.

    Examples
    --------
    >>> repair_mojibake("TNF-Î± and Childrenâ€™s")
    'TNF-α and Children’s'
    >>> repair_mojibake("café naïve")
    'café naïve'
    """

    def fix(match: re.Match[str]) -> str:
        run = match.group(0)
        try:
            raw = b"".join(_cp1252_byte(c) for c in run)
            return raw.decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return run

    return _MOJIBAKE_RUN.sub(fix, text)


# ------------------------------------------------------------------------------------------ MedMCQA
def is_oral_maxillofacial(item: dict[str, Any]) -> bool:
    """True when the question or an option matches :data:`ORAL_MAXILLOFACIAL`."""
    return bool(ORAL_MAXILLOFACIAL.search(" ".join([item["question"], *item["options"]])))


def load_medmcqa(
    path: str | Path,
    *,
    subjects: Iterable[str] | None = None,
    exclude_subjects: Iterable[str] = (),
    drop_oral: bool = False,
) -> ItemSet:
    """MedMCQA rows as items, keeping ``subjects`` (all if None) minus ``exclude_subjects``.

    Raises :class:`InputError` naming the file and line for a malformed row or a missing field, and for an
    empty result (naming the filter that emptied it).
    """
    path = Path(path)
    keep = None if subjects is None else set(subjects)
    exclude = set(exclude_subjects)
    items: list[dict[str, Any]] = []
    dropped = {"other subject": 0, "empty option": 0, "oral/maxillofacial": 0}
    if not path.is_file():
        raise InputError("no such MedMCQA file", path)
    for lineno, row in iter_jsonl(path, required=MEDMCQA_FIELDS):
        subject = row["subject_name"]
        if (keep is not None and subject not in keep) or subject in exclude:
            dropped["other subject"] += 1
            continue
        cop = row["cop"]
        if not isinstance(cop, int) or not 0 <= cop < 4:
            raise InputError(f"cop must be an integer 0..3 (0-based), got {cop!r}", path, lineno)
        options = [str(row[k] or "").strip() for k in ("opa", "opb", "opc", "opd")]
        if not all(options):
            dropped["empty option"] += 1
            continue
        item = {
            "id": str(row["id"]),
            "question": str(row["question"] or "").strip(),
            "options": options,
            "answer": cop,
            "subject": subject,
        }
        if drop_oral and is_oral_maxillofacial(item):
            dropped["oral/maxillofacial"] += 1
            continue
        items.append(item)
    what = f"subjects {sorted(keep)}" if keep is not None else "all subjects"
    if exclude:
        what += f" except {sorted(exclude)}"
    if drop_oral:
        what += " without oral/maxillofacial items"
    if not items:
        raise InputError(f"no MedMCQA items left after filtering ({what})", path)
    return ItemSet(items, f"{path.name}: {what}", {k: v for k, v in dropped.items() if v})


# ------------------------------------------------------------------------------------------ MHQA
def load_mhqa(path: str | Path, *, topics: Iterable[str] | None = None, repair: bool = True) -> ItemSet:
    """MHQA gold rows as items, keeping ``topics`` (all if None); labels from ``correct_option_number``."""
    path = Path(path)
    keep = None if topics is None else set(topics)
    if keep is not None and (unknown := keep - set(MHQA_TOPICS)):
        raise InputError(f"unknown MHQA topic(s) {sorted(unknown)}; choose from {list(MHQA_TOPICS)}", path)
    items: list[dict[str, Any]] = []
    dropped = {"other topic": 0}
    repaired = 0
    seen: dict[str, int] = {}
    if not path.is_file():
        raise InputError("no such MHQA file", path)
    missing = [f for f in MHQA_FIELDS if f not in csv_header(path)]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path, 1)
    for lineno, row in iter_csv_rows(path):
        if any(row.get(f) is None for f in MHQA_FIELDS):
            raise InputError("row has fewer fields than the header", path, lineno)
        pmid = row["id"].strip()
        seen[pmid] = seen.get(pmid, 0) + 1  # counted before filtering, so ids do not depend on the filter
        if keep is not None and row["topic"] not in keep:
            dropped["other topic"] += 1
            continue
        number = row["correct_option_number"].strip()
        if number not in {"1", "2", "3", "4"}:
            raise InputError(f"correct_option_number must be 1..4, got {number!r}", path, lineno)
        texts = [row["question"], *(row[f"option{i}"] for i in range(1, 5))]
        if repair:
            fixed = [repair_mojibake(t) for t in texts]
            repaired += fixed != texts
            texts = fixed
        texts = [t.strip() for t in texts]
        if not all(texts):
            raise InputError("empty question or option", path, lineno)
        items.append(
            {
                "id": pmid if seen[pmid] == 1 else f"{pmid}#{seen[pmid]}",
                "question": texts[0],
                "options": texts[1:],
                "answer": int(number) - 1,
                "subject": row["topic"],
                "group": pmid,
            }
        )
    what = f"topics {sorted(keep)}" if keep is not None else "all topics"
    if not items:
        raise InputError(f"no MHQA items left after filtering ({what})", path)
    out = ItemSet(items, f"{path.name}: {what}", {k: v for k, v in dropped.items() if v})
    if repaired:
        out.dropped["mojibake repaired (kept)"] = repaired
    return out


# ------------------------------------------------------------------------------------------ suites
def medmcqa_surgery(data_dir: str | Path, *, drop_oral: bool = True) -> tuple[ItemSet, ItemSet]:
    """Forget = MedMCQA dev Surgery; retain = the other clinical and basic-science subjects (not Dental)."""
    path = Path(data_dir) / "medmcqa" / "medmcqa_dev.jsonl"
    forget = load_medmcqa(path, subjects=["Surgery"], drop_oral=drop_oral)
    retain = load_medmcqa(path, exclude_subjects=MEDMCQA_NOT_RETAIN)
    return forget, retain


def mhqa_topic(data_dir: str | Path, *, forget_topic: str = "Trauma") -> tuple[ItemSet, ItemSet]:
    """Forget = one MHQA gold topic; retain = the other topics."""
    path = Path(data_dir) / "mhqa" / "mhqa_gold.csv"
    if forget_topic not in MHQA_TOPICS:
        raise InputError(f"unknown MHQA topic {forget_topic!r}; choose from {list(MHQA_TOPICS)}", path)
    forget = load_mhqa(path, topics=[forget_topic])
    retain = load_mhqa(path, topics=[t for t in MHQA_TOPICS if t != forget_topic])
    return forget, retain


# ------------------------------------------------------------------------------------------ splitting
def _rank_key(seed: int, item: dict[str, Any]) -> tuple[str, str]:
    group = str(item.get("group", item["id"]))
    return (
        hashlib.sha256(f"{seed}:{group}".encode()).hexdigest(),
        hashlib.sha256(f"{seed}:{item['id']}".encode()).hexdigest(),
    )


def seeded_order(items: Sequence[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Items sorted by ``sha256(seed:group)`` then ``sha256(seed:id)``.

    An item's place does not depend on which other items exist, and items of one ``group`` (MHQA: questions
    written from the same PubMed abstract) are adjacent, so at most one group straddles a split boundary.
    """
    ids = [it["id"] for it in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise MedunlearnError(f"duplicate item id {dup!r}: ids must be unique to split deterministically")
    return sorted(items, key=lambda it: _rank_key(seed, it))


def _cut(
    ordered: list[dict[str, Any]], n_mem: int | None, n_hold: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first ``n_mem`` items and the next ``n_hold``; ``None`` halves the items (the odd one memorised),
    and a preset larger than the items shrinks both parts proportionally."""
    if n_mem is None or n_hold is None:
        n_mem = (len(ordered) + 1) // 2
        n_hold = len(ordered) - n_mem
    elif n_mem + n_hold > len(ordered):
        n_mem = min(len(ordered), max(1, round(len(ordered) * n_mem / (n_mem + n_hold))))
        n_hold = len(ordered) - n_mem
    return ordered[:n_mem], ordered[n_mem : n_mem + n_hold]


def _check_nonempty(out: dict[str, list[dict[str, Any]]], source: ItemSet, what: str) -> None:
    for name, items in out.items():
        if not items:
            raise MedunlearnError(
                f"split {name!r} is empty ({source.source}: {len(source)} items for {what})"
            )


def split_items(
    forget: ItemSet, retain: ItemSet, size: str = "small", seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """The four benchmark splits: memorised and held-out parts of the forget and retain items.

    ``size`` is a key of :data:`SIZES`. With ``full`` each item set is halved (the extra item of an odd
    count goes to the memorised part). A preset larger than the data takes what exists; an empty split is
    an error that names it.
    """
    if size not in SIZES:
        raise MedunlearnError(f"unknown size {size!r}; choose from {', '.join(SIZES)}")
    n_f, n_fh, n_r, n_rh = SIZES[size]
    out: dict[str, list[dict[str, Any]]] = {}
    for (mem, hold), source, (n_mem, n_hold) in (
        (("forget", "forget_holdout"), forget, (n_f, n_fh)),
        (("retain", "retain_holdout"), retain, (n_r, n_rh)),
    ):
        out[mem], out[hold] = _cut(seeded_order(source.items, seed), n_mem, n_hold)
        _check_nonempty({mem: out[mem], hold: out[hold]}, source, f"size {size!r}")
    return out


def tuning_split(forget: ItemSet, retain: ItemSet, size: str = "small") -> dict[str, list[dict[str, Any]]]:
    """The tuning split of a size: the same four parts (:data:`TUNING_SIZES`), cut from the items that follow
    the reported split (:func:`split_items` with seed 0) in the seed-0 order.

    No tuning item shares an id or a ``group`` (MHQA: a source abstract) with any reported item, so tuning
    never reads a reported item, nor a question written from the same abstract as one. When fewer items are
    left than the preset asks (MedMCQA Surgery: 50 after the 200 reported), both parts of a set shrink
    proportionally.

    Raises
    ------
    MedunlearnError
        For a size without a tuning split (``full`` reports every item) or an empty tuning part.
    """
    if size not in TUNING_SIZES:
        raise MedunlearnError(
            f"size {size!r} has no tuning split (it reports every item); tune with {', '.join(TUNING_SIZES)}"
        )
    reported = split_items(forget, retain, size, 0)
    used = {str(it["id"]) for part in reported.values() for it in part}
    groups = {str(it.get("group", it["id"])) for part in reported.values() for it in part}
    n_f, n_fh, n_r, n_rh = TUNING_SIZES[size]
    out: dict[str, list[dict[str, Any]]] = {}
    for (mem, hold), source, (n_mem, n_hold) in (
        (("forget", "forget_holdout"), forget, (n_f, n_fh)),
        (("retain", "retain_holdout"), retain, (n_r, n_rh)),
    ):
        rest = [
            it
            for it in seeded_order(source.items, 0)
            if str(it["id"]) not in used and str(it.get("group", it["id"])) not in groups
        ]
        out[mem], out[hold] = _cut(rest, n_mem, n_hold)
        _check_nonempty({mem: out[mem], hold: out[hold]}, source, f"the tuning split of size {size!r}")
    return out
