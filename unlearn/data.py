"""Forget and retain data for the unlearner: records, a padding collator and seeded batch streams.

A *record* is one tokenized sequence with per-token ``role`` (:data:`hierarchy.masks.NEUTRAL`, ``PRESERVE``,
``TARGET``), ``level`` (0 none, 1–4) and ``weight`` arrays. Records come from

- MASKS Parquet files written by ``medunlearn hierarchy masks``, read through :mod:`hierarchy.masks`; the
  file's ``tokenizer_hash`` must equal the model tokenizer's, or the token ids would mean other words;
- JSONL/TXT texts, tokenized here (every token neutral, weight 1);
- MCQ items rendered through the model's chat template (:func:`unlearn.prompts.render_mcq`).

Forget and retain batches are drawn by two :class:`BatchStream` objects with their own seeded
generators, so adding retain data never changes which forget items a step sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hierarchy.masks import NEUTRAL, TARGET, mask_rows
from ontology.common.errors import InputError
from ontology.common.jsonl import iter_jsonl
from ontology.common.limits import iter_lines
from unlearn.prompts import render_mcq


@dataclass
class Record:
    """One tokenized sequence with its per-token annotations."""

    doc_id: str
    input_ids: list[int]
    role: list[int]
    level: list[int]
    weight: list[float]

    def truncated(self, max_length: int) -> Record:
        """The first ``max_length`` tokens."""
        n = max_length
        return Record(self.doc_id, self.input_ids[:n], self.role[:n], self.level[:n], self.weight[:n])


def plain_record(doc_id: str, ids: list[int]) -> Record:
    """An unannotated record: every token neutral, weight 1 (plain text, MCQ items, fine-tuning)."""
    return Record(doc_id, list(ids), [NEUTRAL] * len(ids), [0] * len(ids), [1.0] * len(ids))


# ----------------------------------------------------------------------------------------------- readers
def masks_records(path: str | Path, expected_tokenizer_hash: str | None = None) -> list[Record]:
    """The records of a MASKS file, read through its owner :func:`hierarchy.masks.mask_rows` (which checks the
    tokenizer hash and the shape of every row)."""
    return [Record(*row) for row in mask_rows(path, expected_tokenizer_hash)]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [{**row, "_line": lineno} for lineno, row in iter_jsonl(path)]


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a text file, streamed, each named by its number in errors."""
    with open(path, "rb") as fh:
        for n, raw in iter_lines(fh, path):
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InputError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", path=path, line=n) from None
            if text:
                yield n, text


