"""Records, collator and batch streams of the unlearner."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from ontology.common.errors import InputError
from tests.unlearn.engine_helpers import FORGET_TEXTS, write_jsonl, write_masks
from unlearn.data import (
    BatchStream,
    TokenDataset,
    collate,
    load_records,
    masks_records,
)
from unlearn.models import load_tokenizer, tokenizer_hash


@pytest.fixture()
def tok(home: Path):
    return load_tokenizer("tiny-llama")


def test_collate_pads_right_and_masks_labels() -> None:
    items = [
        {
            "index": 3,
            "input_ids": [5, 6, 7],
            "role": [0, 2, 1],
            "level": [0, 4, 1],
            "weight": [0.0, 1.0, 0.5],
        },
        {"index": 1, "input_ids": [8], "role": [2], "level": [3], "weight": [0.25]},
    ]
    b = collate(items, pad_id=9)
    assert b["input_ids"].tolist() == [[5, 6, 7], [8, 9, 9]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert b["labels"].tolist() == [[5, 6, 7], [8, -100, -100]]
    assert b["role"].tolist() == [[0, 2, 1], [2, 0, 0]] and b["role"].dtype == torch.int8
    assert b["level"].tolist() == [[0, 4, 1], [3, 0, 0]]
    assert b["weight"].tolist() == [[0.0, 1.0, 0.5], [0.25, 0.0, 0.0]]
    assert b["index"].tolist() == [3, 1]


def _dataset(n: int) -> TokenDataset:
    from unlearn.data import Record

    return TokenDataset([Record(str(i), [i + 1], [0], [0], [1.0]) for i in range(n)])


def test_batch_stream_covers_each_epoch_and_is_seeded() -> None:
    a = BatchStream(_dataset(5), 2, seed=3)
    first = [a.next_indices() for _ in range(5)]  # 10 draws = 2 epochs
    flat = sum(first, [])
    assert sorted(flat[:5]) == list(range(5)) and sorted(flat[5:]) == list(range(5))
    b = BatchStream(_dataset(5), 2, seed=3)
    assert [b.next_indices() for _ in range(5)] == first
    c = BatchStream(_dataset(5), 2, seed=4)
    assert [c.next_indices() for _ in range(5)] != first


def test_batch_stream_state_round_trip() -> None:
    a = BatchStream(_dataset(7), 3, seed=0)
    for _ in range(4):
        a.next_indices()
    state = a.state_dict()
    expected = [a.next_indices() for _ in range(5)]
    b = BatchStream(_dataset(7), 3, seed=99)
    b.load_state_dict(state)
    assert [b.next_indices() for _ in range(5)] == expected


def test_forget_and_retain_streams_are_independent() -> None:
    forget = BatchStream(_dataset(6), 2, seed=1)
    alone = [forget.next_indices() for _ in range(4)]
    forget2, retain = BatchStream(_dataset(6), 2, seed=1), BatchStream(_dataset(9), 4, seed=2)
    mixed = []
    for _ in range(4):
        retain.next_indices()
        mixed.append(forget2.next_indices())
    assert mixed == alone


def test_length_groups_cut_padding_and_keep_epochs_whole() -> None:
    from unlearn.data import Record

    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 60, (42,), generator=gen).tolist()
    data = TokenDataset([Record(str(i), [1] * n, [0] * n, [0] * n, [1.0] * n) for i, n in enumerate(lengths)])

    def padding(stream: BatchStream) -> tuple[int, list[list[int]]]:
        batches = [stream.next_indices() for _ in range(21)]  # 168 draws = 4 epochs of 42
        pad = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)
        return pad, batches

    plain_pad, _ = padding(BatchStream(data, 8, seed=1))
    grouped_pad, batches = padding(BatchStream(data, 8, seed=1, length_groups=5))
    assert grouped_pad < plain_pad / 2
    flat = sum(batches, [])
    for epoch in range(4):  # every record once per epoch
        assert sorted(flat[42 * epoch : 42 * (epoch + 1)]) == list(range(42))
    # within an epoch the 5 full batches come in a seeded order, each from the length-sorted chunk of 40
    first = [flat[8 * k : 8 * k + 8] for k in range(5)]
    assert all([lengths[i] for i in b] == sorted(lengths[i] for i in b) for b in first)
    again = BatchStream(data, 8, seed=1, length_groups=5)
    assert [again.next_indices() for _ in range(21)] == batches
    with pytest.raises(ValueError, match="length_groups"):
        BatchStream(data, 8, seed=1, length_groups=0)


def test_empty_dataset_cannot_be_streamed() -> None:
    with pytest.raises(ValueError, match="empty"):
        BatchStream(_dataset(0), 2, seed=0)


def test_read_masks_checks_tokenizer_hash_and_truncates(tok, tmp_path: Path) -> None:
    path = write_masks(tmp_path / "m.parquet", tok, FORGET_TEXTS)
    recs = load_records(path, tok, max_length=8, expected_tokenizer_hash=tokenizer_hash(tok))
    full = pq.read_table(path).to_pylist()
    assert [r.doc_id for r in recs] == [row["doc_id"] for row in full]
    assert all(
        len(r.input_ids) == len(r.role) == len(r.weight) == min(8, len(row["input_ids"]))
        for r, row in zip(recs, full, strict=True)
    )
    assert recs[0].input_ids == full[0]["input_ids"][:8]
    with pytest.raises(InputError, match="m.parquet: masks were tokenized"):
        masks_records(path, "f" * 64)


def test_read_masks_rejects_ragged_rows_and_missing_metadata(tmp_path: Path) -> None:
    table = pa.table(
        {
            "doc_id": ["a"],
            "text": ["x y"],
            "input_ids": [[1, 2]],
            "offsets": [[[0, 1], [2, 3]]],
            "role": [[0]],
            "level": [[0, 0]],
            "weight": [[1.0, 1.0]],
        }
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=r"bad.parquet: row 0 \(doc_id a\): .* lengths differ \(2/1/2/2\)"):
        masks_records(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="no tokenizer_hash"):
        masks_records(tmp_path / "bad.parquet", "abc")
    pq.write_table(table.drop(["role"]), tmp_path / "cols.parquet")
    with pytest.raises(InputError, match="missing column.*role"):
        masks_records(tmp_path / "cols.parquet")


def test_load_records_formats(tok, tmp_path: Path) -> None:
    mcq = write_jsonl(
        tmp_path / "mcq.jsonl", [{"id": "q1", "question": "Q?", "options": ["a", "b"], "answer": "A"}]
    )
    texts = write_jsonl(tmp_path / "t.jsonl", [{"text": "The heart pumps blood."}, {"text": "Lungs."}])
    (tmp_path / "t.txt").write_text("The heart pumps blood.\n\nLungs.\n", encoding="utf-8")
    m = load_records(mcq, tok)
    assert m[0].doc_id == "q1" and tok.decode(m[0].input_ids).endswith("Answer: A. a<|im_end|>\n")
    j, t = load_records(texts, tok), load_records(tmp_path / "t.txt", tok)
    assert (
        [r.input_ids for r in j]
        == [r.input_ids for r in t]
        == [
            tok("The heart pumps blood.", add_special_tokens=False)["input_ids"],
            tok("Lungs.", add_special_tokens=False)["input_ids"],
        ]
    )
    assert all(set(r.role) == {0} and set(r.weight) == {1.0} for r in j)


def test_bad_rows_name_file_and_line(tok, tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"text": "ok"}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"x.jsonl:2: invalid JSON"):
        load_records(p, tok)
    q = write_jsonl(tmp_path / "q.jsonl", [{"question": "Q?", "options": ["a"], "answer": 3}])
    with pytest.raises(InputError, match=r"q.jsonl:1: bad MCQ item"):
        load_records(q, tok)
    with pytest.raises(InputError, match="no such data file"):
        load_records(tmp_path / "missing.jsonl", tok)
