"""Losses against hand-computed values (small tensors: a few tokens, vocabulary 2–3)."""

from __future__ import annotations

import math

import pytest
import torch

from unlearn.losses import (
    ga_loss,
    kl_to_reference,
    nll_loss,
    npo_loss,
    rmu_control_vector,
    rmu_loss,
    sequence_logprob,
    simnpo_loss,
    token_forget_loss,
    token_keep_loss,
    token_logprobs,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


def test_token_logprobs_hand_values() -> None:
    # position 0: logits [0, ln2, 0] -> softmax [1/4, 1/2, 1/4]; label[1] = 1 -> log(1/2)
    # position 1: logits [0, 0, 0] -> uniform; label[2] = 2 -> log(1/3)
    logits = torch.tensor([[[0.0, LN2, 0.0], [0.0, 0.0, 0.0], [5.0, 1.0, 0.0]]])
    logp = token_logprobs(logits, torch.tensor([[0, 1, 2]]))
    assert logp.shape == (1, 2)
    assert torch.allclose(logp, torch.tensor([[-LN2, -LN3]]))
    # an ignored label gives 0
    logp = token_logprobs(logits, torch.tensor([[0, -100, 2]]))
    assert torch.allclose(logp, torch.tensor([[0.0, -LN3]]))


def test_token_logprobs_upcasts_half_precision() -> None:
    logits = torch.tensor([[[0.0, LN2, 0.0], [0.0, 0.0, 0.0]]])
    logp = token_logprobs(logits.to(torch.bfloat16), torch.tensor([[0, 1]]))
    assert logp.dtype == torch.float32
    assert abs(float(logp[0, 0]) + LN2) < 1e-2


def test_token_logprobs_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        token_logprobs(torch.zeros(1, 3, 4), torch.zeros(1, 2, dtype=torch.long))


def test_nll_and_ga_hand_values() -> None:
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    # equal weights: (ln2 + ln4)/2 = 1.5·ln2
    assert torch.isclose(nll_loss(logp, torch.ones(1, 2)), torch.tensor(1.5 * LN2))
    # weights [1, 3]: (1·ln2 + 3·2ln2)/4 = 1.75·ln2
    assert torch.isclose(nll_loss(logp, torch.tensor([[1.0, 3.0]])), torch.tensor(1.75 * LN2))
    assert torch.isclose(ga_loss(logp, torch.tensor([[1.0, 3.0]])), torch.tensor(-1.75 * LN2))


def test_empty_weights_give_zero_and_finite_gradient() -> None:
    logp = torch.log(torch.tensor([[0.5, 0.25]])).requires_grad_()
    ref = torch.zeros(1, 2)
    zero = torch.zeros(1, 2)
    for loss in (nll_loss(logp, zero), ga_loss(logp, zero), token_forget_loss(logp, ref, zero, beta=0.5)):
        assert float(loss.detach()) == 0.0
        (grad,) = torch.autograd.grad(loss, logp)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_zero_weight_hides_infinite_logprob() -> None:
    logp = torch.tensor([[-math.inf, math.log(0.5)]])
    assert torch.isclose(nll_loss(logp, torch.tensor([[0.0, 1.0]])), torch.tensor(LN2))


def test_npo_hand_values() -> None:
    logp = torch.log(torch.tensor([0.5, 0.25]))
    ref = torch.log(torch.tensor([0.25, 0.25]))
    # ratios π/π_ref = [2, 1]; β = 1: 2·mean(ln 3, ln 2) = ln 6
    assert torch.isclose(npo_loss(logp, ref, beta=1.0), torch.tensor(math.log(6.0)))
    # β = 0.5: (2/0.5)·mean(ln(1 + √2), ln 2)
    expected = 4.0 * (math.log(1 + math.sqrt(2.0)) + LN2) / 2
    assert torch.isclose(npo_loss(logp, ref, beta=0.5), torch.tensor(expected))


def test_npo_uses_log_probability_ratios_not_logits() -> None:
    # Adding a constant to all logits of a position changes the logits, not the probabilities:
    # NPO must not change (a loss on raw logits would).
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3)
    labels = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])
    ref = sequence_logprob(token_logprobs(torch.randn(2, 4, 3), labels))
    base = npo_loss(sequence_logprob(token_logprobs(logits, labels)), ref, beta=0.3)
    shifted = npo_loss(sequence_logprob(token_logprobs(logits + 7.0, labels)), ref, beta=0.3)
    assert torch.isclose(base, shifted, atol=1e-5)
    # and the sequence log-probability is the sum of token log-probabilities
    lp = token_logprobs(logits, labels)
    assert torch.allclose(sequence_logprob(lp), lp.sum(-1))


