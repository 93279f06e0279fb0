"""The console script's contract: usage mistakes in one line (exit 2), documented exit codes, one flag
vocabulary (``-o/--out``, ``--quiet`` after any command, hidden old spellings), models prepared on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from ontology.common.progress import set_quiet

EXE = Path(sys.executable).with_name("medunlearn")
OWL = Path(__file__).parent / "ontology" / "fixtures" / "owl"


def run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real console script of this environment, as a user runs it."""
    env = dict(os.environ)
    if home is not None:
        env["MEDUNLEARN_HOME"] = str(home)
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=300, env=env)


def assert_usage_error(err: str, expected: str) -> None:
    """At most the command's usage line plus one ``error:`` line, no traceback."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err and 1 <= len(lines) <= 2, err
    assert lines[-1].startswith("error: ") and expected in lines[-1], err
    if len(lines) == 2:
        assert lines[0].startswith("Usage: medunlearn"), err


BAD = [
    ([], "missing command; choose one of: ontology, hierarchy, unlearn, eval, model, demo"),
    (["--bogus"], "No such option: --bogus"),
    (["ontology"], "missing command; choose one of: build, stats"),
    (["ontology", "build"], "Missing argument"),
    (["ontology", "bild"], "No such command 'bild'. Did you mean 'build'?"),
    (["ontology", "stats", "G", "--bogus", "x"], "No such option: --bogus"),
    (["ontology", "search", "G", "x", "--limit", "many"], "Invalid value for '--limit'"),
    (["ontology", "export", "G", "--format", "pdf", "-o", "x"], "Invalid value for '--format'"),
    (["hierarchy", "tag", "G", "C", "-o", "S", "--quiet", "--bogus"], "No such option: --bogus"),
    (["hierarchy", "masks"], "missing command; choose one of: build, preview"),
    (["hierarchy", "masks", "S", "--scope", "X"], "Missing option"),
    (["unlearn", "run"], "Missing argument"),
    (["unlearn", "methods", "surplus"], "unexpected extra argument"),
    (["eval", "suite", "mhqa", "--size"], "Option '--size' requires an argument"),
    (["model", "prepare"], "Missing argument"),
    (["demo", "--modle", "tiny-llama"], "No such option: --modle"),
]


@pytest.mark.parametrize(("args", "expected"), BAD, ids=[" ".join(a) or "(none)" for a, _ in BAD])
def test_bad_invocations_of_the_console_script(args: list[str], expected: str, tmp_path: Path) -> None:
    out = run(*args, home=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert_usage_error(out.stderr, expected)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """``main(*args) -> (exit code, stdout, stderr)``: the console script's entry point, in this process."""
    from unlearn.cli import main as entry

    def call(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            entry(list(args))
        out = capsys.readouterr()
        return int(exc.value.code or 0), out.out, out.err

    yield call
    set_quiet(False)


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    from unlearn.cli import app

    def walk(path: tuple[str, ...], command: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk((*path, name), sub)

    yield from walk((), typer.main.get_command(app))


COMMANDS = [path for path, _ in _commands() if path]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_takes_quiet_and_reports_unknown_flags_in_one_line(path: tuple[str, ...], main) -> None:
    code, _, err = main(*path, "--quiet", "--no-such-flag")
    assert code == 2
    assert_usage_error(err, "No such option: --no-such-flag")


def test_every_group_without_a_command_names_its_commands(main) -> None:
    groups = [(p, c) for p, c in _commands() if getattr(c, "commands", None)]
    assert len(groups) >= 7  # medunlearn, ontology, hierarchy, hierarchy masks, unlearn, eval, model
    for path, group in groups:
        code, _, err = main(*path)
        assert code == 2, path
        assert_usage_error(err, f"missing command; choose one of: {', '.join(group.commands)}")


def test_help_shows_the_vocabulary_not_the_old_spellings(main) -> None:
    seen: dict[str, str] = {}
    for path in COMMANDS:
        code, seen[" ".join(path)], _ = main(*path, "--help")
        assert code == 0
    for text in seen.values():
        assert "--output" not in text and "--no-no-" not in text and "--quiet" in text
    assert "--out" in seen["ontology build"] and "--out" in seen["ontology export"]
    assert "--abbreviations" in seen["hierarchy tag"] and "--text-field" in seen["hierarchy tag"]
    assert "Exit codes" in run("--help").stdout


def test_old_spellings_still_work(tmp_path: Path) -> None:
    graph = tmp_path / "g"
    out = run("ontology", "build", str(OWL / "fixture.owl"), "--output", str(graph), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["concepts"] == 7
    out = run("ontology", "export", str(graph), "-f", "graphml", "--output=" + str(tmp_path / "g.graphml"))
    assert out.returncode == 0 and (tmp_path / "g.graphml").stat().st_size > 0


def test_aliases_are_rewritten_only_where_they_apply() -> None:
    from ontology.common.cli import rewrite_aliases
    from unlearn.cli import app

    root = typer.main.get_command(app)
    tag = root.commands["hierarchy"].commands["tag"]  # type: ignore[attr-defined]
    build = root.commands["ontology"].commands["build"]  # type: ignore[attr-defined]
    assert rewrite_aliases(tag, ["G", "C", "-f", "body", "-fx", "--output=s", "--", "-f"]) == [
        "G", "C", "--text-field", "body", "--text-field=x", "--out=s", "--", "-f",
    ]  # fmt: skip
    assert rewrite_aliases(tag, ["--no-no-abbreviations"]) == ["--abbreviations"]
    assert rewrite_aliases(build, ["-f", "obo", "--output", "g"]) == ["-f", "obo", "--out", "g"]


def test_quiet_after_the_command_silences_stage_lines(tmp_path: Path) -> None:
    graph = tmp_path / "g"
    assert run("ontology", "build", str(OWL / "fixture.owl"), "-o", str(graph), "--quiet").returncode == 0
    env_quiet = {k: v for k, v in os.environ.items() if k != "MEDUNLEARN_QUIET"}
    args = [str(EXE), "hierarchy", "build", str(graph), "-o", str(tmp_path / "h")]
    for extra in ([], ["-q"]):
        out = subprocess.run([*args, *extra], capture_output=True, text=True, env=env_quiet, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "\r" not in out.stderr


def test_validate_exits_1_on_a_cycle_and_a_dangling_parent() -> None:
    out = run("ontology", "validate", str(OWL / "cyclic.ttl"))
    assert out.returncode == 1, out.stderr
    assert "is_a cycle" in out.stdout and "dangling" in out.stdout
    assert out.stderr.strip().endswith("2 errors, 1 warnings")
    assert run("ontology", "validate", str(OWL / "fixture.ttl")).returncode == 0


def test_search_exits_1_when_nothing_matches(tmp_path: Path) -> None:
    graph = tmp_path / "g"
    assert run("ontology", "build", str(OWL / "fixture.owl"), "-o", str(graph)).returncode == 0
    miss = run("ontology", "search", str(graph), "heart attack")
    assert (miss.returncode, miss.stdout, miss.stderr) == (1, "", "")
    hit = run("ontology", "search", str(graph), "illness")
    assert (hit.returncode, hit.stdout.strip()) == (0, "FIX:0000001\tdisease")


def test_bad_input_is_exit_2_with_the_file(tmp_path: Path) -> None:
    out = run("ontology", "stats", str(tmp_path / "missing"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: not a graph directory (run `medunlearn ontology build ... -o GRAPH` first)"
    ]


def test_masks_build_prepares_a_registered_tokenizer_on_first_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hier = tmp_path / "HIER"
    assert run("hierarchy", "build", str(OWL / "fixture.owl"), "-o", str(hier), "-q").returncode == 0
    spans = tmp_path / "spans.jsonl"
    spans.write_text(
        json.dumps({"doc_id": "d1", "text": "Post-operative anxiety after surgery.", "spans": [
            {"start": 0, "end": 22, "text": "Post-operative anxiety", "concept_id": "FIX:0000006", "level": 3}
        ]}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    masks = tmp_path / "m.parquet"
    args = ["hierarchy", "masks", "build", str(spans), "--hierarchy", str(hier), "--tokenizer", "tiny-llama"]
    out = run(*args, "--scope", "FIX:0000005", "-o", str(masks), "--json", home=home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tokens_by_role"]["target"] > 0
    assert (home / "models" / "tiny-llama" / "tokenizer.json").is_file()
