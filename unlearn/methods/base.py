"""What a method is made of, and the interface of a forget term.

A :class:`Method` names its forget term, its retain term, how coordinates are selected and how the forget
gradient is projected, plus the defaults of its other ``MethodConfig`` keys. A :class:`ForgetTerm` is the loss
on forget sequences (a :class:`TokenTerm` when it reads token log-probabilities only); the trainer calls it
through :class:`TermContext`, so a term never sees the trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from torch import Tensor, nn

Batch = Mapping[str, Tensor]


@dataclass(frozen=True)
class Method:
    """A registered method: the defaults ``method.name`` gives to the keys of :class:`MethodConfig`.

    ``forget`` names a forget term (:data:`unlearn.methods.registry.FORGET_TERMS`), ``retain`` the retain
    term (``nll`` or ``none``), ``selection`` the coordinates that may move (``none``: every trainable one,
    ``fisher``: a saliency mask) and ``projection`` the constraint on the forget gradient. ``options`` holds
    any other key whose default differs from the baselines'.
    """

    name: str
    description: str
    forget: str
    retain: str = "none"
    selection: str = "none"
    projection: str = "none"
    forget_tokens: str = "all"
    keep: str = "none"
    options: Mapping[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        """The method's values of the ``MethodConfig`` keys it sets."""
        return {
            "forget_loss": self.forget,
            "retain_loss": self.retain,
            "selection": self.selection,
            "projection": self.projection,
            "forget_tokens": self.forget_tokens,
            "keep_loss": self.keep,
            **self.options,
        }


class TermContext(Protocol):
    """What a forget term may use of the run: its method config, device, model and cached references."""

    method: Any  # unlearn.methods.config.MethodConfig
    cfg: Any  # unlearn.config.RunConfig
    device: Any
    model: Any  # the model being unlearned (a Hugging Face causal LM, before any wrapping)
    fmodel: Any  # the model the forward passes go through (DDP-wrapped on several processes)
    data: Any  # unlearn.trainer.inputs.RunData: the forget and retain datasets
    pad_id: int
    sharded: bool

    def timer(self, name: str) -> Any: ...

    def logits(self, batch: Batch) -> Tensor:
        """The trained model's logits ``[B, T, V]`` on a batch (timed as ``forward``)."""
        ...

    def token_logprobs(self, batch: Batch) -> Tensor:
        """``log p(x_t | x_<t)`` of the trained model on a batch (timed as ``forward``)."""
        ...

    def reference_logprobs(self, batch: Batch, like: Tensor) -> Tensor:
        """The starting model's token log-probabilities of the batch's records, shaped like ``like``."""
        ...


class ForgetTerm:
    """The loss a method puts on forget sequences.

    Subclasses set ``name`` (the ``forget_loss`` value that selects them) and implement :meth:`loss`.
    """

    name: ClassVar[str]
    #: the loss compares with the starting model's token log-probabilities (computed once, before step 0)
    needs_reference: ClassVar[bool] = False
    #: the loss reads ``model.reference`` (the checkpoint before fine-tuning on the records) when one is given
    reads_reference_model: ClassVar[bool] = False
    #: the loss also reads a retain batch (so it needs retain data and cannot be split per sample for DP)
    pairs_retain: ClassVar[bool] = False
    #: the loss reads ``data.calibration`` (comparable never-trained text) when it is given
    reads_calibration: ClassVar[bool] = False

    def setup(self, run: TermContext) -> None:
        """Prepare per-run state; called once after the model is loaded, before adapters and sharding."""

    def prepare_reference(self, run: TermContext) -> None:
        """Compute what the term compares with, from the starting model; called once after adapters and
        sharding, before the coordinates are selected (the model still holds its starting weights)."""

    def default_include(self, run: TermContext) -> list[str] | None:
        """Regexes of the parameters this term trains when ``train.include`` is not set (``None``: all)."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Numbers the term adds to each step's history (none by default)."""
        return {}

    def extra_models(self) -> list[nn.Module]:
        """Models besides the trained one that the run must shard with it (e.g. a frozen copy)."""
        return []

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """``(loss, token log-probabilities or None)`` on a forget batch with per-token ``weights``; the
        log-probabilities, when returned, serve the keep term on the same sequences."""
        raise NotImplementedError


class TokenTerm(ForgetTerm):
    """A forget term computed from the trained model's token log-probabilities of the forget batch (and the
    starting model's, when ``needs_reference``): subclasses implement the pure :meth:`value`."""

    def loss(
        self, run: TermContext, batch: Batch, retain: Batch | None, weights: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        logp = run.token_logprobs(batch)
        ref = run.reference_logprobs(batch, logp) if self.needs_reference else None
        return self.value(logp, ref, weights, run.method), logp

    def value(self, logp: Tensor, ref: Tensor | None, weights: Tensor, method: Any) -> Tensor:
        """The loss from token log-probabilities ``logp`` (``[B, T-1]``), the reference's ``ref`` and the
        per-token ``weights``; ``method`` is the run's MethodConfig."""
        raise NotImplementedError
