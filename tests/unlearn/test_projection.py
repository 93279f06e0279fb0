"""Retain-gradient projection, PCGrad/GRU, trust region, and sharded (all-reduced) inner products."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from unlearn.projection import (
    RetainBasis,
    clip_drift,
    clip_step,
    distributed_sum,
    dot,
    ema_update,
    gather_masked,
    gru_project,
    pcgrad,
    scatter_masked,
)


def test_gather_scatter_round_trip() -> None:
    grads = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([10.0, 20.0])}
    mask = {"a": torch.tensor([[True, False, True], [False, False, True]]), "b": torch.tensor([False, True])}
    vec = gather_masked(grads, mask)
    assert vec.tolist() == [0.0, 2.0, 5.0, 20.0]
    back = scatter_masked(vec, mask, grads)
    assert back["a"].tolist() == [[0.0, 0.0, 2.0], [0.0, 0.0, 5.0]]
    assert back["b"].tolist() == [0.0, 20.0]
    with pytest.raises(ValueError, match="selects 4"):
        scatter_masked(torch.ones(5), mask, grads)


def test_basis_hand_values() -> None:
    basis = RetainBasis(k=2)
    basis.add(torch.tensor([2.0, 0.0, 0.0]))
    basis.add(torch.tensor([1.0, 1.0, 0.0]))  # Gram–Schmidt: e1, then e2
    assert torch.allclose(basis.basis, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert basis.project_out(torch.tensor([3.0, 4.0, 5.0])).tolist() == [0.0, 0.0, 5.0]


def test_projected_forget_step_is_orthogonal_to_retain_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    retain = [torch.randn(200, generator=g) for _ in range(4)]
    basis = RetainBasis(k=4)
    for r in retain:
        basis.add(r)
    u = basis.basis
    assert torch.allclose(u @ u.T, torch.eye(4), atol=1e-5)
    forget = torch.randn(200, generator=g)
    p = basis.project_out(forget)
    for r in retain:
        assert abs(float(p @ r)) < 1e-4 * float(forget.norm() * r.norm())
    # idempotent, and only the in-span part was removed
    assert torch.allclose(basis.project_out(p), p, atol=1e-5)
    assert torch.allclose(u.T @ (u @ (forget - p)), forget - p, atol=1e-4)


def test_basis_keeps_the_last_k_gradients() -> None:
    g = torch.Generator().manual_seed(1)
    vs = [torch.randn(50, generator=g) for _ in range(5)]
    basis = RetainBasis(k=3)
    for v in vs:
        basis.add(v)
    assert len(basis) == 3
    for v in vs[2:]:  # the last three are inside the span
        assert float(basis.project_out(v).norm()) < 1e-4 * float(v.norm())
    for v in vs[:2]:  # the two oldest were dropped (random vectors in 50 dimensions)
        assert float(basis.project_out(v).norm()) > 0.5 * float(v.norm())
    # checkpoint round trip rebuilds the same span
    other = RetainBasis(k=3)
    other.load_state_dict(basis.state_dict())
    x = torch.randn(50, generator=g)
    assert torch.allclose(other.project_out(x), basis.project_out(x), atol=1e-5)


def test_basis_skips_dependent_and_zero_vectors() -> None:
    basis = RetainBasis(k=4)
    basis.add(torch.tensor([1.0, 2.0]))
    basis.add(torch.tensor([-2.0, -4.0]))
    basis.add(torch.zeros(2))
    assert len(basis) == 1
    basis.reset()
    assert len(basis) == 0
    x = torch.tensor([1.0, 1.0])
    assert basis.project_out(x) is x
    with pytest.raises(ValueError, match="k must be"):
        RetainBasis(k=0)


def test_pcgrad_hand_values() -> None:
    # conflict: g_f·g_r = -2, |g_r|² = 2 -> g_f + [1, 1] = [-2, 2], now orthogonal to g_r
    assert pcgrad(torch.tensor([-3.0, 1.0]), torch.tensor([1.0, 1.0])).tolist() == [-2.0, 2.0]
    assert pcgrad(torch.tensor([1.0, -1.0]), torch.tensor([0.0, 1.0])).tolist() == [1.0, 0.0]
    # no conflict (g_f·g_r = 1 >= 0): unchanged
    assert pcgrad(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])).tolist() == [2.0, -1.0]


def test_gru_projects_against_the_retain_average() -> None:
    ema = ema_update(None, torch.tensor([1.0, 0.0]))
    ema = ema_update(ema, torch.tensor([0.0, 2.0]), decay=0.5)  # (1, 0)/2 + (0, 2)/2 = (0.5, 1)
    assert ema.tolist() == [0.5, 1.0]
    # g_f = (-1, -1): g_f·ema = -1.5, |ema|² = 1.25 -> g_f + 1.2·ema = (-0.4, 0.2)
    out = gru_project(torch.tensor([-1.0, -1.0]), ema)
    assert torch.allclose(out, torch.tensor([-0.4, 0.2]))
    assert abs(float(out @ ema)) < 1e-6


def test_trust_region_hand_values() -> None:
    assert torch.allclose(clip_step(torch.tensor([3.0, 4.0]), 1.0), torch.tensor([0.6, 0.8]))
    small = torch.tensor([0.3, 0.4])
    assert clip_step(small, 1.0) is small
    # drift (3, 4) from (1, 0), radius 2.5 -> (1.5, 2) -> (2.5, 2)
    assert torch.allclose(
        clip_drift(torch.tensor([4.0, 4.0]), torch.tensor([1.0, 0.0]), 2.5), torch.tensor([2.5, 2.0])
    )
    inside = torch.tensor([1.5, 0.5])
    assert clip_drift(inside, torch.tensor([1.0, 0.0]), 2.5) is inside
    with pytest.raises(ValueError, match="radius"):
        clip_step(small, 0.0)


def test_distributed_sum_is_identity_without_a_process_group() -> None:
    t = torch.tensor([1.0, 2.0])
    assert distributed_sum(t) is t and t.tolist() == [1.0, 2.0]


class TwoRankSum:
    """Simulated all-reduce between two threads (each plays one rank), in place like ``dist.all_reduce``."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=20)
        self.slots: list[torch.Tensor | None] = [None, None]

    def hook(self, rank: int):
        def all_reduce(t: torch.Tensor) -> torch.Tensor:
            self.slots[rank] = t.clone()
            self.barrier.wait()
            total = self.slots[0] + self.slots[1]
            self.barrier.wait()
            t.copy_(total)
            return t

        return all_reduce


