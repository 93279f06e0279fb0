"""Membership-inference scores on a toy distribution worked out by hand, and on the tiny Llama."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from ontology.common.errors import MedunlearnError
from unlearn.eval import mia
from unlearn.eval.scoring import token_logprobs

P = torch.tensor([0.5, 0.25, 0.25])


class ConstantLM(torch.nn.Module):
    """Predicts the same next-token distribution ``P`` at every position, whatever the input."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        b, t = input_ids.shape
        return SimpleNamespace(logits=P.log().expand(b, t, 3).clone())


class CharTokenizer:
    """``a b c`` -> token ids 0 1 2."""

    pad_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": ["abc".index(c) for c in text]}


def test_min_k_pp_on_a_toy_distribution() -> None:
    # For P = (1/2, 1/4, 1/4): mu = ½ln½ + ½ln¼ = -1.5 ln2, E[(log p)²] = ½(ln2)² + ½(2 ln2)² = 2.5 (ln2)²,
    # sigma = sqrt(2.5 - 2.25) ln2 = 0.5 ln2; token 0: (ln½ - mu) / sigma = +1, tokens 1, 2: -1.
    ln2 = math.log(2)
    (ts,) = token_logprobs(ConstantLM(), [[0, 1, 1, 0, 2]], stats=True)
    assert math.isnan(ts.logp[0])
    np.testing.assert_allclose(ts.logp[1:], [-2 * ln2, -2 * ln2, -ln2, -2 * ln2], rtol=1e-6)
    np.testing.assert_allclose(ts.mu[1:], -1.5 * ln2, rtol=1e-6)
    np.testing.assert_allclose(ts.sigma[1:], 0.5 * ln2, rtol=1e-5)
    np.testing.assert_allclose(
        mia.min_k_pp_values(ts.logp[1:], ts.mu[1:], ts.sigma[1:]), [-1, -1, 1, -1], atol=1e-5
    )

    s = mia.attack_scores(ts.logp, ts.mu, ts.sigma, "abbac", k=0.5)
    assert s["min_k_pp"] == pytest.approx(-1.0, abs=1e-5)  # lowest 2 of (-1, -1, 1, -1)
    assert s["min_k"] == pytest.approx(-2 * ln2, rel=1e-6)  # lowest 2 of the log-probs
    assert s["loss"] == pytest.approx(-(7 * ln2) / 4, rel=1e-6)  # minus the mean NLL
    import zlib

    assert s["zlib"] == pytest.approx(s["loss"] / len(zlib.compress(b"abbac")))
    s1 = mia.attack_scores(ts.logp, ts.mu, ts.sigma, "abbac", k=1.0)
    assert s1["min_k_pp"] == pytest.approx(-0.5, abs=1e-5)


def test_lowest_k_rounding() -> None:
    v = np.array([-4.0, -3.0, -2.0, -1.0, 0.0])
    assert mia.lowest_k_mean(v, 0.2) == -4.0  # floor(1.0) = 1
    assert mia.lowest_k_mean(v, 0.5) == -3.5  # floor(2.5) = 2
    assert mia.lowest_k_mean(v, 0.01) == -4.0  # at least one token
    assert math.isnan(mia.lowest_k_mean(np.array([np.nan]), 0.2))


def test_mia_aucs_separate_members_under_a_constant_model() -> None:
    # members hold only the likely token "a", every non-member an unlikely "b" or "c": every attack ranks all members first
    result = mia.mia_aucs(ConstantLM(), CharTokenizer(), ["aaaa", "aaaaaa"], ["bbbb", "bbbc", "aaab"], k=0.5)
    assert set(result.auc) == set(mia.ATTACKS)
    for attack in ("loss", "min_k", "min_k_pp"):
        assert result.auc[attack] == 1.0, attack
    assert result.sizes == {"members": 2, "nonmembers": 3}
    roc = result.roc()["loss"]
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0
    with pytest.raises(MedunlearnError, match="at least one member"):
        mia.mia_aucs(ConstantLM(), CharTokenizer(), [], ["ab"])
    with pytest.raises(MedunlearnError, match="fewer than two tokens"):
        mia.mia_aucs(ConstantLM(), CharTokenizer(), ["a"], ["ab"])


def test_tiny_llama_scores_do_not_depend_on_batching(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    texts = [
        "The patient underwent a laparoscopic appendectomy.",
        "Panic disorder is a mental disorder.",
        "Cholecystectomy removes the gallbladder; hernia repair closes a defect in the abdominal wall.",
    ]
    one = mia.text_scores(model, tok, texts, batch_size=1)
    three = mia.text_scores(model, tok, texts, batch_size=3)  # right padding must not change any score
    for attack in mia.ATTACKS:
        np.testing.assert_allclose(one[attack], three[attack], rtol=1e-4, atol=1e-5)
    result = mia.mia_aucs(model, tok, texts[:2], texts[2:])
    assert all(0.0 <= v <= 1.0 for v in result.auc.values())
