"""Checkpoints of an unlearning run: ``output.dir/checkpoints/step-NNNNNNN/``, written atomically.

Replicated runs: rank 0 writes ``params.safetensors`` (the selected values ``theta``, or the trainable
tensors), ``trainer_state.safetensors`` (optimiser and projection state, every rank's batch-stream and RNG
state under ``ranks``, the DP state, the loss history) and ``meta.json`` (step, config hash). Sharded (FSDP)
runs: each rank writes ``rank{r}.safetensors`` (its shard of ``theta``) and ``rank{r}.state.safetensors``
(its optimiser, projection, stream and RNG state) into one temporary directory, which rank 0 completes
(``trainer_state.safetensors`` with the DP state and history, ``meta.json`` with ``sharded_ranks``) and
renames into place.

Nothing in a checkpoint is unpickled: state files are :func:`unlearn.tensor_io.save_state` files
(safetensors + a JSON tree). A checkpoint that cannot be read -- unreadable ``meta.json``, a missing,
truncated or forged state file, state that does not fit the run, or the pickled ``*.pt`` files of older
versions (never opened) -- stops the resume with one line naming the checkpoint to delete.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ontology.common.atomic import atomic_path, atomic_write_json, replace_directory
from ontology.common.errors import MedunlearnError
from unlearn.projection import distributed_sum
from unlearn.tensor_io import StateFileError, load_state, save_state, save_tensors

CHECKPOINTS = "checkpoints"
STATE = "trainer_state.safetensors"
LEGACY_PICKLES = ("trainer_state.pt", "rank0.pt")  # written before checkpoints were pickle-free


def corrupt(path: Path, what: str) -> MedunlearnError:
    """The one-line error for a checkpoint that cannot be resumed from: what is wrong and what to delete."""
    return MedunlearnError(
        f"{path}: {what}; delete this checkpoint to resume from an earlier one, or set output.resume=false"
    )


def read_meta(path: Path) -> dict[str, Any]:
    """``meta.json`` of a checkpoint, checked: ``step`` (int >= 0), ``config_hash`` (str), optional
    ``sharded_ranks`` (int >= 1)."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise corrupt(path, f"unreadable meta.json ({' '.join(str(exc).split())[:100]})") from None
    if not _valid_meta(meta):
        raise corrupt(path, "meta.json is not a checkpoint's (needs an int step >= 0 and a config_hash)")
    return meta


def _valid_meta(meta: Any) -> bool:
    if not isinstance(meta, dict) or not isinstance(meta.get("config_hash"), str):
        return False
    step, ranks = meta.get("step"), meta.get("sharded_ranks", 1)
    return type(step) is int and step >= 0 and type(ranks) is int and ranks >= 1


def _state(path: Path, name: str) -> dict[str, Any]:
    file = path / name
    if not file.is_file():
        if any((path / old).is_file() for old in LEGACY_PICKLES):
            raise corrupt(path, "checkpoint of an older version (pickled *.pt files, which are never loaded)")
        raise corrupt(path, f"{name} is missing")
    try:
        state = load_state(file)
    except (StateFileError, OSError) as exc:
        raise corrupt(path, f"{name}: {exc}") from None
    if not isinstance(state, dict):
        raise corrupt(path, f"{name}: not a trainer state")
    return state


def _tensors(path: Path, name: str) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path / name))
    except (SafetensorError, OSError, ValueError) as exc:
        raise corrupt(path, f"{name}: unreadable ({' '.join(str(exc).split())[:100]})") from None


@dataclass
class Loaded:
    """What a checkpoint holds for this rank."""

    step: int
    params: dict[str, Tensor]  # "theta" (flat path) or the trainable tensors by name
    update: dict[str, Any]  # optimiser and projection state
    rank: dict[str, Any]  # this rank's batch streams and torch RNG state
    dp: dict[str, Any] | None
    history: list[dict[str, float]]