def _grad(loss_fn, logits: torch.Tensor) -> torch.Tensor:
    x = logits.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss_fn(x), x)
    return g


def test_npo_tends_to_gradient_ascent_as_beta_goes_to_zero() -> None:
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 3)
    labels = torch.randint(0, 3, (3, 5))
    ref_seq = sequence_logprob(token_logprobs(torch.randn(3, 5, 3), labels))

    def seq(x: torch.Tensor) -> torch.Tensor:
        return sequence_logprob(token_logprobs(x, labels))

    # sequence-level gradient ascent: minimise mean_i log π(y_i)
    g_ga = _grad(lambda x: seq(x).mean(), logits)
    errors = []
    for beta in (1.0, 0.1, 0.01, 0.001):
        g_npo = _grad(lambda x, b=beta: npo_loss(seq(x), ref_seq, beta=b), logits)
        errors.append(float((g_npo - g_ga).abs().max()))
    assert errors == sorted(errors, reverse=True)  # monotone approach
    assert errors[-1] < 1e-3 * float(g_ga.abs().max())
    # the token-weighted GA loss has the same direction (it divides by the token count, not the sequences)
    g_tok = _grad(lambda x: ga_loss(token_logprobs(x, labels), torch.ones(3, 4)), logits)
    g_small = _grad(lambda x: npo_loss(seq(x), ref_seq, beta=1e-4), logits)
    cos = torch.nn.functional.cosine_similarity(g_tok.reshape(1, -1), g_small.reshape(1, -1))
    assert float(cos) > 0.9999


def test_token_forget_tends_to_weighted_ga_as_beta_goes_to_zero() -> None:
    torch.manual_seed(2)
    logits = torch.randn(2, 4, 3)
    labels = torch.randint(0, 3, (2, 4))
    ref = token_logprobs(torch.randn(2, 4, 3), labels)
    w = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 1.0]])
    g_ga = _grad(lambda x: ga_loss(token_logprobs(x, labels), w), logits)
    g_tf = _grad(lambda x: token_forget_loss(token_logprobs(x, labels), ref, w, beta=1e-4), logits)
    assert torch.allclose(g_tf, g_ga, atol=1e-5)


def test_token_forget_hand_value() -> None:
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    ref = torch.log(torch.tensor([[0.25, 0.25]]))
    w = torch.tensor([[1.0, 0.5]])
    # β = 1, per token 2·log(1 + p/p_ref) = [2 ln 3, 2 ln 2]; weighted: (2 ln3 + 0.5·2 ln2) / 1.5
    expected = (2 * LN3 + 0.5 * 2 * LN2) / 1.5
    assert torch.isclose(token_forget_loss(logp, ref, w, beta=1.0), torch.tensor(expected))


def test_beta_must_be_positive() -> None:
    x = torch.zeros(2)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="beta"):
            npo_loss(x, x, beta=bad)
        with pytest.raises(ValueError, match="beta"):
            simnpo_loss(x, torch.ones(2), beta=bad)


