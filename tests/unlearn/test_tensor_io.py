"""Tensor files: a full disk arrives as OSError(ENOSPC), which the CLI reports in one line."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from unlearn.tensor_io import save_tensors, save_torch

FULL = Path("/dev/full")  # every write fails with ENOSPC
needs_dev_full = pytest.mark.skipif(not FULL.is_char_device(), reason="no /dev/full device on this system")


def test_round_trips(tmp_path: Path) -> None:
    save_tensors({"a": torch.arange(3.0)}, tmp_path / "t.safetensors", metadata={"k": "v"})
    assert load_file(str(tmp_path / "t.safetensors"))["a"].tolist() == [0.0, 1.0, 2.0]
    save_torch({"step": 3, "x": torch.ones(2)}, tmp_path / "s.pt")
    assert torch.load(tmp_path / "s.pt", weights_only=True)["step"] == 3


@needs_dev_full
def test_a_full_disk_is_an_oserror() -> None:
    # (torch.save's own zip writer raised "RuntimeError: unexpected pos" on a real full disk, and raises or not
    # on /dev/full depending on its buffering, so only the helpers' behaviour is asserted)
    for save in (
        lambda: save_torch({"x": torch.ones(1000)}, FULL),
        lambda: save_tensors({"x": torch.ones(1000)}, FULL),
    ):
        with pytest.raises(OSError) as info:
            save()
        assert info.value.errno == errno.ENOSPC


def test_storage_errors_map_only_io_errors(tmp_path: Path) -> None:
    from safetensors import SafetensorError

    from unlearn.tensor_io import storage_errors

    with pytest.raises(OSError) as info, storage_errors(tmp_path / "model"):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / "model"))
    with pytest.raises(SafetensorError, match="invalid header"), storage_errors(tmp_path):
        raise SafetensorError("invalid header")
