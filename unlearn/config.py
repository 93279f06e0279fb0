"""The run configuration of ``medunlearn unlearn run CONFIG.yaml``: model, data, method, training, output.

Relative data paths are resolved against the directory of the YAML file. Every key is checked:
an unknown key or a wrong type is one line naming the file and the key path.

Examples
--------
>>> cfg = RunConfig.model_validate({"data": {"forget": "f.parquet"}, "method": {"name": "graddiff"}})
>>> (cfg.method.forget_loss, cfg.train.steps, cfg.data.max_length)
('ga', 50, 128)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from ontology.common.config import StrictModel, load_config
from unlearn.methods import MethodConfig

#: an Adam moment decay: 1 or more never forgets (the bias correction divides by zero or flips sign)
Beta = Annotated[float, Field(ge=0, lt=1)]


class ModelSection(StrictModel):
    """Which model to unlearn and how to hold it."""

    name: str = Field("tiny-llama", description="registry name, local HF directory or .gguf file")
    dtype: Literal["float32", "bfloat16"] = "float32"
    gradient_checkpointing: bool = False
    reference: str | None = Field(
        None,
        description="the checkpoint before fine-tuning on the records to forget (registry name, local HF "
        "directory or .gguf): it never saw them. dual's forget objective (ref_kl) matches its next-token "
        "distributions on the forget records; without one it uses the starting model's own distributions with "
        "each record token taken out (docs/method-choices.md)",
    )


class DataSection(StrictModel):
    """Forget and retain data.

    ``forget`` is a MASKS Parquet file from ``medunlearn hierarchy masks`` (or, for baselines that use every
    token, plain text / MCQ JSONL). ``retain`` is a list of files: MASKS Parquet, JSONL of texts
    (``text_field``), JSONL of MCQ items (MedMCQA ``question, opa..opd, cop`` or ``question, options, answer``),
    or ``.txt`` with one text per line.
    """

    forget: str
    retain: list[str] = Field(default_factory=list)
    calibration: list[str] = Field(
        default_factory=list,
        description="comparable text that no model involved ever trained on (files in forget_format: MASKS, text JSONL "
        "or .txt): ref_kl stops forgetting a record once the model finds it no more "
        "familiar, relative to the reference, than this text; without it ref_kl runs to the reference",
    )
    forget_format: Literal["auto", "masks", "text", "mcq"] = "auto"
    retain_format: Literal["auto", "masks", "text", "mcq"] = "auto"
    text_field: str = "text"
    max_length: int = Field(128, ge=8)
    exclude: dict[str, list[str]] = Field(
        default_factory=dict,
        description="drop retain JSONL rows whose field is one of the values, e.g. subject_name: [Surgery]",
    )
    limit: int | None = Field(None, ge=1, description="keep at most this many records of each retain file")


class LoraSection(StrictModel):
    """PEFT LoRA mode: train low-rank adapters instead of selected coordinates."""

    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    merge: bool = Field(True, description="also write a merged copy of the model")


class DPSection(StrictModel):
    """Differential privacy: per-sample clipping and Gaussian noise on the update."""

    enabled: bool = False
    noise_multiplier: float = Field(1.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    delta: float = Field(1e-5, gt=0, lt=1)


class TrainSection(StrictModel):
    """The loop: steps, batches, optimiser, stopping, checkpoints."""

    steps: int = Field(50, ge=1)
    batch_size: int = Field(4, ge=1)
    retain_batch_size: int | None = Field(None, ge=1, description="default: batch_size")
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(1e-3, gt=0, description="learning rate: positive and finite")
    optimizer: Literal["adam", "sgd"] = "adam"
    adam_betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="Adam's beta1 and beta2, each in [0, 1)")
    adam_eps: float = Field(1e-8, gt=0)
    seed: int = 0
    include: list[str] | None = Field(None, description="regexes of parameter names that may change")
    exclude: list[str] | None = Field(None, description="regexes of parameter names that must not change")
    layers: list[int] | None = Field(None, description="only these decoder layers may change")
    retain_budget: float | None = Field(
        None,
        gt=0,
        description="stop when the retain loss (mean of the last retain_budget_window steps) exceeds this "
        "multiple of its baseline (mean of the first retain_budget_window steps)",
    )
    retain_budget_window: int = Field(5, ge=1, description="steps averaged by the retain budget")
    checkpoint_every: int = Field(10, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    stop_after: int | None = Field(None, ge=1, description="interrupt after this many steps (resumable)")
    cpu: bool = Field(False, description="force CPU even when an accelerator is present")
    fast_pass: bool = Field(
        True,
        description="skip work that cannot change a loss: the LM head on padding, and the frozen lower layers of a "
        "record already seen (unlearn/trainer/fast_pass.py); False: full forward passes (same numbers up to "
        "float rounding)",
    )
    fsdp: bool = Field(
        False,
        description="shard the parameters over the ranks of torchrun / accelerate launch with FSDP2 (one unit "
        "per decoder layer); the update runs on each rank's shard of the selected coordinates. Also on when "
        "accelerate is launched with an FSDP config. Not with LoRA or DP",
    )
    lora: LoraSection = Field(default_factory=LoraSection)
    dp: DPSection = Field(default_factory=DPSection)


class OutputSection(StrictModel):
    """Where and what to write."""

    dir: str = "runs/unlearn"
    save_model: bool = True
    save_patch: bool = True
    resume: bool = Field(True, description="continue from the latest checkpoint in dir when one exists")


class RunConfig(StrictModel):
    """A whole unlearning run."""

    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection
    method: MethodConfig = Field(default_factory=MethodConfig)
    train: TrainSection = Field(default_factory=TrainSection)
    output: OutputSection = Field(default_factory=OutputSection)


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def load_run_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read, validate and resolve a run config (data and output paths relative to the YAML file)."""
    cfg = load_config(path, RunConfig, overrides)
    base = Path(path).resolve().parent
    cfg.data.forget = _resolve(base, cfg.data.forget)
    cfg.data.retain = [_resolve(base, r) for r in cfg.data.retain]
    cfg.data.calibration = [_resolve(base, r) for r in cfg.data.calibration]
    cfg.output.dir = _resolve(base, cfg.output.dir)
    model_path = base / cfg.model.name
    if model_path.exists():
        cfg.model.name = str(model_path)
    return cfg


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["train.steps=5", "method.name=npo"]`` → ``{"train.steps": 5, "method.name": "npo"}`` (YAML-typed values).

    Examples
    --------
    >>> parse_overrides(["train.steps=5", "method.rho=1e-3", "train.layers=[1]"])
    {'train.steps': 5, 'method.rho': 0.001, 'train.layers': [1]}
    """
    import yaml

    from ontology.common.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value (e.g. train.steps=10)")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and _NUMBER.fullmatch(parsed.strip()):
            parsed = float(parsed)  # YAML 1.1 reads "1e-3" as a string
        out[key.strip()] = parsed
    return out
