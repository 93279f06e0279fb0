"""Per-sample clipping, seeded Gaussian noise, and the RDP accountant against published values."""

from __future__ import annotations

import math

import pytest
import torch

from unlearn.dp import (
    DEFAULT_ORDERS,
    RDPAccountant,
    add_noise,
    clip_per_sample,
    eps_from_rdp,
    private_mean,
    rdp_sampled_gaussian,
)

# Orders used by TF Privacy's compute_dp_sgd_privacy (tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_lib.py)
TF_ORDERS = [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5] + list(range(5, 64)) + [128, 256, 512]
# Opacus RDPAccountant.DEFAULT_ALPHAS
OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def test_clip_per_sample_hand_values() -> None:
    g = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    # norms 5, 0.5, 0 with C = 1: the first is scaled by 1/5, the others unchanged (no NaN for 0)
    out = clip_per_sample(g, 1.0)
    assert torch.allclose(out, torch.tensor([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]]))
    # per-sample gradients of any shape: the norm is over everything but the first axis
    g3 = torch.tensor([[[3.0], [4.0]], [[0.0], [1.0]]])
    assert torch.allclose(clip_per_sample(g3, 2.0), torch.tensor([[[1.2], [1.6]], [[0.0], [1.0]]]))
    with pytest.raises(ValueError, match="clipping norm"):
        clip_per_sample(g, 0.0)


