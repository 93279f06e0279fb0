"""Token masks: hand-computed projections, and target tokens decoded back for two real tokenizers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from hierarchy.alignment import build_masks, check_fast, load_fast_tokenizer, project, render, tokenizer_hash
from hierarchy.lexicon import Lexicon
from hierarchy.masks import MASKS_SCHEMA, read_masks, write_masks
from hierarchy.preview import segments, to_html
from hierarchy.tagger import make_pipeline, tag_text
from ontology.common.errors import MedunlearnError
from ontology.graph import ConceptGraph

SMOLLM2_DIR = Path(os.path.expanduser("~/.cache/medunlearn/models/smollm2"))

# concept: (label, role, level, weight)
TABLE = {
    "X:anx": ("Anxiety Disorders", 2, 3, 0.5),
    "X:panic": ("Panic Disorder", 2, 4, 1.0),
    "X:chole": ("Cholecystectomy", 2, 4, 1.0),
    "X:mental": ("Mental Disorders", 1, 2, 1.0),
    "X:heart": ("Heart", 1, 3, 1.0),
}
TEXTS = [
    "Generalized anxiety disorders and panic disorder (PD) are mental disorders; PD responds to therapy.",
    "The patient underwent a laparoscopic cholecystectomy. Her heart was normal.",
    "No concept here at all.",
]


def test_project_by_hand() -> None:
    text = "an anxiety disorder, then heart"
    #        0123456789012345678901234567890
    offsets = np.array(
        [
            [0, 0],  # special token
            [0, 2],  # "an"
            [2, 10],  # " anxiety": leading space, inside the span 3-19
            [10, 19],  # " disorder"
            [19, 21],  # ", " : outside
            [21, 26],  # " then"
            [26, 31],  # " heart"
        ]
    )
    starts, ends = np.array([3, 26]), np.array([19, 31])
    values = np.array([[2, 3, 0.5], [1, 3, 1.0]])
    got = project(text, offsets, starts, ends, values)
    assert got.tolist() == [
        [0, 0, 0],
        [0, 0, 0],
        [2, 3, 0.5],
        [2, 3, 0.5],
        [0, 0, 0],
        [0, 0, 0],
        [1, 3, 1.0],
    ]
    # a token that runs past the end of a span is not inside it
    straddle = project(
        "anxiety disorders", np.array([[0, 7], [7, 17]]), np.array([0]), np.array([16]), values[:1]
    )
    assert straddle[:, 0].tolist() == [2, 0]
    # no spans, or no tokens
    assert project("x", np.zeros((0, 2), dtype=int), starts, ends, values).shape == (0, 3)
    assert not project(text, offsets, np.array([], dtype=int), np.array([], dtype=int), values[:0]).any()


@pytest.fixture(scope="module")
def spans_rows() -> list[dict]:
    cg = ConceptGraph()
    for cid, (label, *_rest) in TABLE.items():
        cg.add_concept(cid, label)
    nlp = make_pipeline(Lexicon.from_graph(cg, {cid: v[2] for cid, v in TABLE.items()}))
    rows = [{"doc_id": f"d{i}", "text": t, "spans": tag_text(nlp, t)} for i, t in enumerate(TEXTS)]
    # hand check of what the tagger found in the first text
    assert [(s["text"], s["concept_id"]) for s in rows[0]["spans"]] == [
        ("anxiety disorders", "X:anx"),
        ("panic disorder", "X:panic"),
        ("PD", "X:panic"),
        ("mental disorders", "X:mental"),
        ("PD", "X:panic"),
    ]
    return rows


ROLE_TABLE = {cid: (role, level, weight) for cid, (_, role, level, weight) in TABLE.items()}


@pytest.fixture(scope="module")
def tiny_tok(tiny: tuple[Any, Any]):
    return load_fast_tokenizer(tiny[1])


@pytest.fixture(scope="module")
def smollm2_tok():
    if not (SMOLLM2_DIR / "tokenizer.json").is_file():
        pytest.skip("SmolLM2 is not prepared (run `medunlearn model prepare smollm2`)")
    return load_fast_tokenizer(SMOLLM2_DIR)


def check_target_tokens(tok, rows: list[dict], chat_template: bool) -> int:
    """Every target token decodes to text inside a target span; every target span has a target token."""
    targets = 0
    for row, (doc_id, text, ids, offsets, values) in zip(
        rows, build_masks(rows, tok, ROLE_TABLE, chat_template=chat_template), strict=True
    ):
        _, shift = render(tok, row["text"], chat_template)
        assert doc_id == row["doc_id"] and text[shift : shift + len(row["text"])] == row["text"]
        target_spans = [
            (s["start"] + shift, s["end"] + shift)
            for s in row["spans"]
            if ROLE_TABLE[s["concept_id"]][0] == 2
        ]
        for i in np.flatnonzero(values[:, 0] == 2):
            piece = tok.decode([int(ids[i])]).strip()
            s, e = offsets[i]
            assert piece and any(
                a <= s + (len(text[s:e]) - len(text[s:e].lstrip())) and e <= b for a, b in target_spans
            )
            assert any(piece in text[a:b] for a, b in target_spans), (piece, doc_id)
            targets += 1
        for a, b in target_spans:
            assert any(
                values[i, 0] == 2 and a <= offsets[i][1] and offsets[i][0] < b for i in range(len(ids))
            )
        # preserve tokens sit in preserve spans; neutral tokens carry no level or weight
        assert not values[values[:, 0] == 0, 1:].any()
    return targets


@pytest.mark.parametrize("chat_template", [True, False])
def test_target_tokens_decode_inside_target_spans_tiny(tiny_tok, spans_rows, chat_template: bool) -> None:
    assert check_target_tokens(tiny_tok, spans_rows, chat_template) >= 5


@pytest.mark.parametrize("chat_template", [True, False])
def test_target_tokens_decode_inside_target_spans_smollm2(
    smollm2_tok, spans_rows, chat_template: bool
) -> None:
    assert check_target_tokens(smollm2_tok, spans_rows, chat_template) >= 5


def test_chat_template_shift_by_hand(tiny_tok) -> None:
    rendered, shift = render(tiny_tok, "panic disorder", True)
    assert rendered == "<|im_start|>user\npanic disorder<|im_end|>\n"
    assert shift == len("<|im_start|>user\n")
    assert render(tiny_tok, "x", False) == ("x", 0)


def test_write_masks_parquet_contract(tiny_tok, spans_rows, tmp_path: Path) -> None:
    out = tmp_path / "masks.parquet"
    summary = write_masks(spans_rows, tiny_tok, ROLE_TABLE, out, tokenizer_name="tiny-llama", scope="X:anx")
    table, meta = read_masks(out)
    assert table.schema.remove_metadata() == MASKS_SCHEMA
    assert table.column("doc_id").to_pylist() == ["d0", "d1", "d2"]
    from unlearn.models import tokenizer_hash as unlearn_hash

    assert meta["tokenizer_hash"] == tokenizer_hash(tiny_tok) == unlearn_hash(tiny_tok)
    assert meta["tokenizer_name"] == "tiny-llama" and meta["scope"] == "X:anx" and meta["config_hash"]
    rows = table.to_pylist()
    for row in rows:
        assert row["input_ids"] == tiny_tok(row["text"], add_special_tokens=False)["input_ids"]
        assert len(row["offsets"]) == len(row["role"]) == len(row["level"]) == len(row["weight"])
    roles = [r for row in rows for r in row["role"]]
    assert summary["tokens"] == len(roles)
    assert summary["tokens_by_role"] == {
        "neutral": roles.count(0),
        "preserve": roles.count(1),
        "target": roles.count(2),
    }
    # the third text has no concept: every token neutral
    assert set(rows[2]["role"]) == {0}
    # weights follow the role table: L3 target tokens 0.5, L4 target tokens 1.0
    for row in rows:
        for role, level, weight in zip(row["role"], row["level"], row["weight"], strict=True):
            if role == 2:
                assert weight == {3: 0.5, 4: 1.0}[level]
    assert pq.ParquetFile(out).metadata.num_row_groups >= 1


def test_unknown_concepts_stay_neutral(tiny_tok, tmp_path: Path) -> None:
    rows = [
        {
            "doc_id": "a",
            "text": "panic disorder",
            "spans": [{"start": 0, "end": 14, "concept_id": "Y:1", "level": 4}],
        }
    ]
    summary = write_masks(rows, tiny_tok, ROLE_TABLE, tmp_path / "m.parquet", tokenizer_name="t", scope="s")
    assert summary["unknown_concepts"] == ["Y:1"] and summary["tokens_by_role"]["target"] == 0


def test_slow_tokenizer_is_a_clear_error(tmp_path: Path, spans_rows) -> None:
    from transformers import BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "panic", "disorder"]) + "\n")
    slow = BertTokenizer(str(vocab))
    with pytest.raises(MedunlearnError, match="slow tokenizer without offset mapping"):
        check_fast(slow, "bert")
    with pytest.raises(MedunlearnError, match="slow tokenizer"):
        list(build_masks(spans_rows, slow, ROLE_TABLE))


def test_missing_tokenizer_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(MedunlearnError, match="no-such-model: no such tokenizer directory"):
        load_fast_tokenizer(tmp_path / "no-such-model")
    with pytest.raises(MedunlearnError, match="cannot load a tokenizer"):
        load_fast_tokenizer(tmp_path)


def test_a_tokenizer_object_is_taken_as_it_is(tiny_tok) -> None:
    assert load_fast_tokenizer(tiny_tok) is tiny_tok


def test_preview_segments_and_html(tiny_tok, spans_rows, tmp_path: Path) -> None:
    assert list(segments("ab cd", [[0, 0], [0, 2], [3, 5]], [0, 1, 2])) == [("ab", 1), (" ", 0), ("cd", 2)]
    out = tmp_path / "m.parquet"
    write_masks(spans_rows, tiny_tok, ROLE_TABLE, out, tokenizer_name="tiny-llama", scope="X:anx")
    table, meta = read_masks(out)
    page = to_html(table, meta, n=2)
    assert page.count("<h2>") == 2 and "background:#ffcdd2" in page and "&lt;|im_start|&gt;" in page
