"""Tensor, state and model files: never a pickle, and storage failures arrive as ``OSError``.

Nothing here unpickles: checkpoints that users copy between machines must not be able to run code when
they are read. Training state (optimiser moments, RNG states, batch-stream positions, loss history) is a
tree of dicts, lists, tuples, numbers, strings and tensors; :func:`save_state` writes it as one safetensors
file -- the tensors as tensors, the tree as JSON in the file's metadata (``medunlearn-state/1``; floats as
``float.hex`` so that every bit, infinities and NaN included, comes back) -- and :func:`load_state` reads it
back, checking every node, so that a forged file is an error and never code.

Safetensors' writer -- behind ``save_pretrained`` -- raised ``SafetensorError: … I/O error: … (os error
N)`` on a full disk, which never reached the CLI's one-line storage message. :func:`save_tensors` and
:func:`save_state` serialise to bytes in memory and write them with :meth:`pathlib.Path.write_bytes`;
:func:`save_pretrained` keeps transformers' / PEFT's writer and re-raises its I/O errors as ``OSError``
with their errno.

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
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes

_OS_ERROR = re.compile(r"\(os error (\d+)\)")
STATE_FORMAT = "medunlearn-state/1"


class StateFileError(ValueError):
    """A state file that is not what :func:`save_state` writes (truncated, forged, another format)."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor], seen: set[int]) -> Any:
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return {"float": float.hex(obj)}
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        if t.numel() and t.untyped_storage().data_ptr() in seen:  # safetensors refuses shared storage
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        key = f"t{len(tensors)}"
        tensors[key] = t
        return {"tensor": key}
    if isinstance(obj, list):
        return [_encode(v, tensors, seen) for v in obj]
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, tensors, seen) for v in obj]}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, tensors, seen), _encode(v, tensors, seen)] for k, v in obj.items()]}
    raise TypeError(f"cannot store a {type(obj).__name__} in a state file")


def _decode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if node is None or isinstance(node, bool | str | int):
        return node
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise StateFileError(f"unexpected node {str(node)[:60]!r}")
    ((tag, value),) = node.items()
    if tag == "float" and isinstance(value, str):
        try:
            return float.fromhex(value)
        except ValueError:
            raise StateFileError(f"bad float {value[:30]!r}") from None
    if tag == "tensor" and isinstance(value, str):
        if value not in tensors:
            raise StateFileError(f"tensor {value[:30]!r} is missing")
        return tensors[value]
    if tag == "tuple" and isinstance(value, list):
        return tuple(_decode(v, tensors) for v in value)
    if tag == "dict" and isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, list) or len(item) != 2:
                raise StateFileError("a dict item is not a [key, value] pair")
            key = _decode(item[0], tensors)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise StateFileError(f"unhashable dict key {str(item[0])[:30]!r}")
            out[key] = _decode(item[1], tensors)
        return out
    raise StateFileError(f"unknown node {tag[:30]!r}")


def save_state(obj: Any, path: str | Path) -> Path:
    """Write a tree of dicts, lists, tuples, ``None``, bools, ints, floats, strings and tensors to ``path``
    (safetensors; the tree as JSON metadata), never pickling; storage failures raise ``OSError``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.safetensors"
    >>> _ = save_state({"step": 3, 0: (0.9, float("inf")), "m": torch.ones(2)}, path)
    >>> back = load_state(path)
    >>> back["step"], back[0], back["m"].tolist()
    (3, (0.9, inf), [1.0, 1.0])
    """
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(obj, tensors, set())
    metadata = {"format": STATE_FORMAT, "tree": json.dumps(tree, separators=(",", ":"))}
    Path(path).write_bytes(safetensors_bytes(tensors, metadata=metadata))
    return Path(path)


def load_state(path: str | Path) -> Any:
    """Read a file written by :func:`save_state`; no code is ever run.

    Raises
    ------
    StateFileError
        For a file that is not a state file of this format (truncated, garbage, forged, a pickle).
    """
    data = Path(path).read_bytes()
    try:
        tensors = safetensors_load(data)  # checks the header and every tensor's extent (in Rust)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise StateFileError(f"not a safetensors file ({' '.join(str(exc).split())[:120]})") from None
    if metadata.get("format") != STATE_FORMAT:
        raise StateFileError(f"not a {STATE_FORMAT} file (format {str(metadata.get('format'))[:40]!r})")
    try:
        return _decode(json.loads(metadata.get("tree", "")), tensors)
    except (ValueError, RecursionError) as exc:
        raise StateFileError(f"unreadable state tree ({str(exc)[:120]})") from None


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
