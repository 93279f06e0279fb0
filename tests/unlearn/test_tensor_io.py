"""Tensor and state files: never a pickle; a full disk arrives as OSError(ENOSPC), which the CLI reports in one line."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from unlearn.tensor_io import StateFileError, load_state, save_state, save_tensors

FULL = Path("/dev/full")  # every write fails with ENOSPC
needs_dev_full = pytest.mark.skipif(not FULL.is_char_device(), reason="no /dev/full device on this system")


def test_round_trips(tmp_path: Path) -> None:
    save_tensors({"a": torch.arange(3.0)}, tmp_path / "t.safetensors", metadata={"k": "v"})
    assert load_file(str(tmp_path / "t.safetensors"))["a"].tolist() == [0.0, 1.0, 2.0]
    state = {"step": 3, "x": torch.ones(2), 1: (0.9, float("-inf"), -0.0), "none": None, "l": [True, "s"]}
    save_state(state, tmp_path / "s.safetensors")
    back = load_state(tmp_path / "s.safetensors")
    assert back.keys() == state.keys() and back[1] == state[1] and str(back[1][2]) == "-0.0"
    assert torch.equal(back["x"], state["x"]) and back["l"] == [True, "s"] and back["none"] is None


def test_every_bit_of_an_optimizer_and_rng_state_comes_back(tmp_path: Path) -> None:
    param = torch.nn.Parameter(torch.randn(4, 3))
    opt = torch.optim.AdamW([param], lr=1e-3, betas=(0.9, 0.95))
    param.grad = torch.randn(4, 3)
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "nan": float("nan")}
    save_state(state, tmp_path / "s.safetensors")
    back = load_state(tmp_path / "s.safetensors")
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    for k, v in state["optimizer"]["state"][0].items():
        assert torch.equal(back["optimizer"]["state"][0][k], v)
    assert torch.equal(back["rng"], state["rng"]) and back["nan"] != back["nan"]


@pytest.mark.parametrize(
    "tree",
    ['{"dict": [[{"tensor": "nope"}, 1]]}', '{"tensor": "t9"}', '{"eval": "x"}', '{"float": "1.2.3"}', "[1,"],
)
def test_a_forged_state_tree_is_refused(tmp_path: Path, tree: str) -> None:
    from safetensors.torch import save

    path = tmp_path / "s.safetensors"
    path.write_bytes(save({"t0": torch.ones(1)}, metadata={"format": "medunlearn-state/1", "tree": tree}))
    with pytest.raises(StateFileError):
        load_state(path)


def test_a_pickle_is_never_unpickled(tmp_path: Path) -> None:
    import os
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "s.safetensors"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(StateFileError, match="not a safetensors file"):
        load_state(path)
    assert not marker.exists()


@needs_dev_full
def test_a_full_disk_is_an_oserror() -> None:
    # (torch.save's own zip writer raised "RuntimeError: unexpected pos" on a real full disk, and raises or not
    # on /dev/full depending on its buffering, so only the helpers' behaviour is asserted)
    for save in (
        lambda: save_state({"x": torch.ones(1000)}, FULL),
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
