"""Where medunlearn keeps its caches: ``$MEDUNLEARN_HOME`` (default ``~/.cache/medunlearn``).

Prepared models live in ``$MEDUNLEARN_HOME/models/<name>/`` as Hugging Face directories
(safetensors + tokenizer). Any package may resolve a model *name* to that directory through
:func:`resolve_model_dir` without importing the unlearn package that prepares it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ontology.common.errors import MedunlearnError


def home() -> Path:
    """The cache root: ``$MEDUNLEARN_HOME`` or ``~/.cache/medunlearn``."""
    return Path(os.environ.get("MEDUNLEARN_HOME") or Path.home() / ".cache" / "medunlearn").expanduser()


def model_cache_dir(name: str) -> Path:
    """The directory a registered model named ``name`` is prepared into."""
    return home() / "models" / name


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A local model/tokenizer directory for a path or a prepared registry name.

    Raises
    ------
    MedunlearnError
        When the path does not exist and no prepared model has that name.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    cached = model_cache_dir(str(name_or_path))
    if (cached / "config.json").is_file() or (cached / "tokenizer.json").is_file():
        return cached
    raise MedunlearnError(
        f"{name_or_path}: no such model directory and no prepared model of that name; "
        f"run `medunlearn model prepare {name_or_path}` or pass a local Hugging Face directory"
    )