def test_noise_is_seeded_and_has_the_right_scale() -> None:
    zero = torch.zeros(200_000)
    a = add_noise(zero, sigma=1.5, max_norm=2.0, generator=torch.Generator().manual_seed(7))
    b = add_noise(zero, sigma=1.5, max_norm=2.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert abs(float(a.std()) - 3.0) < 0.03  # σ·C = 3
    assert abs(float(a.mean())) < 0.03
    same = torch.tensor([1.0, 2.0])
    assert torch.equal(add_noise(same, 0.0, 1.0), same)
    with pytest.raises(ValueError, match="noise multiplier"):
        add_noise(same, -1.0, 1.0)


def test_private_mean_hand_values() -> None:
    g = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    # σ = 0: ([0.6, 0.8] + [0.3, 0.4]) / 2
    assert torch.allclose(private_mean(g, 1.0, 0.0), torch.tensor([0.45, 0.6]))
    assert torch.allclose(private_mean(g, 1.0, 0.0, expected_batch_size=3), torch.tensor([0.3, 0.4]))


def test_rdp_without_subsampling_is_the_gaussian_closed_form() -> None:
    # q = 1: ε(α) = α / (2σ²); 3 steps at σ = 2, α = 3: 3·3/8
    acc = RDPAccountant(orders=[3.0])
    acc.step(2.0, 1.0, steps=3)
    assert acc.rdp()[0] == pytest.approx(9 / 8)
    # conversion by hand at the single order: ε = r + log((α-1)/α) - (log δ + log α)/(α-1)
    r, alpha, delta = 9 / 8, 3.0, 1e-5
    expected = r + math.log((alpha - 1) / alpha) - (math.log(delta) + math.log(alpha)) / (alpha - 1)
    assert acc.epsilon(delta) == pytest.approx(expected)


def test_integer_order_hand_value() -> None:
    # α = 2: A = (1-q)² + 2q(1-q) + q²·e^{1/σ²}; with q = 0.5, σ = 1: 0.25 + 0.5 + 0.25e
    assert rdp_sampled_gaussian(0.5, 1.0, 2.0) == pytest.approx(math.log(0.75 + 0.25 * math.e))
    assert rdp_sampled_gaussian(0.0, 1.0, 2.0) == 0.0
    assert rdp_sampled_gaussian(0.5, 0.0, 2.0) == math.inf


@pytest.mark.parametrize(
    ("n", "batch", "sigma", "epochs", "delta", "eps", "order"),
    [
        # tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py
        (60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0),
        (100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0),
        (100000000, 1024, 0.1, 10, 1e-7, 5907982.3113978775, 1.25),
    ],
)
def test_accountant_matches_tf_privacy(n, batch, sigma, epochs, delta, eps, order) -> None:
    acc = RDPAccountant(orders=TF_ORDERS)
    acc.step(noise_multiplier=sigma, sample_rate=batch / n, steps=math.ceil(epochs * n / batch))
    got, got_order = acc.epsilon_and_order(delta)
    assert got == pytest.approx(eps, rel=1e-9)
    assert got_order == order


def test_accountant_matches_opacus_published_values() -> None:
    # opacus tests/accountants_test.py: σ = 1.5, q = 0.04, 90 epochs -> 7.3291 < ε < 7.3292 at δ = 1e-5
    acc = RDPAccountant(orders=OPACUS_ORDERS)
    for _ in range(3):
        acc.step(1.5, 0.04, steps=750)
    assert len(acc.history) == 1 and acc.steps == int(90 / 0.04)
    assert 7.3291 < acc.epsilon(1e-5) < 7.3292
    # opacus/accountants/analysis/rdp.py module docstring: two mechanisms, orders 2..32 -> (0.336, 23)
    acc = RDPAccountant(orders=range(2, 33))
    acc.step(1.0, 1e-5, steps=10)
    acc.step(3.0, 1e-4, steps=4)
    eps, order = acc.epsilon_and_order(1e-5)
    assert round(eps, 3) == 0.336 and order == 23


def test_accountant_mnist_setting_pinned() -> None:
    # Abadi et al. 2016 MNIST-style setting: q = 600/60000 = 0.01, σ = 1.1, 100 epochs = 10,000 steps, δ = 1e-5.
    # Reference computed once with opacus 1.6.0 (RDPAccountant().get_epsilon(1e-5) after these steps):
    # 5.63199236854841; with 6,000 steps: 4.246594675698365; σ = 4, 10,000 steps: 1.0354900660362476.
    for sigma, steps, expected in [
        (1.1, 10_000, 5.63199236854841),
        (1.1, 6_000, 4.246594675698365),
        (4.0, 10_000, 1.0354900660362476),
    ]:
        acc = RDPAccountant(orders=OPACUS_ORDERS)
        acc.step(sigma, 0.01, steps)
        assert acc.epsilon(1e-5) == pytest.approx(expected, rel=1e-8)
    # the default orders extend Opacus's; the optimum here is inside both
    acc = RDPAccountant()
    acc.step(1.1, 0.01, 10_000)
    assert acc.epsilon(1e-5) == pytest.approx(5.63199236854841, rel=1e-8)


def test_accountant_against_opacus_if_installed() -> None:
    rdp_mod = pytest.importorskip("opacus.accountants.analysis.rdp")
    for q, sigma, alpha in [
        (0.01, 1.1, 2.5),
        (0.01, 1.1, 7.3),
        (0.0025, 1.3, 19.0),
        (0.3, 0.7, 1.5),
        (0.01, 4.0, 63.0),
    ]:
        theirs = float(rdp_mod.compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=[alpha])[0])
        assert rdp_sampled_gaussian(q, sigma, alpha) == pytest.approx(theirs, rel=1e-9)
    from opacus.accountants import RDPAccountant as OpacusRDP

    theirs = OpacusRDP()
    theirs.history = [(0.9, 0.02, 500)]
    ours = RDPAccountant(orders=OPACUS_ORDERS)
    ours.step(0.9, 0.02, 500)
    assert ours.epsilon(1e-6) == pytest.approx(theirs.get_epsilon(1e-6), rel=1e-9)


def test_accountant_state_and_edges() -> None:
    acc = RDPAccountant()
    assert acc.epsilon(1e-5) == 0.0
    acc.step(1.0, 0.1, 5)
    acc.step(2.0, 0.1, 5)
    other = RDPAccountant(orders=[2.0])
    other.load_state_dict(acc.state_dict())
    assert other.orders == DEFAULT_ORDERS and other.history == acc.history
    assert other.epsilon(1e-5) == acc.epsilon(1e-5)
    with pytest.raises(ValueError, match="delta"):
        acc.epsilon(0.0)
    with pytest.raises(ValueError, match="steps"):
        acc.step(1.0, 0.1, -1)
    with pytest.raises(ValueError, match="sample rate"):
        rdp_sampled_gaussian(1.5, 1.0, 2.0)
    assert eps_from_rdp([2.0, 3.0], [math.inf, 0.1], 1e-5)[1] == 3.0
