"""Typed training recipes shared by the benchmark suites and the demo: memorize/oracle, unlearn, relearn.

A :class:`Recipe` is what one size of a suite (``unlearn/eval/suites/*.yaml``) or one model of the demo
(``unlearn/demo/recipes.yaml``) fixes: the model, the sequence length and the recipe of every stage. Its
:class:`UnlearnRecipe` turns into the typed run config of each method (:meth:`UnlearnRecipe.run_config`);
its :class:`TuneRecipe` is the search space of ``medunlearn eval tune``.

Examples
--------
>>> u = UnlearnRecipe(steps=3, lr={"dual": 0.1, "default": 0.001}, method={"dual": {"rho": 0.01}})
>>> cfg = u.run_config("dual", seed=1, model="m", forget="f.parquet", retain=["r.parquet"], max_length=64)
>>> (cfg.train.steps, cfg.train.lr, cfg.method.rho, u.lr_for("npo"))
(3, 0.1, 0.01, 0.001)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, model_validator

from ontology.common.config import StrictModel, validate_config
from ontology.common.errors import MedunlearnError
from unlearn.config import RunConfig, TrainSection
from unlearn.finetune import FinetuneConfig
from unlearn.methods import METHODS, MethodConfig


class UnlearnRecipe(StrictModel):
    """The budget every method gets: same steps, batch and data; learning rate and options per method."""

    steps: int = Field(10, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"default": 1e-3}, description="per method; 'default' for the others"
    )
    method: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-method overrides of the method registry (e.g. rho)"
    )
    train: dict[str, Any] = Field(
        default_factory=dict, description="extra keys of the run config's train section (e.g. retain_budget)"
    )
    checkpoint_every: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _check_overrides(self) -> UnlearnRecipe:
        """Overrides are checked when the recipe is read, not when a stage first needs them."""
        for name, keys in self.method.items():
            if name not in METHODS:
                raise ValueError(f"method: unknown method {name!r}; known: {', '.join(METHODS)}")
            validate_config({"name": name, **keys}, MethodConfig, source=f"method.{name}")
        validate_config(self.train, TrainSection, source="train")
        return self

    def lr_for(self, method: str) -> float:
        """The learning rate of ``method`` (its own entry, else ``default``)."""
        if method in self.lr:
            return self.lr[method]
        if "default" not in self.lr:
            raise MedunlearnError(f"the recipe has no learning rate for {method!r} and no 'default'")
        return self.lr["default"]

    def run_config(
        self, method: str, *, seed: int, model: str, forget: str, retain: Sequence[str], max_length: int,
        reference: str | None = None,
    ) -> RunConfig:  # fmt: skip
        """The run config of ``method`` on this budget (``output.dir`` is the stage's, set when it runs).

        ``reference`` (the model before fine-tuning on the records) becomes ``model.reference`` when the
        method's forget term reads one (``ref_kl``); other methods' configs, and their stage keys, leave it out.
        """
        data = {
            "model": {"name": model},
            "data": {"forget": forget, "retain": list(retain), "max_length": max_length},
            "method": {"name": method, **self.method.get(method, {})},
            "train": {
                "steps": self.steps,
                "batch_size": self.batch_size,
                "lr": self.lr_for(method),
                "seed": seed,
                "checkpoint_every": self.checkpoint_every,
                **self.train,
            },
        }
        cfg = validate_config(data, RunConfig, source=f"unlearn recipe of {method}")
        if reference and cfg.method.reads_reference_model:
            cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"reference": reference})})
        return cfg


class RelearnRecipe(StrictModel):
    """The relearning attack: ``steps`` fine-tuning steps on half of the forget items."""

    steps: int = Field(5, ge=1)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(1e-3, gt=0)
    train_layers: int | None = Field(None, ge=1)


class TuneRecipe(StrictModel):
    """The tuning budget every method gets (``medunlearn eval tune``): ``trials`` runs of the unlearn recipe on
    the tuning split, over a log-uniform range of its learning rate and of at most one other key of its
    ``MethodConfig`` (its main knob); a method without a knob is tuned over its learning rate alone."""

    trials: int = Field(8, ge=1, description="trials per method")
    seed: int = Field(0, description="seed of the trial points (the same design for every method)")
    lr: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="learning-rate range [lo, hi] per method; 'default' for the others"
    )
    knobs: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict, description="per method: {MethodConfig key: [lo, hi]}, at most one key"
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> TuneRecipe:
        for where, lo, hi in [(f"lr.{m}", *r) for m, r in self.lr.items()] + [
            (f"knobs.{m}.{k}", *r) for m, kv in self.knobs.items() for k, r in kv.items()
        ]:
            if not 0 < lo <= hi:
                raise ValueError(f"{where}: a range [lo, hi] needs 0 < lo <= hi (log-uniform)")
        for name, kv in self.knobs.items():
            if name not in METHODS:
                raise ValueError(f"knobs: unknown method {name!r}; known: {', '.join(METHODS)}")
            if len(kv) > 1:
                raise ValueError(f"knobs.{name}: one main knob per method, got {', '.join(kv)}")
            for key in kv:
                field = MethodConfig.model_fields.get(key)
                if field is None or field.annotation not in (float, int, float | None):
                    raise ValueError(f"knobs.{name}: {key!r} is not a numeric key of the method section")
        return self

    def space(self, method: str) -> dict[str, tuple[float, float]]:
        """The ranges of ``method``'s trials: ``lr`` and its knob (if any)."""
        if method in self.lr:
            lr = self.lr[method]
        elif "default" in self.lr:
            lr = self.lr["default"]
        else:
            raise MedunlearnError(
                f"the tuning recipe has no learning-rate range for {method!r} and no 'default'"
            )
        return {"lr": lr, **self.knobs.get(method, {})}


class Recipe(StrictModel):
    """Everything a suite size (or a demo model) fixes: the model and the recipes of memorize/oracle,
    unlearn and relearn."""

    model: str
    max_length: int = Field(
        256, ge=8, description="tokens per text in every stage; the answer ends the text, so keep it whole"
    )
    methods: list[str] = Field(default_factory=lambda: ["dual", "graddiff", "npo"])
    memorize: FinetuneConfig = Field(default_factory=FinetuneConfig)
    unlearn: UnlearnRecipe = Field(default_factory=UnlearnRecipe)
    relearn: RelearnRecipe = Field(default_factory=RelearnRecipe)
    tune: TuneRecipe | None = Field(None, description="the tuning budget (medunlearn eval tune)")

    def check_methods(self, methods: Sequence[str]) -> None:
        """One line for a method that is not registered or has no learning rate here, before any stage runs."""
        if unknown := [m for m in methods if m not in METHODS]:
            raise MedunlearnError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
        if not methods:
            raise MedunlearnError("no method to run")
        for m in methods:
            self.unlearn.lr_for(m)
