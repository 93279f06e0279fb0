"""Hypothesis strategies for hostile files: random bytes, and valid files mutated byte by byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ontology.common.errors import MedunlearnError

#: few examples per reader and loader, so that the whole set runs in well under a minute; a longer campaign:
#: MEDUNLEARN_FUZZ_EXAMPLES=2000 MEDUNLEARN_FUZZ_RANDOM=1 pytest tests/safety -k fuzz
FUZZ = settings(
    max_examples=int(os.environ.get("MEDUNLEARN_FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize=not os.environ.get("MEDUNLEARN_FUZZ_RANDOM"),  # by default the same examples on every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with one to four random edits: flipped, deleted, inserted or repeated bytes, or a cut."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "truncate"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "repeat":
            data[i:i] = data[i : i + draw(st.integers(1, 64))] * draw(st.integers(1, 3))
        else:
            del data[i:]
    return bytes(data)


def hostile(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes or a mutation of ``valid`` (half and half)."""
    return st.one_of(st.binary(max_size=512), mutated(valid))


def only_clean_errors(read: Callable[[], Any]) -> None:
    """Run ``read``: it may return or raise a one-line :class:`MedunlearnError`, nothing else."""
    try:
        read()
    except MedunlearnError as exc:
        assert "\n" not in str(exc), str(exc)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