class CheckpointStore:
    """Save, find, prune and load the checkpoints under ``out/checkpoints`` for one configuration."""

    def __init__(
        self, out: Path, config_hash: str, accelerator: Any, keep: int, timer: Callable[[str], Any]
    ) -> None:
        self.root = out / CHECKPOINTS
        self.config_hash = config_hash
        self.accelerator = accelerator
        self.keep = keep
        self.timer = timer

    def dirs(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.iterdir() if p.name.startswith("step-") and (p / "meta.json").is_file()
        )

    def _prune(self) -> None:
        for old in self.dirs()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def save(
        self,
        step: int,
        params: Callable[[], dict[str, Tensor]],
        update: dict[str, Any],
        rank: dict[str, Any],
        dp: dict[str, Any] | None,
        history: list[dict[str, float]],
    ) -> Path:
        """Replicated checkpoint: every rank's ``rank`` state is gathered to rank 0, which writes the rest."""
        from accelerate.utils import gather_object

        target = self.root / f"step-{step:07d}"
        acc = self.accelerator
        per_rank = gather_object([rank]) if acc.num_processes > 1 else [rank]
        if not acc.is_main_process:  # every rank holds the same weights and optimiser state
            acc.wait_for_everyone()
            return target
        state = {"ranks": per_rank, "dp": dp, "history": history, **update}
        with self.timer("checkpoint"), atomic_path(target, is_dir=True) as tmp:
            save_tensors(params(), tmp / "params.safetensors")
            save_state(state, tmp / STATE)
            atomic_write_json(tmp / "meta.json", {"step": step, "config_hash": self.config_hash})
        self._prune()
        acc.wait_for_everyone()
        return target

    def _on_every_rank(self, action: Callable[[], None], main_only: bool = False) -> None:
        """Run ``action`` (on rank 0 only if ``main_only``); if it fails on any rank, raise on every rank.

        A storage error on one rank must not leave the others waiting at the next collective forever.
        """
        acc = self.accelerator
        error: Exception | None = None
        if acc.is_main_process or not main_only:
            try:
                action()
            except (OSError, MedunlearnError) as exc:
                error = exc
        failed = distributed_sum(torch.tensor([int(error is not None)], device=acc.device))
        if error is not None:
            raise error
        if int(failed[0]):
            raise MedunlearnError(f"{self.root}: another process could not write its checkpoint")

    def save_sharded(
        self,
        step: int,
        theta: Tensor,
        rank: dict[str, Any],
        dp: dict[str, Any] | None,
        history: list[dict[str, float]],
    ) -> Path:
        """Sharded checkpoint: each rank writes its shard, rank 0 completes the directory and renames it."""
        target = self.root / f"step-{step:07d}"
        tmp = target.with_name(f".{target.name}.partial")
        acc = self.accelerator
        r = acc.process_index

        def start() -> None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)

        def write_shard() -> None:
            save_tensors({"theta": theta.detach().cpu().contiguous()}, tmp / f"rank{r}.safetensors")
            save_state(rank, tmp / f"rank{r}.state.safetensors")

        def finish() -> None:
            save_state({"dp": dp, "history": history}, tmp / STATE)
            meta = {"step": step, "config_hash": self.config_hash, "sharded_ranks": acc.num_processes}
            atomic_write_json(tmp / "meta.json", meta)
            replace_directory(tmp, target)
            self._prune()

        with self.timer("checkpoint"):
            try:
                self._on_every_rank(start, main_only=True)
                self._on_every_rank(write_shard)
                self._on_every_rank(finish, main_only=True)
            except BaseException:
                if acc.is_main_process:
                    shutil.rmtree(tmp, ignore_errors=True)
                raise
        return target

    def load(self, path: Path, sharded: bool) -> Loaded:
        """This rank's part of a checkpoint; refuses another configuration, sharding or process count, and
        a corrupt checkpoint (naming the directory to delete)."""
        meta = read_meta(path)
        if meta["config_hash"] != self.config_hash:
            raise MedunlearnError(
                f"{path}: checkpoint of another configuration (hash {meta['config_hash']} != {self.config_hash}); "
                "use another output.dir or set output.resume=false"
            )
        world, r = self.accelerator.num_processes, self.accelerator.process_index
        if ("sharded_ranks" in meta) != sharded:
            raise MedunlearnError(f"{path}: checkpoint {'without' if sharded else 'with'} FSDP sharding")
        state = _state(path, STATE)
        ranks = state.get("ranks")
        if not sharded and not isinstance(ranks, list):
            raise corrupt(path, f"{STATE}: no per-rank state")
        written = meta["sharded_ranks"] if sharded else len(ranks)  # type: ignore[arg-type]
        if written != world:
            raise MedunlearnError(
                f"{path}: checkpoint written by {written} process(es), resumed with {world}"
            )
        if sharded:
            params = _tensors(path, f"rank{r}.safetensors")
            mine = update = _state(path, f"rank{r}.state.safetensors")
        else:
            params, mine, update = _tensors(path, "params.safetensors"), ranks[r], state  # type: ignore[index]
        if not isinstance(mine, dict) or not isinstance(state.get("history", []), list):
            raise corrupt(path, f"{STATE}: not a trainer state")
        return Loaded(int(meta["step"]), params, update, mine, state.get("dp"), state.get("history", []))
