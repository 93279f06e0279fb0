"""Corpus tagging: readers, field offsets, bad input, resume, workers, and the CLI commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

import hierarchy.corpus as corpus_mod
from hierarchy.corpus import iter_documents, read_spans, tag_corpus
from hierarchy.levels import build_hierarchy
from hierarchy.lexicon import Lexicon
from hierarchy.store import write_hierarchy
from hierarchy.tagger import make_pipeline
from ontology.common.errors import InputError, MedunlearnError
from tests.hierarchy.graphs import disorders_and_procedures

RECORDS = [
    {"id": "q1", "question": "Which drug treats panic disorder?", "opa": "Sertraline", "exp": None},
    {
        "id": "q2",
        "question": "A cholecystectomy removes what?",
        "opa": "Gallbladder",
        "exp": "Panic disorder is not it.",
    },
    {"id": "q3", "question": "  ", "opa": "", "exp": None},
    {"id": "q4", "question": "Heart sounds.", "opa": "S1", "exp": "Anxiety disorders differ."},
]
FIELDS = ["question", "opa", "exp"]


@pytest.fixture(scope="module")
def nlp():
    cg = disorders_and_procedures()
    return make_pipeline(Lexicon.from_graph(cg, build_hierarchy(cg).levels))


def write_all_formats(tmp: Path) -> dict[str, Path]:
    paths = {
        "jsonl": tmp / "c.jsonl",
        "csv": tmp / "c.csv",
        "json": tmp / "c.json",
        "parquet": tmp / "c.parquet",
    }
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    with open(paths["csv"], "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(RECORDS[0]))
        w.writeheader()
        w.writerows(RECORDS)
    paths["json"].write_text(
        json.dumps({r["id"]: {k: v for k, v in r.items() if k != "id"} for r in RECORDS})
    )
    table = pa.Table.from_pylist(RECORDS)
    pq.write_table(table, paths["parquet"])
    # a datasets save_to_disk directory: Arrow stream file + state.json
    ds = tmp / "ds"
    ds.mkdir()
    with (
        pa.OSFile(str(ds / "data-00000-of-00001.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as w,
    ):
        w.write_table(table)
    (ds / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    paths["datasets"] = ds
    return paths


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "parquet", "datasets"])
def test_readers_agree_and_offsets_point_at_fields(tmp_path: Path, fmt: str) -> None:
    path = write_all_formats(tmp_path)[fmt]
    report = corpus_mod.ReadReport()
    docs = list(iter_documents(path, FIELDS, report=report))
    assert [d.doc_id for d in docs] == ["q1", "q2", "q4"]
    assert docs[0].text == "Which drug treats panic disorder?\n\nSertraline"
    for d in docs:
        for name, (a, b) in d.field_offsets.items():
            assert d.text[a:b] == str(d.fields[name]).strip()
    assert len(report.skipped) == 1 and "empty document 'q3'" in report.skipped[0]
    line = {"jsonl": 3, "csv": 4, "json": 3, "parquet": 3, "datasets": 3}[fmt]
    assert report.skipped[0].startswith(f"{path}:{line}:")


def test_bad_input_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "ok"}\n{"id": 3, "text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:3: invalid UTF-8"):
        list(iter_documents(bad, ["text"]))
    badcsv = tmp_path / "bad.csv"
    badcsv.write_bytes(b"id,text\n1,ok\n2,\xff\xfe\n")
    with pytest.raises(InputError, match=r"bad\.csv:3: invalid UTF-8"):
        list(iter_documents(badcsv, ["text"]))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(InputError, match=r"broken\.jsonl:2: invalid JSON"):
        list(iter_documents(broken, ["text"]))
    with pytest.raises(InputError, match=r"no field 'body'"):
        list(iter_documents(broken, ["body"]))
    with pytest.raises(InputError, match="unknown corpus format"):
        list(iter_documents(tmp_path / "x.txt", ["text"]) if (tmp_path / "x.txt").write_text("a") else [])


def test_duplicate_ids_get_a_suffix(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"id": "7", "text": t}) + "\n" for t in ["a", "b", "c"]))
    assert [d.doc_id for d in iter_documents(path, ["text"])] == ["7", "7#2", "7#3"]


def test_tag_corpus_outputs_and_resume(nlp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_all_formats(tmp_path)["jsonl"]
    full = tag_corpus(nlp, src, tmp_path / "full.jsonl", FIELDS)
    assert full["documents"] == 3 and len(full["skipped"]) == 1
    rows = list(read_spans(tmp_path / "full.jsonl"))
    assert [(s["text"], s["concept_id"]) for s in rows[1]["spans"]] == [
        ("cholecystectomy", "X:chole"),
        ("Panic disorder", "X:panic"),
    ]
    assert rows[1]["fields"]["opa"] == "Gallbladder" and rows[1]["field_offsets"]["exp"] == [46, 71]

    # an interrupted run leaves OUT.partial; the rerun skips what is there and finishes atomically
    real = corpus_mod.tag_documents

    def dies_after_one(*args, **kwargs):
        gen = real(*args, **kwargs)
        yield next(gen)
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_mod, "tag_documents", dies_after_one)
    out = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt):
        tag_corpus(nlp, src, out, FIELDS)
    assert not out.exists() and (tmp_path / "resumed.parquet.partial").exists()
    monkeypatch.setattr(corpus_mod, "tag_documents", real)
    again = tag_corpus(nlp, src, out, FIELDS)
    assert again["resumed"] == 1 and again["documents"] == 3
    assert not (tmp_path / "resumed.parquet.partial").exists()
    assert list(read_spans(out)) == rows


def test_workers_give_the_same_rows(nlp, tmp_path: Path) -> None:
    src = tmp_path / "many.jsonl"
    src.write_text(
        "".join(json.dumps({"id": i, "text": f"case {i}: panic disorder"}) + "\n" for i in range(300))
    )
    tag_corpus(nlp, src, tmp_path / "one.jsonl", ["text"], workers=1)
    tag_corpus(nlp, src, tmp_path / "two.jsonl", ["text"], workers=2)
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "two.jsonl").read_text()


@pytest.fixture
def cli_app() -> typer.Typer:
    from hierarchy.cli_tagging import register
    from ontology.common.cli import CliGroup

    app = typer.Typer(cls=CliGroup)
    group = typer.Typer(cls=CliGroup)

    @group.callback()
    def _group() -> None:
        """hierarchy"""

    register(group)
    app.add_typer(group, name="hierarchy")
    return app


@pytest.mark.usefixtures("home")
def test_cli_tag_masks_preview(cli_app: typer.Typer, tmp_path: Path) -> None:
    from unlearn.models import prepare

    tok_dir = prepare("tiny-llama")
    cg = disorders_and_procedures()
    write_hierarchy(build_hierarchy(cg), tmp_path / "HIER")
    src = write_all_formats(tmp_path)["csv"]
    runner = CliRunner()
    res = runner.invoke(
        cli_app,
        [
            "hierarchy",
            "tag",
            str(tmp_path / "HIER"),
            str(src),
            "-o",
            str(tmp_path / "s.parquet"),
            "-t",
            "question",
            "-f",  # the old spelling, a hidden alias of --text-field
            "exp",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["documents"] == 3
    res = runner.invoke(
        cli_app,
        ["hierarchy", "masks", str(tmp_path / "s.parquet"), "--tokenizer", str(tok_dir), "--hierarchy",
         str(tmp_path / "HIER"), "--scope", "X:panic", "-o", str(tmp_path / "m.parquet"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["documents"] == 3 and summary["tokens_by_role"]["target"] > 0
    res = runner.invoke(
        cli_app,
        [
            "hierarchy",
            "masks",
            "preview",
            str(tmp_path / "m.parquet"),
            "-n",
            "2",
            "--html",
            str(tmp_path / "p.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "target" in res.output and (tmp_path / "p.html").read_text().count("<h2>") == 2
    res = runner.invoke(
        cli_app,
        ["hierarchy", "masks", "build", str(tmp_path / "s.parquet"), "--tokenizer", str(tok_dir), "--hierarchy",
         str(tmp_path / "HIER"), "--scope", "Panic Disordr", "-o", str(tmp_path / "m2.parquet")],
    )  # fmt: skip
    assert isinstance(res.exception, MedunlearnError) and "Panic Disorder" in str(res.exception)