def test_sharded_projection_equals_unsharded() -> None:
    g = torch.Generator().manual_seed(2)
    dim, half = 60, 30
    retain = [torch.randn(dim, generator=g) for _ in range(5)]
    forget = torch.randn(dim, generator=g)
    drift = 10 * torch.randn(dim, generator=g)
    conflicting = -torch.sign(forget @ retain[0]) * retain[0]  # makes PCGrad act
    assert float(forget @ conflicting) < 0

    full = RetainBasis(k=3)
    for r in retain:
        full.add(r)
    expected = full.project_out(forget)
    expected_pc = pcgrad(forget, conflicting)
    expected_clip = clip_step(drift, 1.0)

    reduce = TwoRankSum()

    def rank(i: int) -> tuple[torch.Tensor, ...]:
        sl = slice(i * half, (i + 1) * half)
        hook = reduce.hook(i)
        basis = RetainBasis(k=3, all_reduce=hook)
        for r in retain:
            basis.add(r[sl])
        return (
            basis.project_out(forget[sl]),
            pcgrad(forget[sl], conflicting[sl], all_reduce=hook),
            clip_step(drift[sl], 1.0, all_reduce=hook),
            dot(forget[sl], retain[1][sl], all_reduce=hook),
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        r0, r1 = pool.map(rank, [0, 1])
    assert torch.allclose(torch.cat([r0[0], r1[0]]), expected, atol=1e-5)
    assert torch.allclose(torch.cat([r0[1], r1[1]]), expected_pc, atol=1e-5)
    assert not torch.allclose(expected_pc, forget)
    assert torch.allclose(torch.cat([r0[2], r1[2]]), expected_clip, atol=1e-5)
    assert torch.isclose(r0[3], forget @ retain[1], atol=1e-4) and torch.equal(r0[3], r1[3])
    # the projected step is orthogonal to the retain gradients kept (the last three)
    projected = torch.cat([r0[0], r1[0]])
    assert all(abs(float(projected @ r)) < 1e-4 * float(r.norm() * forget.norm()) for r in retain[2:])
