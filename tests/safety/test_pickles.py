"""No file a user can hand over is unpickled: a pickle payload in any checkpoint file never runs.

Checkpoints are what users copy between machines. Each file the resume reads (and the pickled ``*.pt`` files
of older versions) is replaced by a payload that would create a marker file when unpickled; the resume must
stop with one line naming the checkpoint to delete (exit 2), and the marker must not appear.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ontology.common.errors import MedunlearnError
from tests.safety.console import medunlearn, one_line_error, pickle_payload
from tests.unlearn.engine_helpers import write_cli_run

CHECKPOINT_FILES = ["meta.json", "params.safetensors", "trainer_state.safetensors"]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run stopped after 2 of 4 steps (checkpoints at steps 1 and 2) and its model cache."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        mp.setenv("MEDUNLEARN_HOME", str(home))
        d = tmp_path_factory.mktemp("run")
        write_cli_run(d, "{steps: 4, batch_size: 2, lr: 0.01, cpu: true, checkpoint_every: 1, stop_after: 2}")
        done = medunlearn("unlearn", "run", d / "run.yaml", "--set", "output.dir=out", home=home, cwd=d)
        assert done.returncode == 0, done.stderr[-2000:]
        assert sorted(p.name for p in (d / "out" / "checkpoints").iterdir()) == [
            "step-0000001",
            "step-0000002",
        ]
        shutil.copytree(d / "out", d / "pristine")
        return d, home


def _fresh(d: Path) -> Path:
    """The interrupted run's checkpoints as written (the config hash names the paths: the run stays put)."""
    shutil.rmtree(d / "out")
    shutil.copytree(d / "pristine", d / "out")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("name", [*CHECKPOINT_FILES, "trainer_state.pt"])
def test_a_pickle_in_a_checkpoint_file_never_runs(
    interrupted: tuple[Path, Path], tmp_path: Path, name: str
) -> None:
    d, home = interrupted
    run = _fresh(d)
    last = run / "out" / "checkpoints" / "step-0000002"
    marker = tmp_path / "pwned"
    if name == "trainer_state.pt":  # an older version's layout: only the pickle is there
        (last / "trainer_state.safetensors").unlink()
    (last / name).write_bytes(pickle_payload(marker))
    done = medunlearn("unlearn", "run", run / "run.yaml", "--set", "output.dir=out", home=home, cwd=run)
    line = one_line_error(done, str(last), "delete this checkpoint")
    assert not marker.exists(), line


@pytest.mark.slow
def test_every_checkpoint_file_holding_a_pickle_still_runs_nothing(
    interrupted: tuple[Path, Path], tmp_path: Path
) -> None:
    d, home = interrupted
    run = _fresh(d)
    marker = tmp_path / "pwned"
    for ckpt in (run / "out" / "checkpoints").iterdir():
        for name in [*CHECKPOINT_FILES, "trainer_state.pt", "rank0.pt"]:
            (ckpt / name).write_bytes(pickle_payload(marker))
    done = medunlearn("unlearn", "run", run / "run.yaml", "--set", "output.dir=out", home=home, cwd=run)
    one_line_error(done, "step-0000002", "meta.json")
    assert not marker.exists()


def _store(root: Path, world: int = 2, rank: int = 0):
    from unlearn.trainer.checkpoints import CheckpointStore

    acc = SimpleNamespace(num_processes=world, process_index=rank, is_main_process=rank == 0, device="cpu")
    return CheckpointStore(root, "h", acc, keep=2, timer=lambda _: None)


@pytest.mark.parametrize(
    "name", ["trainer_state.safetensors", "rank1.safetensors", "rank1.state.safetensors"]
)
def test_a_pickle_in_a_sharded_checkpoint_never_runs(tmp_path: Path, name: str) -> None:
    """The per-rank files of an FSDP checkpoint (written by two processes; laid out here by hand)."""
    from unlearn.tensor_io import save_state, save_tensors

    ckpt = tmp_path / "checkpoints" / "step-0000002"
    ckpt.mkdir(parents=True)
    (ckpt / "meta.json").write_text('{"step": 2, "config_hash": "h", "sharded_ranks": 2}')
    save_state({"dp": None, "history": []}, ckpt / "trainer_state.safetensors")
    for r in range(2):
        save_tensors({"theta": torch.zeros(3)}, ckpt / f"rank{r}.safetensors")
        save_state({"optimizer": {"t": 2, "m": None, "v": None}}, ckpt / f"rank{r}.state.safetensors")
    assert _store(tmp_path, rank=1).load(ckpt, sharded=True).step == 2
    marker = tmp_path / "pwned"
    (ckpt / name).write_bytes(pickle_payload(marker))
    with pytest.raises(MedunlearnError, match="delete this checkpoint") as info:
        _store(tmp_path, rank=1).load(ckpt, sharded=True)
    assert "\n" not in str(info.value) and not marker.exists()


@pytest.mark.parametrize("name", ["trainable.safetensors", "state.safetensors"])
def test_a_pickle_in_a_finetune_checkpoint_never_runs(tiny, tmp_path: Path, name: str) -> None:
    """memorize / oracle stages checkpoint into ``STAGE.partial/checkpoint``: the same rule holds there."""
    from unlearn.data import Record
    from unlearn.finetune import FinetuneConfig, finetune

    model, tok = tiny
    ids = tok("Patient underwent a laparoscopic appendectomy.")["input_ids"]
    records = [Record(f"r{i}", ids, [0] * len(ids), [0] * len(ids), [1.0] * len(ids)) for i in range(4)]
    cfg = FinetuneConfig(epochs=1, batch_size=2, train_layers=1, checkpoint_every=1)
    finetune(model, records, cfg, tmp_path, pad_id=tok.pad_token_id)
    marker = tmp_path / "pwned"
    (tmp_path / "checkpoint" / name).write_bytes(pickle_payload(marker))
    with pytest.raises(MedunlearnError, match="corrupt checkpoint.*delete it") as info:
        finetune(model, records, cfg, tmp_path, pad_id=tok.pad_token_id)
    assert "\n" not in str(info.value) and not marker.exists()


def test_no_module_unpickles() -> None:
    """No ``torch.load`` / ``pickle.load`` / ``numpy.load(allow_pickle=True)`` anywhere in the packages."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for package in ("ontology", "hierarchy", "unlearn")
        for path in sorted((root / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(call in line for call in ("torch.load(", "pickle.load", "allow_pickle=True", "joblib.load"))
    ]
    assert offenders == []


@pytest.mark.slow
@pytest.mark.parametrize("garbage", [b'{"step": 2, "config_', b"\x00\xff not json", b"[]"])
def test_a_garbage_checkpoint_meta_is_one_line(interrupted: tuple[Path, Path], garbage: bytes) -> None:
    d, home = interrupted
    run = _fresh(d)
    last = run / "out" / "checkpoints" / "step-0000002"
    (last / "meta.json").write_bytes(garbage)
    done = medunlearn("unlearn", "run", run / "run.yaml", "--set", "output.dir=out", home=home, cwd=run)
    one_line_error(done, str(last), "delete this checkpoint")
