"""The one-pass item scorer gives the numbers of the reference scorers (options, per-token log-probs, stats)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from ontology.common.errors import MedunlearnError
from unlearn.eval import item_pass, scoring
from unlearn.prompts import render_mcq

ITEMS = [
    {"id": "q1", "question": "Which organ is removed in a cholecystectomy?",
     "options": ["liver", "gallbladder", "spleen", "kidney"], "answer": 1},
    {"id": "q2", "question": "Which disorder is a mental disorder? Name the one that is classified as such.",
     "options": ["hernia", "appendicitis", "panic disorder", "fracture of the distal radius"], "answer": 2},
    {"id": "q3", "question": "What does the heart pump?",
     "options": ["blood", "oxygen", "bile"], "answer": 0},
    {"id": "q4", "question": "Which vitamin deficiency causes scurvy in sailors on long voyages?",
     "options": ["A", "B12", "C", "D"], "answer": 2},
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from unlearn.models import load_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDUNLEARN_HOME", str(tmp_path_factory.mktemp("home")))
        model, tok = load_model("tiny-llama")
        model.eval()
        yield model, tok


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_options_match_the_reference_scorer(tiny: tuple[Any, Any], batch_size: int) -> None:
    model, tok = tiny
    ref = scoring.score_mcq(model, tok, ITEMS)
    new = item_pass.score_items(model, tok, ITEMS, batch_size=batch_size)
    assert np.array_equal(np.isnan(ref.scores), np.isnan(new.options))  # q3 has three options
    np.testing.assert_allclose(new.options, ref.scores, atol=1e-5, equal_nan=True)


def test_text_logprobs_and_stats_match_whole_sequence_scoring(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    new = item_pass.score_items(model, tok, ITEMS, full_text=True, stats=True, batch_size=2)
    seqs = [tok(render_mcq(it, tok), add_special_tokens=False)["input_ids"] for it in ITEMS]
    ref = scoring.token_logprobs(model, seqs, pad_id=tok.pad_token_id or 0, stats=True)
    assert new.ids == [list(s) for s in seqs]  # the answer's row appended to the prompt is the rendered item
    for r, lp, mu, sigma in zip(ref, new.logp, new.mu, new.sigma, strict=True):
        assert np.isnan(lp[0]) and np.isnan(mu[0]) and np.isnan(sigma[0])
        np.testing.assert_allclose(lp[1:], r.logp[1:], atol=1e-5)
        np.testing.assert_allclose(mu[1:], r.mu[1:], atol=1e-5)
        np.testing.assert_allclose(sigma[1:], r.sigma[1:], atol=1e-5)


def test_a_single_item_has_no_shared_prefix_beyond_its_prompt(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    one = item_pass.score_items(model, tok, ITEMS[:1], full_text=True)
    ref = scoring.score_mcq(model, tok, ITEMS[:1])
    np.testing.assert_allclose(one.options, ref.scores, atol=1e-5)
    assert len(one.logp[0]) == len(one.ids[0])


def test_empty_item_list_is_one_line_error(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    with pytest.raises(MedunlearnError, match="no MCQ items"):
        item_pass.score_items(model, tok, [])