def test_simnpo_hand_values() -> None:
    logp = torch.tensor([-2.0, -6.0])
    lengths = torch.tensor([2, 3])
    # -β·logp/len = [1, 2]; β = 1: -(2/1)·mean(logσ(1), logσ(2)) = ln(1+e^-1) + ln(1+e^-2)
    expected = math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-2))
    assert torch.isclose(simnpo_loss(logp, lengths, beta=1.0), torch.tensor(expected))
    # γ = 1: arguments [0, 1] -> ln 2 + ln(1+e^-1)
    expected = LN2 + math.log(1 + math.exp(-1))
    assert torch.isclose(simnpo_loss(logp, lengths, beta=1.0, gamma=1.0), torch.tensor(expected))


def test_kl_to_reference_hand_values() -> None:
    # position 0: θ uniform [1/2, 1/2], reference [3/4, 1/4]: KL = 3/4·ln(3/2) + 1/4·ln(1/2)
    # position 1: identical distributions: KL = 0
    logits = torch.tensor([[[0.0, 0.0], [1.0, 2.0]]])
    ref = torch.tensor([[[LN3, 0.0], [1.0, 2.0]]])
    kl0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert torch.isclose(kl_to_reference(logits, ref, torch.tensor([[1.0, 1.0]])), torch.tensor(kl0 / 2))
    assert torch.isclose(kl_to_reference(logits, ref, torch.tensor([[1.0, 0.0]])), torch.tensor(kl0))
    assert float(kl_to_reference(logits, ref, torch.zeros(1, 2))) == 0.0
    # weights aligned with token_logprobs (one position shorter): the last logits position is dropped
    longer = torch.cat([logits, torch.zeros(1, 1, 2)], dim=1)
    longer_ref = torch.cat([ref, torch.ones(1, 1, 2)], dim=1)
    assert torch.isclose(kl_to_reference(longer, longer_ref, torch.tensor([[1.0, 0.0]])), torch.tensor(kl0))
    with pytest.raises(ValueError, match="do not align"):
        kl_to_reference(logits, ref, torch.ones(1, 5))


def test_token_keep_loss_kinds() -> None:
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    w = torch.tensor([[0.0, 1.0]])
    assert torch.isclose(token_keep_loss(logp, w), torch.tensor(2 * LN2))  # -ln(1/4)
    logits = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    ref = torch.tensor([[[0.0, 0.0], [LN3, 0.0], [0.0, 0.0]]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert torch.isclose(token_keep_loss(logp, w, logits, ref, kind="kl"), torch.tensor(kl))
    with pytest.raises(ValueError, match="needs logits"):
        token_keep_loss(logp, w, kind="kl")
    with pytest.raises(ValueError, match="unknown keep loss"):
        token_keep_loss(logp, w, kind="mse")


def test_rmu_hand_values() -> None:
    h_f = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    target = torch.tensor([2.0, 0.0])  # c·u with c = 2, u = e1
    h_r = torch.tensor([[[1.0, 1.0]]])
    h_r0 = torch.tensor([[[0.0, 1.0]]])
    # forget: token 1 ((1-2)² + 0)/2 = 0.5, token 2 ((0-2)² + 1²)/2 = 2.5 -> mean 1.5
    # retain: ((1-0)² + 0)/2 = 0.5, times α = 2 -> 1.0
    assert torch.isclose(rmu_loss(h_f, target, h_r, h_r0, alpha=2.0), torch.tensor(2.5))
    # masking the second forget token: 0.5 + 1.0
    got = rmu_loss(h_f, target, h_r, h_r0, alpha=2.0, forget_mask=torch.tensor([[1.0, 0.0]]))
    assert torch.isclose(got, torch.tensor(1.5))


def test_rmu_control_vector_is_seeded_and_scaled() -> None:
    a = rmu_control_vector(16, 6.5, torch.Generator().manual_seed(3))
    b = rmu_control_vector(16, 6.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.isclose(a.norm(), torch.tensor(6.5))
    assert bool((a >= 0).all())
