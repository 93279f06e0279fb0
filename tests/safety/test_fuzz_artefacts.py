"""Property: every artefact loader -- graph and hierarchy directories, SPANS and MASKS files, patches,
checkpoints, cached stages, state files, configs, model directories -- fed random bytes or a mutated valid
file, returns or raises one clear line (:class:`~ontology.common.errors.MedunlearnError`), never another
exception."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ontology.common.errors import MedunlearnError
from tests.safety.artefacts import write_obo
from tests.safety.fuzzing import FUZZ, hostile, only_clean_errors, write


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph directory and a hierarchy directory of a small ontology."""
    from hierarchy.levels import build_hierarchy
    from hierarchy.store import write_hierarchy
    from ontology.loader import load
    from ontology.store import write_graph

    d = tmp_path_factory.mktemp("built")
    cg = load(write_obo(d / "x.obo"))
    write_graph(cg, d / "graph")
    write_hierarchy(build_hierarchy(cg), d / "hier")
    return d


def _copy(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def _open_directory(part: str, path: Path) -> object:
    from hierarchy.store import open_hierarchy
    from ontology.store import read_graph

    return read_graph(path) if part == "graph" else open_hierarchy(path)


@pytest.mark.parametrize(
    ("part", "name"),
    [("graph", "nodes.parquet"), ("graph", "edges.parquet"), ("graph", "meta.json"), ("hier", "levels.parquet"),
     ("hier", "meta.json")],
)  # fmt: skip
def test_graph_and_hierarchy_directories(built: Path, tmp_path: Path, part: str, name: str) -> None:
    valid = (built / part / name).read_bytes()

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        directory = _copy(built / part, tmp_path / part)
        write(directory / name, data)
        only_clean_errors(lambda: _open_directory(part, directory))

    check()


def test_spans_files(tmp_path: Path) -> None:
    from hierarchy.corpus import read_spans

    row = {"doc_id": "1", "text": "heart disease", "fields": {}, "field_offsets": {}, "spans": [
        {"start": 0, "end": 13, "text": "heart disease", "concept_id": "X:2", "level": 3}]}  # fmt: skip
    valid = (json.dumps(row) + "\n").encode()

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        only_clean_errors(lambda: list(read_spans(write(tmp_path / "s.jsonl", data))))

    check()


def test_masks_files(tiny, tmp_path: Path) -> None:
    from hierarchy.masks import mask_rows
    from tests.unlearn.engine_helpers import FORGET_TEXTS, write_masks
    from unlearn.models import tokenizer_hash

    _, tok = tiny
    write_masks(tmp_path / "valid.parquet", tok, FORGET_TEXTS[:2])
    valid = (tmp_path / "valid.parquet").read_bytes()
    expected = tokenizer_hash(tok)

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        path = write(tmp_path / "m.parquet", data)
        only_clean_errors(lambda: list(mask_rows(path, expected)))

    check()


def test_patches(tmp_path: Path) -> None:
    from unlearn.patch import compute_patch, load_patch, save_patch

    before = {"w": torch.arange(12.0).reshape(3, 4), "b": torch.zeros(3)}
    after = {"w": before["w"].clone(), "b": torch.ones(3)}
    after["w"][1, 2] = 7.0
    save_patch(compute_patch(before, after), tmp_path / "valid")
    manifest = (tmp_path / "valid" / "manifest.json").read_bytes()

    @FUZZ
    @given(data=hostile(manifest), shapes=st.sampled_from([None, [], [2], [3, 4], [-1, 4], ["x"], 3]))
    def check(data: bytes, shapes: object) -> None:
        patch = _copy(tmp_path / "valid", tmp_path / "patch")
        write(patch / "manifest.json", data)
        only_clean_errors(lambda: load_patch(patch))
        forged = json.loads(manifest)  # a well-formed manifest with a wrong shape: indices out of range
        forged["tensors"]["w"]["shape"] = shapes
        write(patch / "manifest.json", json.dumps(forged).encode())
        only_clean_errors(lambda: load_patch(patch))

    check()


def _checkpoint_store(root: Path):
    from unlearn.trainer.checkpoints import CheckpointStore

    acc = SimpleNamespace(num_processes=1, process_index=0, is_main_process=True, device="cpu")
    return CheckpointStore(root, "h", acc, keep=2, timer=lambda _: None)


@pytest.mark.parametrize("name", ["meta.json", "trainer_state.safetensors", "params.safetensors"])
def test_checkpoints(tmp_path: Path, name: str) -> None:
    from unlearn.tensor_io import save_state, save_tensors

    valid_dir = tmp_path / "valid"
    valid_dir.mkdir()
    (valid_dir / "meta.json").write_text('{"step": 2, "config_hash": "h"}')
    save_tensors({"theta": torch.zeros(3)}, valid_dir / "params.safetensors")
    state = {"ranks": [{"torch_rng": torch.get_rng_state()}], "dp": None, "history": [{"loss": 1.0}]}
    save_state(
        {**state, "optimizer": {"t": 2, "m": torch.zeros(3), "v": torch.zeros(3)}},
        valid_dir / "trainer_state.safetensors",
    )
    valid = (valid_dir / name).read_bytes()

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        ckpt = _copy(valid_dir, tmp_path / "checkpoints" / "step-0000002")
        write(ckpt / name, data)
        only_clean_errors(lambda: _checkpoint_store(tmp_path).load(ckpt, sharded=False))

    check()


def test_cached_stages(tmp_path: Path) -> None:
    from unlearn.stages import STAGE_FILE, StageRunner

    runner = StageRunner(tmp_path / "stages", echo=False)
    first = runner.run("s", {"x": 1}, lambda out: {"y": 2})
    valid = (first.path / STAGE_FILE).read_bytes()

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        write(first.path / STAGE_FILE, data)
        try:
            again = runner.run("s", {"x": 1}, lambda out: {"y": -1})
        except MedunlearnError as exc:  # a broken record: one line naming it, the stage's outputs left alone
            assert str(exc).startswith(f"{first.path / STAGE_FILE}: ") and "\n" not in str(exc), str(exc)
            assert (first.path / STAGE_FILE).read_bytes() == data
        else:  # a well-formed edited one is trusted (stage.json is ours to write)
            assert again.cached and isinstance(again.info, dict)

    check()


def test_run_configs(tmp_path: Path) -> None:
    from unlearn.config import load_run_config, parse_overrides

    valid = (Path(__file__).resolve().parents[2] / "configs" / "dual-tiny.yaml").read_bytes()

    @FUZZ
    @given(data=hostile(valid), override=st.sampled_from([[], ["train=5", "train.steps=2"], ["method.name=[dual]"],
                                                           ["train.adam_betas=[1.5, 0.9]"], ["data=x"], ["a.b.c=1"]]))  # fmt: skip
    def check(data: bytes, override: list[str]) -> None:
        path = write(tmp_path / "run.yaml", data)
        only_clean_errors(lambda: load_run_config(path, parse_overrides(override)))

    check()


def test_model_directories(tmp_path: Path, home: Path) -> None:
    """config.json and the weights' headers are checked before transformers reads anything."""
    from unlearn.models import check_model_dir, prepare

    source = prepare("tiny-llama")
    config = (source / "config.json").read_bytes()
    header = (source / "model.safetensors").read_bytes()[:4096]

    @FUZZ
    @given(data=hostile(config), weights=hostile(header))
    def check(data: bytes, weights: bytes) -> None:
        model = tmp_path / "model"
        model.mkdir(exist_ok=True)
        write(model / "config.json", data)
        write(model / "model.safetensors", weights)
        only_clean_errors(lambda: check_model_dir(model))

    check()


def test_scope_files_and_tagging_rules(tmp_path: Path) -> None:
    from hierarchy.lexicon import TaggingRules
    from hierarchy.scope import read_scope_file
    from ontology.common.config import load_config

    @FUZZ
    @given(
        scope=hostile(b"# scope\nE04  # surgery\nF03\n"),
        rules=hostile(b"exclude_subtrees: [V]\ncase_sensitive: [AIDS]\n"),
    )
    def check(scope: bytes, rules: bytes) -> None:
        only_clean_errors(lambda: read_scope_file(write(tmp_path / "scope.txt", scope)))
        only_clean_errors(lambda: load_config(write(tmp_path / "rules.yaml", rules), TaggingRules))

    check()
