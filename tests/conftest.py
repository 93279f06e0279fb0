"""Shared fixtures: the real data beside the repository, a fresh model cache, the tiny model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDUNLEARN_QUIET", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reads ``../shared/data`` (through the fixture) ``shared_data``, so that
    ``-m "not shared_data"`` runs the rest on a machine without it."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


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


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty ``$MEDUNLEARN_HOME`` (model cache, generated demo data): ``tmp_path / "home"``."""
    path = tmp_path / "home"
    monkeypatch.setenv("MEDUNLEARN_HOME", str(path))
    return path


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$MEDUNLEARN_HOME`` for the fixtures and tests of one module (a model prepared once per module)."""
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDUNLEARN_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny(module_home: Path) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of the tiny random Llama, prepared once per module."""
    from unlearn.models import load_model

    return load_model("tiny-llama")
