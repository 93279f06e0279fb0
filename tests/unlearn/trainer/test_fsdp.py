"""FSDP (``train.fsdp``): two CPU processes (gloo) with sharded parameters against the replicated run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from ontology.common.errors import ConfigError, MedunlearnError
from tests.unlearn.engine_helpers import (
    FORGET_TEXTS,
    RETAIN_TEXTS,
    run_config,
    write_cli_run,
    write_jsonl,
    write_masks,
)
from unlearn.models import load_model
from unlearn.selection import top_fraction_mask
from unlearn.trainer import Unlearner
from unlearn.trainer.checkpoints import CheckpointStore

WORLD = 2
TWO_PROCESSES = pytest.mark.slow  # each of these starts two processes


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep gloo on the loopback interface: it would otherwise resolve the host name, which a sandbox may lack."""
    if Path("/sys/class/net/lo").exists():
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")


def _scores() -> dict[str, torch.Tensor]:
    """Uneven row counts (5 rows: shards of 3 and 2) and many ties, where the tie order across ranks matters."""
    gen = torch.Generator().manual_seed(3)
    return {
        "a": torch.randint(0, 4, (5, 3), generator=gen).float(),
        "b": torch.randint(0, 4, (4,), generator=gen).float(),
        "c": torch.randint(0, 4, (3, 2), generator=gen).float(),
    }


