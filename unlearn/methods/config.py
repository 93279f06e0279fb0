"""``MethodConfig``: the ``method`` section of a run config; ``name`` fills in a registered method's defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ontology.common.config import StrictModel
from ontology.common.errors import ConfigError
from unlearn.methods.registry import FORGET_TERMS, METHODS


class MethodConfig(StrictModel):
    """One unlearning method; the registry fills in the defaults of ``name``, explicit keys override them."""

    name: str = Field("dual", description="registry name; sets the defaults of every other key")
    forget_loss: str = Field(
        "token_npo", description=f"the forget term: {', '.join(FORGET_TERMS)} (unlearn/methods/)"
    )
    forget_tokens: Literal["all", "target"] = Field(
        "target",
        description="'target': per-token weights of target tokens from the masks; 'all': every token",
    )
    forget_context_weight: float = Field(
        0.0,
        ge=0,
        description="with forget_tokens 'target': weight of the neutral tokens (neither target nor preserve) of "
        "forget sequences in the forget term, so that the rest of a forgotten record loses its memorised "
        "likelihood too (membership inference reads the whole sequence)",
    )
    keep_loss: Literal["none", "nll"] = Field(
        "nll", description="term on preserve tokens of forget sequences"
    )
    retain_loss: Literal["none", "nll"] = "nll"
    forget_weight: float = Field(1.0, ge=0)
    keep_weight: float = Field(1.0, ge=0)
    keep_gradient: Literal["forget", "retain"] = Field(
        "forget",
        description="side the keep term's gradient joins when gradients are kept apart: 'forget' (one backward "
        "per batch; projected with the forget term) or 'retain' (never projected; a second backward pass "
        "through the forget sequences)",
    )
    retain_weight: float = Field(1.0, ge=0)
    retain_preserve_weight: float = Field(
        1.0,
        ge=1.0,
        description="weight of preservation-critical (role 1) tokens in the retain NLL, relative to 1 for the "
        "other tokens: a retain item's few answer tokens otherwise weigh as little as any question token",
    )
    beta: float = Field(0.1, gt=0, description="NPO / SimNPO / token-NPO temperature")
    reference_k: int = Field(
        32,
        ge=2,
        le=1024,
        description="ref_kl: the reference's most likely tokens kept per position (the rest is one bucket)",
    )
    reference_gap_weight: float = Field(
        0.0,
        ge=0,
        description="ref_kl: weight of the reference-gap term (each record token's log-probability pushed down "
        "to the reference's and no further) added to the KL",
    )
    reference_gap_power: float = Field(
        1.0,
        ge=1.0,
        le=4.0,
        description="ref_kl: exponent of each token's reference gap (2: a token's push grows with its gap, so "
        "the tokens only the record taught move before the template it shares with unseen text)",
    )
    calibration_every: int = Field(
        5,
        ge=1,
        description="ref_kl with data.calibration: steps between measurements of the calibration level",
    )
    gamma: float = Field(0.0, description="SimNPO margin")
    selection: Literal["none", "fisher"] = "fisher"
    rho: float = Field(
        0.001, description="fraction of all parameters selected by the saliency mask, in (0, 1]"
    )
    fisher_batches: int = Field(4, ge=1, description="batches of each stream for the diagonal Fisher")
    projection: Literal["none", "basis", "gru", "pcgrad"] = "basis"
    basis_k: int = Field(8, ge=1, description="retain gradients kept in the projection basis")
    refresh_every: int = Field(
        1, ge=1, description="add the current retain gradient to the basis every K steps"
    )
    max_step_norm: float | None = Field(None, gt=0, description="trust region: L2 bound of one update")
    max_drift: float | None = Field(None, gt=0, description="trust region: L2 bound of the total drift")
    rmu_layer: int = Field(
        -1, description="decoder layer whose output RMU steers (negative counts from the end)"
    )
    rmu_coeff: float = Field(6.5, gt=0, description="RMU steering norm c")
    rmu_alpha: float = Field(100.0, ge=0, description="RMU retain-activation weight α")
    rmu_update_layers: int = Field(
        3, ge=1, description="RMU updates the MLPs of this many layers up to rmu_layer"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("name", "dual")
        if not isinstance(name, str):
            raise ValueError(f"name: expected a method name, got a {type(name).__name__}")
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
        return {**METHODS[name].defaults(), **data, "name": name}

    @field_validator("forget_loss")
    @classmethod
    def _check_forget_loss(cls, value: str) -> str:
        if value not in FORGET_TERMS:
            raise ValueError(f"unknown forget term {value!r}; known: {', '.join(FORGET_TERMS)}")
        return value

    @field_validator("rho")
    @classmethod
    def _check_rho(cls, rho: float) -> float:
        if not 0.0 < rho <= 1.0:
            raise ValueError("rho must lie in (0, 1]")
        return rho

    @property
    def needs_targets(self) -> bool:
        """True when the forget loss acts only on target tokens (so masks must mark some)."""
        return self.forget_tokens == "target"

    @property
    def needs_reference(self) -> bool:
        """True when the forget loss compares with the starting model's log-probabilities."""
        return FORGET_TERMS[self.forget_loss].needs_reference

    @property
    def reads_reference_model(self) -> bool:
        """True when the forget loss reads ``model.reference``, the checkpoint before fine-tuning."""
        return FORGET_TERMS[self.forget_loss].reads_reference_model

    @property
    def separate_gradients(self) -> bool:
        """True when forget and retain gradients must be kept apart (projection between them)."""
        return self.projection != "none"


def method_config(name: str, **overrides: Any) -> MethodConfig:
    """The configuration of a registered method, with ``overrides`` applied.

    Raises
    ------
    ConfigError
        For an unknown method or an invalid override.
    """
    from ontology.common.config import validate_config

    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return validate_config({"name": name, **overrides}, MethodConfig, source=f"method {name}")
