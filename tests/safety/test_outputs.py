"""Output safety through the console script: ``-o`` onto something that is not our own earlier output is
refused in one line (or replaced only with ``--force``), nothing of the user's is deleted or hidden, and an
output is never the input it is derived from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.safety.artefacts import snapshot, tiny_patch, write_obo
from tests.safety.console import medunlearn, one_line_error

pytestmark = pytest.mark.slow  # console-script processes

REFUSED = "exists and is not"


@pytest.fixture()
def user_dir(tmp_path: Path) -> Path:
    """A directory of the user's, with a hidden file too."""
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("years of work")
    (d / ".hidden").write_text("also mine")
    return d


@pytest.fixture()
def user_file(tmp_path: Path) -> Path:
    f = tmp_path / "notes.txt"
    f.write_text("do not lose me")
    return f


def test_build_into_a_users_directory_is_refused_and_force_replaces(tmp_path: Path, user_dir: Path) -> None:
    src = write_obo(tmp_path / "x.obo")
    before = snapshot(user_dir)
    one_line_error(medunlearn("ontology", "build", src, "-o", user_dir), str(user_dir), REFUSED, "--force")
    assert snapshot(user_dir) == before
    done = medunlearn("ontology", "build", src, "-o", user_dir, "--force")
    assert done.returncode == 0, done.stderr
    assert (user_dir / "meta.json").is_file() and not (user_dir / "thesis.tex").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "x.obo"]  # nothing hidden beside it


def test_build_onto_a_regular_file_is_refused_even_with_force(tmp_path: Path, user_file: Path) -> None:
    src = write_obo(tmp_path / "x.obo")
    for extra in ([], ["--force"]):
        one_line_error(
            medunlearn("ontology", "build", src, "-o", user_file, *extra), str(user_file), "is a file"
        )
    assert user_file.read_text() == "do not lose me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "x.obo"]


def test_our_own_graph_is_replaced_and_no_other_file_is_touched(tmp_path: Path) -> None:
    src, out = write_obo(tmp_path / "x.obo"), tmp_path / "g"
    assert medunlearn("ontology", "build", src, "-o", out).returncode == 0
    (tmp_path / ".g.old").write_text("a file of the user's that the old code deleted")
    done = medunlearn("ontology", "build", src, "-o", out)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".g.old").read_text().startswith("a file of the user's")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".g.old", "g", "x.obo"]


def test_an_output_is_never_its_input(tmp_path: Path) -> None:
    src = write_obo(tmp_path / "x.obo")
    one_line_error(medunlearn("ontology", "build", src, "-o", src, "--force"), "is the input")
    inside = tmp_path / "g"
    inside.mkdir()
    held = write_obo(inside / "y.obo")
    one_line_error(medunlearn("ontology", "build", held, "-o", inside, "--force"), "holds the input")
    assert held.is_file() and src.is_file()
    assert medunlearn("ontology", "build", src, "-o", tmp_path / "graph").returncode == 0
    one_line_error(
        medunlearn("hierarchy", "build", tmp_path / "graph", "-o", tmp_path / "graph", "--force"),
        "is the input",
    )
    assert (tmp_path / "graph" / "nodes.parquet").is_file()


def test_export_replaces_only_its_own_files(tmp_path: Path, user_file: Path) -> None:
    src, graph = write_obo(tmp_path / "x.obo"), tmp_path / "g"
    assert medunlearn("ontology", "build", src, "-o", graph).returncode == 0
    for fmt in ("obo", "owl", "ttl", "obographs", "sssom", "graphml", "node-link"):
        one_line_error(medunlearn("ontology", "export", graph, "-f", fmt, "-o", user_file), REFUSED)
        assert user_file.read_text() == "do not lose me"
        out = tmp_path / f"export.{fmt}"
        for _ in range(2):  # the second run replaces the first's file
            done = medunlearn("ontology", "export", graph, "-f", fmt, "-o", out)
            assert done.returncode == 0, done.stderr