def _mask_worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    try:
        mine = {n: torch.chunk(s, WORLD, dim=0)[rank] for n, s in _scores().items()}  # FSDP's Shard(0) rows
        masks = {rho: top_fraction_mask(mine, rho, sharded=True) for rho in (0.1, 0.3, 0.5, 1.0)}
        torch.save(masks, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@TWO_PROCESSES
def test_sharded_mask_equals_the_unsharded_one(tmp_path: Path) -> None:
    mp.spawn(_mask_worker, args=(f"file://{tmp_path / 'pg'}", str(tmp_path / "m")), nprocs=WORLD)
    parts = [torch.load(tmp_path / f"m.{r}") for r in range(WORLD)]
    for rho in (0.1, 0.3, 0.5, 1.0):
        whole = top_fraction_mask(_scores(), rho)
        for name, expected in whole.items():
            assert torch.equal(torch.cat([p[rho][name] for p in parts]), expected), (rho, name)


def _failure_worker(rank: int, init: str, out: str) -> None:
    from contextlib import nullcontext
    from types import SimpleNamespace

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    try:
        accelerator = SimpleNamespace(is_main_process=rank == 0, device=torch.device("cpu"))
        store = CheckpointStore(Path(out), "hash", accelerator, keep=2, timer=lambda name: nullcontext())

        def write() -> None:
            if rank == 1:
                raise OSError(28, "No space left on device", f"{out}/rank1.safetensors")

        try:
            store._on_every_rank(write)
            result = "returned"
        except Exception as exc:  # noqa: BLE001 - the test records which error each rank saw
            result = f"{type(exc).__name__}: {exc}"
        Path(f"{out}.{rank}").write_text(result)
    finally:
        dist.destroy_process_group()


@TWO_PROCESSES
def test_a_failed_shard_write_stops_every_rank(tmp_path: Path) -> None:
    """One rank's full disk must not leave the others waiting at the next collective."""
    mp.spawn(_failure_worker, args=(f"file://{tmp_path / 'pg'}", str(tmp_path / "r")), nprocs=WORLD)
    seen = [(tmp_path / f"r.{r}").read_text() for r in range(WORLD)]
    assert seen[0].startswith("MedunlearnError: ") and "another process could not write" in seen[0]
    assert seen[1].startswith("OSError: [Errno 28] No space left on device")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data and configs shared by the two-process runs."""
    d = tmp_path_factory.mktemp("fsdp")
    write_cli_run(d, "{steps: 4, batch_size: 2, lr: 0.01, cpu: true, checkpoint_every: 2}")
    return d


def _torchrun(d: Path, name: str, *overrides: str) -> Path:
    """``torchrun --nproc_per_node 2 -m unlearn unlearn run`` with ``overrides``, output in ``d / name``."""
    out = d / name
    sets = [x for o in (*overrides, f"output.dir={out}") for x in ("--set", o)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MEDUNLEARN_QUIET="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD)]
    done = subprocess.run(
        [*cmd, "-m", "unlearn", "unlearn", "run", str(d / "run.yaml"), *sets],
        capture_output=True, text=True, timeout=300, env=env, cwd=d,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model" / "model.safetensors"))


@TWO_PROCESSES
@pytest.mark.parametrize("method", ["dual", "graddiff"])
def test_sharded_run_matches_the_replicated_run(runs: Path, method: str) -> None:
    replicated = _torchrun(runs, f"{method}-replicated", f"method.name={method}")
    sharded = _torchrun(runs, f"{method}-sharded", f"method.name={method}", "train.fsdp=true")
    a, b = _weights(replicated), _weights(sharded)
    # the same update up to float summation order (FSDP's reduce-scatter vs the replicated all-reduce; for
    # graddiff also the flat Adam vs torch.optim.Adam of the replicated dense path)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    last = sorted((sharded / "checkpoints").iterdir())[-1]
    shards = [load_file(str(last / f"rank{r}.safetensors"))["theta"].numel() for r in range(WORLD)]
    manifest = json.loads((sharded / "manifest.json").read_text())
    assert sum(shards) == manifest["selected_coordinates"] and all(shards)  # each rank held only its shard
    if method == "dual":
        ma, mb = load_file(str(replicated / "mask.safetensors")), load_file(str(sharded / "mask.safetensors"))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
        assert (
            manifest["changed_parameters"]
            == manifest["mask_size"]
            == round(1e-3 * manifest["total_parameters"])
        )
    else:
        assert manifest["changed_parameters"] == manifest["total_parameters"]


@TWO_PROCESSES
def test_sharded_run_resumes_bit_identically(runs: Path) -> None:
    whole = _torchrun(runs, "whole", "train.fsdp=true")
    _torchrun(runs, "resumed", "train.fsdp=true", "train.stop_after=3")
    assert not (runs / "resumed" / "model").exists()
    part = _torchrun(runs, "resumed", "train.fsdp=true")
    a, b = _weights(whole), _weights(part)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fsdp_refuses_lora_and_dp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUNLEARN_QUIET", "1")
    _, tok = load_model("tiny-llama")
    forget = write_masks(tmp_path / "f.parquet", tok, FORGET_TEXTS)
    retain = write_jsonl(tmp_path / "r.jsonl", [{"text": t} for t in RETAIN_TEXTS])
    cfg = run_config(tmp_path, forget, [retain], train={"fsdp": True, "dp": {"enabled": True}})
    with pytest.raises(ConfigError, match="train.fsdp cannot be combined"):
        Unlearner(cfg).prepare()


def test_shard_model_needs_processes_and_decoder_layers() -> None:
    from unlearn.sharding import _decoder_layers, shard_model

    model, _ = load_model("tiny-llama")
    assert len(_decoder_layers(model)) == model.config.num_hidden_layers
    with pytest.raises(ConfigError, match="needs several processes"):
        shard_model(model, torch.device("cpu"))
    with pytest.raises(ConfigError, match="no decoder-layer class"):
        _decoder_layers(torch.nn.Sequential(torch.nn.Linear(2, 2)))


@TWO_PROCESSES
def test_a_sharded_checkpoint_is_not_resumed_by_one_process(runs: Path) -> None:
    from unlearn.config import load_run_config

    out = _torchrun(runs, "two-ranks", "train.fsdp=true", "train.stop_after=2")
    cfg = load_run_config(runs / "run.yaml", {"train.fsdp": True, "output.dir": str(out)})
    with pytest.raises(MedunlearnError, match="checkpoint with FSDP sharding"):
        Unlearner(cfg).run()
