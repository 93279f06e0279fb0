"""The benchmark's answer marks on MASKS files, by hand (through hierarchy.masks.relabel_span)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ANSWER_TEXT = "Which? Answer: B. hernia repair"


def _answer_masks(path: Path, rows: dict[str, list[tuple[int, tuple[float, float, float]]]]) -> Path:
    """A MASKS file of ``ANSWER_TEXT`` rows, one token per word; ``rows`` maps doc id to (token, values)."""
    from hierarchy.masks import MaskWriter

    words = np.array([(0, 6), (7, 14), (15, 17), (18, 24), (25, 31)])
    writer = MaskWriter(path, {"scope": "E04"})
    for doc_id, marks in rows.items():
        vals = np.zeros((5, 3))
        for t, v in marks:
            vals[t] = v
        writer.add(doc_id, ANSWER_TEXT, np.arange(5), words, vals)
    writer.close()
    return path


def test_apply_answer_fallback_by_hand(tmp_path: Path) -> None:
    from unlearn.eval.inputs import apply_answer_fallback

    # doc "a" has no target, doc "b" already has one and is left alone
    src = _answer_masks(
        tmp_path / "in.parquet", {"a": [(0, (1, 2, 1.0))], "b": [(0, (1, 2, 1.0)), (4, (2, 3, 0.5))]}
    )
    used = apply_answer_fallback(src, tmp_path / "out.parquet", {"a": "B. hernia repair", "b": "x"})
    assert used == ["a"]
    table = pq.read_table(tmp_path / "out.parquet")
    got = table.to_pydict()
    # the option text is the target, not its letter "B." (shared by every answer)
    assert got["role"] == [[1, 0, 0, 2, 2], [1, 0, 0, 0, 2]]
    assert got["level"] == [[2, 0, 0, 4, 4], [2, 0, 0, 0, 3]]
    assert got["weight"][0] == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert table.schema.metadata[b"scope"] == b"E04"


def test_anchor_answers_marks_retain_answers_as_preserve(tmp_path: Path) -> None:
    from unlearn.eval.inputs import anchor_answers

    # "repair" is already a target concept: it keeps its role; the neutral answer token becomes preserve
    src = _answer_masks(tmp_path / "in.parquet", {"a": [(4, (2, 3, 0.5))]})
    used = anchor_answers(src, tmp_path / "out.parquet", {"a": "B. hernia repair"})
    assert used == ["a"]
    got = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert got["role"] == [[0, 0, 0, 1, 2]]
    assert got["weight"] == [[0.0, 0.0, 0.0, 1.0, 0.5]]
