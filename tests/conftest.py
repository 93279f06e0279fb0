"""Shared fixtures: the real data beside the repository, the tiny model, the cached SmolLM2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDUNLEARN_QUIET", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; a test that needs it fails (not skips) under ``CI`` when it is missing."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing at {SHARED_DATA} (CI is set: this must not be skipped)")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
