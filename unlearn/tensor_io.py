"""Tensor files written through Python's own file I/O.

``torch.save`` and safetensors' ``save_file`` write from C++/Rust: on a real full disk ``torch.save``
raised ``RuntimeError: … unexpected pos …`` instead of an ``OSError``, so the CLI's one-line storage
message never fired (a traceback instead); ``save_file`` writes through Rust too and was not seen to
report an errno either. These helpers
serialise to bytes in memory and write them with :meth:`pathlib.Path.write_bytes`, so a full disk, a quota
or a read-only directory arrive as ``OSError`` with their errno.

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

import io
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as safetensors_bytes


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
