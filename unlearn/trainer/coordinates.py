"""The coordinate optimiser of the flat path: the selected coordinates as one flat vector.

Gradient hooks copy each tensor's selected gradient entries into the current *sink* (a flat vector) as soon
as the backward pass produces them and free the full gradient, so forget and retain gradients can be kept
apart; :class:`FlatOptimizer` turns the flat gradient into a step, which is written back into exactly the
selected coordinates. Unselected coordinates and their optimiser moments never exist, so they cannot move.
Sharded (FSDP), each rank holds the selected coordinates of its own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from unlearn.projection import distributed_sum
from unlearn.sharding import local


class FlatOptimizer:
    """Adam (or SGD) on one flat vector of selected coordinates; returns the step instead of applying it."""

    def __init__(
        self, size: int, lr: float, kind: str, betas: tuple[float, float], eps: float, device: Any
    ) -> None:
        self.lr, self.kind, self.betas, self.eps = lr, kind, betas, eps
        self.t = 0
        self.device = device
        self.m = torch.zeros(size, device=device) if kind == "adam" else None
        self.v = torch.zeros(size, device=device) if kind == "adam" else None

    def step(self, grad: Tensor) -> Tensor:
        """The update ``Δθ`` for the gradient ``grad`` (to be added to the parameters)."""
        self.t += 1
        if self.kind == "sgd":
            return -self.lr * grad
        b1, b2 = self.betas
        assert self.m is not None and self.v is not None
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        return -self.lr * m_hat / (v_hat.sqrt() + self.eps)

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "m": self.m, "v": self.v}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state["t"])
        self.m, self.v = (None if x is None else x.to(self.device) for x in (state["m"], state["v"]))


@dataclass
class Slot:
    """One trainable tensor in the flat vector: its selected flat indices and its offset."""

    name: str
    param: nn.Parameter
    index: Tensor | None  # None: every coordinate
    offset: int
    size: int


def make_slots(
    trainable: dict[str, nn.Parameter], mask: dict[str, Tensor] | None, device: Any, sharded: bool
) -> list[Slot]:
    """One slot per tensor with selected coordinates (every coordinate without a ``mask``); sharded, a tensor
    selected on any rank has a slot on every rank (possibly empty), so that all ranks run the same backward
    graph."""
    if mask is not None:
        counts = torch.tensor([int(mask[n].sum()) for n in trainable], dtype=torch.int64, device=device)
        anywhere = (distributed_sum(counts) if sharded else counts).tolist()
    slots, offset = [], 0
    for i, (name, p) in enumerate(trainable.items()):
        if mask is None:
            idx, n = None, local(p).numel()
        else:
            if anywhere[i] == 0:
                continue
            idx = mask[name].reshape(-1).nonzero().squeeze(1).to(p.device)
            n = int(idx.numel())
        slots.append(Slot(name, p, idx, offset, n))
        offset += n
    return slots


class FlatCoordinates:
    """The selected coordinates of ``slots``: gradient hooks into :attr:`sink`, read and write of the values.

    Only the slots' tensors require gradients afterwards, so the backward pass stops at the lowest one.
    """

    def __init__(self, slots: list[Slot], device: Any) -> None:
        self.slots = slots
        self.device = device
        self.sink: Tensor = torch.zeros(0, device=device)
        for s in slots:
            s.param.requires_grad_(True)
        self.handles = [s.param.register_post_accumulate_grad_hook(self._hook(s)) for s in slots]

    def _hook(self, slot: Slot) -> Any:
        def hook(p: Tensor) -> None:
            assert p.grad is not None
            g = local(p.grad).reshape(-1)
            part = g if slot.index is None else g[slot.index]
            self.sink[slot.offset : slot.offset + slot.size] += part.float()
            p.grad = None

        return hook

    @torch.no_grad()
    def read(self) -> Tensor:
        """The selected values as one float32 vector."""
        parts = [torch.zeros(0, device=self.device)]
        for s in self.slots:
            flat = local(s.param.detach()).reshape(-1)
            parts.append((flat if s.index is None else flat[s.index]).float())
        return torch.cat(parts)

    @torch.no_grad()
    def write(self, vec: Tensor) -> None:
        """Write ``vec`` into exactly the selected coordinates."""
        for s in self.slots:
            flat = local(s.param.data).view(-1)
            vals = vec[s.offset : s.offset + s.size].to(flat.dtype)
            if s.index is None:
                flat.copy_(vals)
            else:
                flat[s.index] = vals

    def remove_hooks(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
