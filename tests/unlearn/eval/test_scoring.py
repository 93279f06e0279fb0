"""MCQ scoring, per-level log-likelihood and perplexity with scripted models whose answers are known."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from ontology.common.errors import MedunlearnError
from unlearn.eval import scoring
from unlearn.prompts import mcq_option_texts

ITEMS = [
    {"id": "q1", "question": "Which organ is removed in a cholecystectomy?",
     "options": ["liver", "gallbladder", "spleen", "kidney"], "answer": 1},
    {"id": "q2", "question": "Which disorder is a mental disorder?",
     "options": ["hernia", "appendicitis", "panic disorder", "fracture"], "answer": 2},
    {"id": "q3", "question": "What does the heart pump?",
     "options": ["blood", "oxygen", "bile", "urine"], "answer": 0},
]  # fmt: skip


class BonusLM(torch.nn.Module):
    """Context-free scripted model: logit ``bonus`` for the token ids in ``favoured``, 0 for all others."""

    def __init__(self, vocab: int, favoured: set[int], bonus: float = 5.0) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.row = torch.zeros(vocab)
        self.row[list(favoured)] = bonus

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        b, t = input_ids.shape
        return SimpleNamespace(logits=self.row.expand(b, t, -1).clone())


def _option_tokens(tok: Any, item: dict, option: int) -> set[int]:
    text, start, end = mcq_option_texts(tok, item)[option]
    ids, mask = scoring.encode_span(tok, text, start, end)
    return {ids[i] for i in np.flatnonzero(mask)}


def _scripted(tok: Any, pick: Any) -> BonusLM:
    """Favour the tokens of option ``pick(item)`` that no other option of the item uses."""
    favoured: set[int] = set()
    for item in ITEMS:
        chosen = pick(item)
        others = set().union(*(_option_tokens(tok, item, o) for o in range(4) if o != chosen))
        favoured |= _option_tokens(tok, item, chosen) - others
    return BonusLM(len(tok), favoured)


def test_scored_span_is_the_lettered_answer(tiny: tuple[Any, Any]) -> None:
    _, tok = tiny
    for letter, option in zip("ABCD", ITEMS[0]["options"], strict=True):
        i = "ABCD".index(letter)
        text, start, end = mcq_option_texts(tok, ITEMS[0])[i]
        assert text.endswith(f"Answer: {letter}. {option}<|im_end|>\n")
        ids, mask = scoring.encode_span(tok, text, start, end)
        assert tok.decode([ids[j] for j in np.flatnonzero(mask)]).strip() == f"{letter}. {option}"


def test_scripted_models_get_known_accuracies(tiny: tuple[Any, Any]) -> None:
    _, tok = tiny
    right = scoring.score_mcq(_scripted(tok, lambda it: it["answer"]), tok, ITEMS, batch_size=5)
    assert right.accuracy == 1.0
    assert right.predictions.tolist() == [it["answer"] for it in ITEMS]
    wrong = scoring.score_mcq(_scripted(tok, lambda it: (it["answer"] + 1) % 4), tok, ITEMS)
    assert wrong.accuracy == 0.0
    assert wrong.predictions.tolist() == [(it["answer"] + 1) % 4 for it in ITEMS]
    # a model indifferent between tokens gives every option the same score: fractional credit = chance
    flat = scoring.score_mcq(BonusLM(len(tok), set()), tok, ITEMS)
    np.testing.assert_allclose(flat.scores, -math.log(len(tok)), rtol=1e-6)
    assert flat.accuracy == pytest.approx(0.25)


def test_option_scores_equal_an_unbatched_forward_pass(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    result = scoring.score_mcq(model, tok, ITEMS, batch_size=3)
    for n, item in enumerate(ITEMS):
        for o, (text, start, end) in enumerate(mcq_option_texts(tok, item)):
            ids, mask = scoring.encode_span(tok, text, start, end)
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0]
            lp = torch.log_softmax(logits[:-1].float(), -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
            expected = lp.numpy()[mask[1:]].mean()
            assert result.scores[n, o] == pytest.approx(expected, abs=1e-4)
    assert 0.0 <= result.accuracy <= 1.0


def test_level_loglik_by_hand() -> None:
    # constant distribution (1/2, 1/4, 1/4) over 3 tokens: log p(0) = ln ½, log p(1) = log p(2) = ln ¼
    class Constant(BonusLM):
        def __init__(self) -> None:
            super().__init__(3, set())
            self.row = torch.tensor([0.5, 0.25, 0.25]).log()

    rec = {"input_ids": [0, 1, 0, 2, 1], "level": [0, 1, 4, 4, 2], "role": [0, 1, 2, 0, 1]}
    out = scoring.level_loglik(Constant(), [rec])
    ln2 = math.log(2)
    assert out["L1"]["outside"] == pytest.approx(-2 * ln2) and out["L1"]["n_outside"] == 1
    assert math.isnan(out["L1"]["inside"]) and out["L1"]["n_inside"] == 0
    assert out["L4"]["inside"] == pytest.approx(-ln2)  # token 0 at a target position
    assert out["L4"]["outside"] == pytest.approx(-2 * ln2)
    assert out["L2"]["outside"] == pytest.approx(-2 * ln2)
    assert out["L3"]["n_inside"] == out["L3"]["n_outside"] == 0
    # an explicit "inside" array overrides the role proxy
    rec2 = {**rec, "inside": [False, True, True, False, False]}
    assert scoring.level_loglik(Constant(), [rec2])["L1"]["inside"] == pytest.approx(-2 * ln2)
    deltas = scoring.level_deltas(out, out)
    assert deltas["L4"]["inside"] == 0.0


def test_sequence_nll_and_errors(tiny: tuple[Any, Any]) -> None:
    _, tok = tiny
    flat = BonusLM(len(tok), set())
    out = scoring.sequence_nll(flat, tok, ["The heart pumps blood.", "Surgery"])
    assert out["nll"] == pytest.approx(math.log(len(tok)), rel=1e-6)
    assert out["perplexity"] == pytest.approx(len(tok), rel=1e-4)
    with pytest.raises(MedunlearnError, match="no MCQ items"):
        scoring.score_mcq(flat, tok, [])
    bare = type("Bare", (), {"chat_template": None, "is_fast": True, "pad_token_id": 0})()
    with pytest.raises(MedunlearnError, match="no chat template"):
        scoring.score_mcq(flat, bare, ITEMS)


def test_shared_prompt_path_equals_whole_sequences(
    tiny: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tok = tiny
    assert scoring._uses_kv_cache(model)
    cached = scoring.score_mcq(model, tok, ITEMS)
    monkeypatch.setattr(scoring, "_uses_kv_cache", lambda m: False)
    whole = scoring.score_mcq(model, tok, ITEMS, batch_size=5)
    np.testing.assert_allclose(cached.scores, whole.scores, atol=1e-5)


def test_scoring_runs_in_eval_mode_and_restores_training(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    reference = scoring.score_mcq(model, tok, ITEMS[:1]).scores
    model.train()
    try:
        assert np.array_equal(scoring.score_mcq(model, tok, ITEMS[:1]).scores, reference)
        assert model.training
    finally:
        model.eval()


def test_continuation_greedy_flags_match_greedy_decoding(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    prefix = tok("Patient Jane Doe, MRN 123, underwent", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([prefix]), max_new_tokens=4, do_sample=False, pad_token_id=0)
    decoded = out[0, len(prefix) :].tolist()
    other = decoded[:3] + [(decoded[3] + 1) % model.config.vocab_size]
    same, changed = scoring.continuation_scores(model, prefix, [decoded, other])
    assert same.greedy.tolist() == [True] * 4
    assert changed.greedy.tolist() == [True, True, True, False]
    with torch.no_grad():  # log-probs equal one forward pass over prefix + continuation
        full = torch.log_softmax(model(torch.tensor([prefix + other])).logits[0].float(), -1)
    expected = [full[len(prefix) - 1 + t, other[t]].item() for t in range(4)]
    np.testing.assert_allclose(changed.logp, expected, atol=1e-4)