def test_hierarchy_commands_refuse_the_users_files(tmp_path: Path, user_dir: Path, user_file: Path) -> None:
    src, graph = write_obo(tmp_path / "x.obo"), tmp_path / "g"
    assert medunlearn("ontology", "build", src, "-o", graph).returncode == 0
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "heart disease"}\n')
    before = snapshot(user_dir)
    one_line_error(medunlearn("hierarchy", "build", graph, "-o", user_dir), REFUSED)
    one_line_error(medunlearn("hierarchy", "tag", graph, corpus, "-o", user_dir), "is a directory")
    one_line_error(medunlearn("hierarchy", "tag", graph, corpus, "-o", user_file), REFUSED)
    one_line_error(
        medunlearn("hierarchy", "masks", "build", corpus, "--tokenizer", "tiny-llama", "--hierarchy", graph,
                   "--scope", "X:2", "-o", user_file),
        REFUSED,
    )  # fmt: skip
    one_line_error(
        medunlearn(
            "hierarchy", "scope", "suggest", graph, "--forget", corpus, "--retain", corpus, "-o", user_file
        ),
        REFUSED,
    )
    one_line_error(medunlearn("hierarchy", "masks", "preview", corpus, "--html", user_file), REFUSED)
    one_line_error(medunlearn("hierarchy", "tag", graph, corpus, "-o", corpus, "--force"), "is the input")
    assert snapshot(user_dir) == before and user_file.read_text() == "do not lose me"


def test_a_stray_partial_tag_output_is_not_ours(tmp_path: Path) -> None:
    src, graph = write_obo(tmp_path / "x.obo"), tmp_path / "g"
    assert medunlearn("ontology", "build", src, "-o", graph).returncode == 0
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "heart disease"}\n')
    stray = tmp_path / "spans.jsonl.partial"
    stray.write_text("the user's file that happens to have this name")
    one_line_error(
        medunlearn("hierarchy", "tag", graph, corpus, "-o", tmp_path / "spans.jsonl", "--no-abbreviations"),
        "spans.jsonl.partial: not a partial output",
    )
    assert stray.read_text().startswith("the user's file")


def test_a_patch_is_never_overwritten_by_applying_it(tmp_path: Path, home: Path, user_dir: Path) -> None:
    model_dir, patch = tiny_patch(tmp_path / "patch")
    before = snapshot(patch)
    for out, relation in (
        (patch, "is the input"),
        (patch / "x", "is inside the input"),
        (model_dir, "is the input"),
    ):
        done = medunlearn("unlearn", "apply-patch", model_dir, patch, "-o", out, "--force", home=home)
        one_line_error(done, relation, "an output may never overlap its input")
    one_line_error(medunlearn("unlearn", "apply-patch", model_dir, patch, "-o", user_dir, home=home), REFUSED)
    assert snapshot(patch) == before
    out = tmp_path / "patched"
    for _ in range(2):  # an earlier output of apply-patch is replaced
        done = medunlearn("unlearn", "apply-patch", model_dir, patch, "-o", out, home=home)
        assert done.returncode == 0, done.stderr
    done = medunlearn("unlearn", "revert-patch", out, patch, "-o", out, home=home)
    one_line_error(done, "is the input")


def test_run_dir_must_be_new_empty_or_an_earlier_run(tmp_path: Path, home: Path, user_dir: Path) -> None:
    config = tmp_path / "run.yaml"
    (tmp_path / "forget.jsonl").write_text('{"text": "a"}\n')
    config.write_text("data:\n  forget: forget.jsonl\n")
    before = snapshot(user_dir)
    one_line_error(
        medunlearn("unlearn", "run", config, "--set", f"output.dir={user_dir}", home=home), REFUSED
    )
    one_line_error(
        medunlearn("unlearn", "run", config, "--set", f"output.dir={tmp_path}", "--force", home=home),
        "holds the input",
    )
    assert snapshot(user_dir) == before


def test_suite_and_demo_outputs_refuse_the_users_directory(
    tmp_path: Path, home: Path, user_dir: Path
) -> None:
    before = snapshot(user_dir)
    one_line_error(medunlearn("eval", "suite", "mhqa", "-o", user_dir, home=home), REFUSED)
    target = tmp_path / "demo" / "tiny-llama-surgery"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    one_line_error(
        medunlearn("demo", "--model", "tiny-llama", "--out", tmp_path / "demo", home=home), REFUSED
    )
    one_line_error(
        medunlearn(
            "demo",
            "--model",
            "tiny-llama",
            "--out",
            tmp_path / "demo" / "tiny-llama-surgery" / "keep.txt",
            home=home,
        ),
        "is a file",
    )
    assert snapshot(user_dir) == before and (target / "keep.txt").read_text() == "mine"


def test_the_model_cache_never_replaces_a_foreign_directory(tmp_path: Path, home: Path) -> None:
    foreign = home / "models" / "tiny-llama"
    foreign.mkdir(parents=True)
    (foreign / "weights.bin").write_text("not ours")
    one_line_error(medunlearn("model", "prepare", "tiny-llama", home=home), REFUSED)
    assert (foreign / "weights.bin").read_text() == "not ours"
