"""Tensor and model files whose storage failures arrive as ``OSError``.

``torch.save`` and safetensors write from C++/Rust. On a full disk (and under a file-size limit, which
the tests use to reproduce it) ``torch.save`` raised ``RuntimeError: … unexpected pos …`` with no errno,
and safetensors' writer -- behind ``save_pretrained`` -- raised ``SafetensorError: … I/O error: … (os
error N)``; neither reached the CLI's one-line storage message. :func:`save_torch` and :func:`save_tensors`
serialise to bytes in memory and write them with :meth:`pathlib.Path.write_bytes`; :func:`save_pretrained`
keeps transformers' / PEFT's writer and re-raises its I/O errors as ``OSError`` with their errno.

Examples
--------
>>> import tempfile, pathlib, torch
>>> from safetensors.torch import load_file
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.safetensors"
>>> _ = save_tensors({"a": torch.ones(2)}, path)
>>> load_file(str(path))["a"].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save as safetensors_bytes

_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` into ``path``; storage failures raise ``OSError``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    Path(path).write_bytes(buffer.getbuffer())
    return Path(path)


def save_tensors(
    tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Safetensors file of ``tensors`` at ``path``; storage failures raise ``OSError``."""
    Path(path).write_bytes(safetensors_bytes(tensors, metadata=metadata))
    return Path(path)


@contextlib.contextmanager
def storage_errors(path: str | Path) -> Iterator[None]:
    """Re-raise safetensors' Rust I/O errors (``… (os error N)``) as ``OSError(N)`` naming ``path``.

    Examples
    --------
    >>> with storage_errors("/out/model"):
    ...     raise SafetensorError("Error while serializing: I/O error: File too large (os error 27)")
    Traceback (most recent call last):
    OSError: [Errno 27] File too large: '/out/model'
    """
    try:
        yield
    except SafetensorError as exc:
        found = _OS_ERROR.search(str(exc))
        if found is None:
            raise
        code = int(found.group(1))
        raise OSError(code, os.strerror(code), str(path)) from exc


def save_pretrained(obj: Any, directory: str | Path, **kwargs: Any) -> Path:
    """``obj.save_pretrained(directory, **kwargs)`` (model, PEFT adapter or tokenizer); I/O errors as ``OSError``."""
    with storage_errors(directory):
        obj.save_pretrained(directory, **kwargs)
    return Path(directory)