def _sniff(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "masks"
    if suffix == ".txt":
        return "text"
    if suffix in (".jsonl", ".json"):
        with open(path, "rb") as fh:
            for _, line in iter_lines(fh, path):
                if line.strip():
                    try:
                        first = json.loads(line)
                    except (ValueError, RecursionError):
                        return "text"
                    return "mcq" if isinstance(first, dict) and "question" in first else "text"
        return "text"
    raise InputError("unknown data format (use .parquet masks, .jsonl or .txt, or set the format)", path=path)


def load_records(
    path: str | Path,
    tokenizer: Any,
    *,
    fmt: str = "auto",
    max_length: int = 128,
    text_field: str = "text",
    expected_tokenizer_hash: str | None = None,
    exclude: dict[str, list[str]] | None = None,
    limit: int | None = None,
) -> list[Record]:
    """Read one data file as records truncated to ``max_length`` tokens.

    ``exclude`` drops JSONL rows whose field holds one of the listed values (e.g. other subjects);
    ``limit`` keeps the first ``limit`` records.

    Raises
    ------
    InputError
        Missing file, unknown format, bad row (named by line), tokenizer mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such data file", path=path)
    fmt = _sniff(path) if fmt == "auto" else fmt
    if fmt == "masks":
        records = masks_records(path, expected_tokenizer_hash)
    elif fmt == "text" and path.suffix.lower() == ".txt":
        records = [
            plain_record(f"{path.stem}:{i}", tokenizer(t, add_special_tokens=False)["input_ids"])
            for i, t in _text_lines(path)
        ]
    else:
        records = []
        for row in _jsonl(path):
            line = row.pop("_line")
            if exclude and any(str(row.get(k)) in set(v) for k, v in exclude.items()):
                continue
            doc_id = str(row.get("doc_id", row.get("id", f"{path.stem}:{line}")))
            if fmt == "mcq":
                try:
                    text = render_mcq(row, tokenizer)
                except (ValueError, KeyError) as exc:
                    raise InputError(f"bad MCQ item: {exc}", path=path, line=line) from None
            else:
                if not isinstance(row.get(text_field), str):
                    raise InputError(f"no string field {text_field!r}", path=path, line=line)
                text = row[text_field]
            records.append(plain_record(doc_id, tokenizer(text, add_special_tokens=False)["input_ids"]))
    out = [r.truncated(max_length) for r in records if r.input_ids]
    return out[:limit] if limit is not None else out


# ----------------------------------------------------------------------------------------------- batching
class TokenDataset(torch.utils.data.Dataset):
    """Records as a map-style dataset; each item also carries its index (to look up cached references)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.records[i]
        return {"index": i, "input_ids": r.input_ids, "role": r.role, "level": r.level, "weight": r.weight}

    def target_token_count(self) -> int:
        """Tokens with role target and positive weight, over all records."""
        return sum(
            sum(1 for ro, w in zip(r.role, r.weight, strict=True) if ro == TARGET and w > 0)
            for r in self.records
        )


def collate(items: Sequence[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids, attention_mask, labels`` (-100 on padding), ``role, level, weight, index``.

    Examples
    --------
    >>> b = collate([{"index": 0, "input_ids": [5, 6], "role": [0, 2], "level": [0, 4], "weight": [1.0, 1.0]},
    ...              {"index": 1, "input_ids": [7], "role": [1], "level": [1], "weight": [0.5]}], pad_id=0)
    >>> b["input_ids"].tolist(), b["labels"].tolist(), b["attention_mask"].tolist()
    ([[5, 6], [7, 0]], [[5, 6], [7, -100]], [[1, 1], [1, 0]])
    """
    width = max(len(it["input_ids"]) for it in items)
    n = len(items)
    out = {
        "input_ids": torch.full((n, width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((n, width), dtype=torch.long),
        "labels": torch.full((n, width), -100, dtype=torch.long),
        "role": torch.zeros((n, width), dtype=torch.int8),
        "level": torch.zeros((n, width), dtype=torch.int8),
        "weight": torch.zeros((n, width), dtype=torch.float32),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
    }
    for i, it in enumerate(items):
        k = len(it["input_ids"])
        ids = torch.tensor(it["input_ids"], dtype=torch.long)
        out["input_ids"][i, :k] = ids
        out["labels"][i, :k] = ids
        out["attention_mask"][i, :k] = 1
        out["role"][i, :k] = torch.tensor(it["role"], dtype=torch.int8)
        out["level"][i, :k] = torch.tensor(it["level"], dtype=torch.int8)
        out["weight"][i, :k] = torch.tensor(it["weight"], dtype=torch.float32)
    return out


@dataclass
class BatchStream:
    """An endless stream of shuffled batches from one dataset, driven by its own seeded generator.

    Each epoch is a fresh permutation; a batch that crosses an epoch boundary continues into the next
    permutation. With ``length_groups`` = k the permutation is cut into chunks of k batches, each chunk sorted
    by length and cut into batches, and the full batches are shuffled (a short last batch stays last): batches
    of similar lengths, so less padding, still a random order. :meth:`state_dict` / :meth:`load_state_dict`
    make the stream resumable exactly.
    """

    dataset: TokenDataset
    batch_size: int
    seed: int
    pad_id: int = 0
    length_groups: int | None = None
    _gen: torch.Generator = field(init=False, repr=False)
    _perm: list[int] = field(init=False, repr=False, default_factory=list)
    _pos: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if len(self.dataset) == 0:
            raise ValueError("cannot sample from an empty dataset")
        if self.length_groups is not None and self.length_groups < 1:
            raise ValueError("length_groups must be at least 1")
        self._gen = torch.Generator().manual_seed(self.seed)

    def _epoch(self) -> list[int]:
        perm = torch.randperm(len(self.dataset), generator=self._gen).tolist()
        if self.length_groups is None:
            return perm
        bs, records = self.batch_size, self.dataset.records
        size = self.length_groups * bs
        batches = []
        for lo in range(0, len(perm), size):
            chunk = sorted(perm[lo : lo + size], key=lambda i: len(records[i].input_ids))
            batches += [chunk[j : j + bs] for j in range(0, len(chunk), bs)]
        short = batches.pop() if len(batches[-1]) < bs else None
        order = torch.randperm(len(batches), generator=self._gen).tolist()
        return [i for b in order for i in batches[b]] + (short or [])

    def next_indices(self) -> list[int]:
        """The dataset indices of the next batch."""
        out: list[int] = []
        while len(out) < self.batch_size:
            if self._pos >= len(self._perm):
                self._perm = self._epoch()
                self._pos = 0
            take = min(self.batch_size - len(out), len(self._perm) - self._pos)
            out.extend(self._perm[self._pos : self._pos + take])
            self._pos += take
        return out

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The next collated batch."""
        return collate([self.dataset[i] for i in self.next_indices()], self.pad_id)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the stream exactly."""
        return {"gen": self._gen.get_state(), "perm": list(self._perm), "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; ``ValueError`` for one that does not fit this dataset."""
        perm, pos = list(state["perm"]), state["pos"]
        if perm and sorted(perm) != list(range(len(self.dataset))):
            raise ValueError(f"the stream's order is not a permutation of the {len(self.dataset)} records")
        if type(pos) is not int or not 0 <= pos <= len(perm):
            raise ValueError(f"stream position {pos!r} outside 0..{len(perm)}")
        self._gen.set_state(state["gen"])
        self._perm, self._pos = perm, pos
