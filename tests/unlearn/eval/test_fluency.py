"""Fluency measures on hand-written strings, and batched greedy completions equal one-by-one decoding."""

from __future__ import annotations

import math
from typing import Any

import pytest

from unlearn.eval.fluency import distinct_n, fluency, greedy_completions, is_degenerate, words


@pytest.mark.parametrize(
    ("text", "degenerate"),
    [
        ("spinal spinal spinal spinal spinal", True),
        ("spinal on 20 January 2023 under", False),
        ("Spinal. spinal, SPINAL", True),  # case and punctuation do not hide a repeat
        ("laparoscopic repair of the hernia of the hernia", False),  # twice is not three times
        ("of the hernia of the hernia of the hernia", True),  # a 3-gram three times
        ("a b c d a b c d a b c d", True),  # a 4-gram three times
        ("a b c d e a b c d e a b c d e", False),  # 5-grams are not counted
        ("", False),
        ("a220000000000000", True),  # one digit token repeated, no space between
        ("a 22-year-old12111221", False),
        ("on 20000000 units", False),  # seven zeros: below the eight-repeat threshold
        ("ababababababababab", True),  # a two-character unit nine times
    ],
)
def test_degenerate_on_hand_written_strings(text: str, degenerate: bool) -> None:
    assert is_degenerate(text) is degenerate


def test_distinct2_by_hand() -> None:
    # bigrams: (the knee)(knee was)(was replaced) + (the knee)(knee was) -> 3 distinct of 5
    assert distinct_n(["the knee was replaced", "the knee was"]) == pytest.approx(3 / 5)
    assert distinct_n(["x x x x"]) == pytest.approx(1 / 3)
    assert math.isnan(distinct_n(["one", ""]))
    assert words("(Knee)  replacement.") == ["knee", "replacement"]


def test_fluency_summary() -> None:
    out = fluency(["spinal spinal spinal", "hip replacement on 3 May", "knee arthroscopy"])
    assert out["degenerate_rate"] == pytest.approx(1 / 3)
    assert out["completions"] == 3
    # bigrams: spinal spinal x2 | hip replacement, replacement on, on 3, 3 may | knee arthroscopy -> 6 of 7
    assert out["distinct2"] == pytest.approx(6 / 7)


def test_batched_greedy_equals_one_by_one(home: Any) -> None:
    from unlearn.models import generate, load_model

    model, tok = load_model("tiny-llama")
    prompts = ["Patient Ann Lee, MRN 123, underwent", "The", "A short note about a knee operation and"]
    batched = greedy_completions(model, tok, prompts, max_new_tokens=6, batch_size=3)
    assert batched == [generate(model, tok, p, max_new_tokens=6) for p in prompts]
