"""Where medunlearn keeps its caches: ``$MEDUNLEARN_HOME`` (default ``~/.cache/medunlearn``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cache root: ``$MEDUNLEARN_HOME`` or ``~/.cache/medunlearn``."""
    return Path(os.environ.get("MEDUNLEARN_HOME") or Path.home() / ".cache" / "medunlearn").expanduser()
