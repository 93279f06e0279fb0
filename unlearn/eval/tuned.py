"""The tuned-settings file: what ``medunlearn eval tune`` chose, read by ``medunlearn eval suite``.

``OUT/tuned.json`` (by default beside the suite's stages) holds::

    {"version": 1, "suite": name, "forget": label, "size": size, "model": model,
     "rule": "…", "kp_min": 0.95,                       # the selection rule, in words and its threshold
     "split": {"forget": [ids], "forget_holdout": …, "retain": …, "retain_holdout": …},   # the tuning split
     "budget": {"trials": N, "seed": s},
     "reference": {"memorized": {split: acc}, "oracle": {split: acc}},   # on the tuning split
     "methods": {method: {"space": {key: [lo, hi]}, "chosen": {"lr": x, key: y}, "trial": i,
                          "eligible": bool, "trials": [{"settings": {…}, "accuracy": {…}, "efficacy": …,
                                                        "kp": …, "harmonic": …, "status": …, "steps": …}]}}}

:func:`apply_tuned` puts each chosen learning rate and knob into the unlearn recipe of a suite run; the run's
``results.json`` copies the file as its ``tuning`` section (:meth:`Tuned.section`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontology.common.atomic import atomic_write_json
from ontology.common.config import validate_config
from ontology.common.errors import InputError, MedunlearnError
from unlearn.recipes import Recipe, UnlearnRecipe

TUNED_FILE = "tuned.json"
TUNED_VERSION = 1


@dataclass
class Tuned:
    """The content of a tuned-settings file and where it was read from."""

    data: dict[str, Any]
    path: Path

    @property
    def split(self) -> dict[str, list[str]]:
        """The tuning split's item ids by part."""
        return {k: list(v) for k, v in self.data["split"].items()}

    def chosen(self, method: str) -> dict[str, float] | None:
        """The chosen settings of ``method`` (``lr`` and its knob), ``None`` when it was not tuned."""
        entry = self.data["methods"].get(method)
        return None if entry is None else dict(entry["chosen"])

    def section(self, methods: Sequence[str]) -> dict[str, Any]:
        """The ``tuning`` section of a suite run's results: the file's content, where it came from, and which
        of the run's methods it tuned (the others ran the recipe's settings)."""
        return {
            **self.data,
            "file": str(self.path),
            "tuned_methods": [m for m in methods if m in self.data["methods"]],
            "untuned_methods": [m for m in methods if m not in self.data["methods"]],
        }


def identity(suite: str, forget: str, size: str, model: str) -> dict[str, str]:
    """The keys that tie a tuned file to one suite, forget set, size and model."""
    return {"suite": suite, "forget": forget, "size": size, "model": model}


def write_tuned(path: Path, data: Mapping[str, Any]) -> Tuned:
    """Write a tuned-settings file (atomically)."""
    atomic_write_json(path, {"version": TUNED_VERSION, **data})
    return Tuned(dict(data), path)


def read_tuned(path: Path, expect: Mapping[str, str], split: Mapping[str, Sequence[str]]) -> Tuned:
    """Read a tuned-settings file and check that it belongs to this run: same suite, forget set, size and
    model (``expect``, see :func:`identity`) and the same tuning split.

    Raises
    ------
    MedunlearnError
        A missing or unreadable file, another version, or a file made for another run (the key is named).
    """
    if not path.is_file():
        raise MedunlearnError(f"{path}: no tuned settings there (run `medunlearn eval tune` first)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a tuned-settings JSON file ({exc})", path=path) from None
    if not isinstance(data, dict) or data.get("version") != TUNED_VERSION:
        raise InputError(f"not a tuned-settings file of version {TUNED_VERSION}", path=path)
    for key in ("methods", "split"):
        if not isinstance(data.get(key), dict):
            raise InputError(f"key {key!r} missing or not a mapping", path=path)
    for key, want in expect.items():
        if data.get(key) != want:
            raise MedunlearnError(f"{path}: {key} is {data.get(key)!r}, this run's is {want!r}")
    if {k: list(v) for k, v in split.items()} != data["split"]:
        raise MedunlearnError(f"{path}: its tuning split differs from this run's (other data or --limit)")
    for name, entry in data["methods"].items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("chosen"), dict)
            or "lr" not in entry["chosen"]
        ):
            raise InputError(f"methods.{name}.chosen: missing or without 'lr'", path=path)
    return Tuned(data, path)


def apply_tuned(recipe: Recipe, tuned: Tuned, methods: Sequence[str]) -> Recipe:
    """``recipe`` with the chosen learning rate and knob of every tuned method among ``methods``."""
    u = recipe.unlearn
    lr, options = dict(u.lr), {m: dict(v) for m, v in u.method.items()}
    for m in methods:
        chosen = tuned.chosen(m)
        if chosen is None:
            continue
        lr[m] = float(chosen.pop("lr"))
        if chosen:
            options[m] = {**options.get(m, {}), **chosen}
    data = {**u.model_dump(), "lr": lr, "method": options}
    unlearn = validate_config(data, UnlearnRecipe, source=f"{tuned.path}: tuned unlearn recipe")
    return recipe.model_copy(update={"unlearn": unlearn})
