"""`hierarchy tag --engine dask`: parts on a Dask cluster, identical to the serial output, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierarchy import dask_tagging
from hierarchy.corpus import read_spans, tag_corpus
from hierarchy.levels import build_hierarchy
from hierarchy.tagger import build_nlp
from ontology.common.errors import InputError
from ontology.store import write_graph
from tests.hierarchy.graphs import disorders_and_procedures

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # each test starts a Dask cluster

TEXTS = [
    "Panic disorder (PD) is common. PD responds to therapy.",
    "After the cholecystectomy she had anxiety disorders.",
    "",  # an empty document: skipped by both engines
    "Heart sounds were normal; no panic disorder.",
    "Generalized anxiety disorders and a Heart Clinic visit.",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "c.jsonl"
    rows = [
        {"pmid": str(1000 + i), "title": f"Case {i}" if TEXTS[i % 5] else "", "abstract": TEXTS[i % 5]}
        for i in range(43)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def nlp():  # noqa: ANN201
    return build_nlp(build_hierarchy(disorders_and_procedures()), scope=["X:cat"])


def test_parts_on_a_local_cluster_equal_the_serial_output_and_resume(
    nlp, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = ["title", "abstract"]
    serial = tag_corpus(nlp, corpus, tmp_path / "serial.jsonl", fields)
    out = tmp_path / "spans"
    written: list[str] = []
    real_write = dask_tagging.write_part

    def interrupt_after_two(rows, path, fmt):  # type: ignore[no-untyped-def]
        if len(written) == 2:
            raise KeyboardInterrupt
        real_write(rows, path, fmt)
        written.append(path.name)

    monkeypatch.setattr(dask_tagging, "write_part", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        dask_tagging.tag_corpus_dask(nlp, corpus, out, fields, workers=2, part_size=5)
    assert not out.exists() and len(list((tmp_path / "spans.partial").glob("part-*.jsonl"))) == 2
    monkeypatch.setattr(dask_tagging, "write_part", real_write)
    summary = dask_tagging.tag_corpus_dask(nlp, corpus, out, fields, workers=2, part_size=5)
    assert summary["parts"] == 7 and summary["parts_resumed"] == 2  # 43 - 9 empty = 34 documents
    assert summary["documents"] == serial["documents"] == 34 and summary["resumed"] == 10
    assert not (tmp_path / "spans.partial").exists()
    assert list(read_spans(out)) == list(read_spans(tmp_path / "serial.jsonl"))
    # the same bytes as the serial file, part after part
    joined = b"".join(p.read_bytes() for p in sorted(out.glob("part-*.jsonl")))
    assert joined == (tmp_path / "serial.jsonl").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["file"] for p in manifest["parts"]] == [f"part-{i:05d}.jsonl" for i in range(7)]


def test_cli_on_a_cluster_by_address_writes_parquet_parts(corpus: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    from unlearn.cli import app

    write_graph(disorders_and_procedures(), tmp_path / "graph")
    runner = CliRunner()
    base = ["hierarchy", "tag", str(tmp_path / "graph"), str(corpus), "-t", "title", "-t", "abstract"]
    serial = runner.invoke(app, [*base, "-o", str(tmp_path / "serial.parquet")])
    assert serial.exit_code == 0, serial.output
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        res = runner.invoke(
            app,
            [*base, "-o", str(tmp_path / "dask.parquet"), "--engine", "dask", "--scheduler",
             cluster.scheduler_address, "--part-size", "10", "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["parts"] == 4
    assert (tmp_path / "dask.parquet").is_dir()
    assert list(read_spans(tmp_path / "dask.parquet")) == list(read_spans(tmp_path / "serial.parquet"))
    wrong = runner.invoke(app, [*base, "-o", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:1"])
    assert wrong.exit_code == 2 and "needs --engine dask" in wrong.output


def test_unreachable_scheduler_is_one_clear_error(nlp, corpus: Path, tmp_path: Path) -> None:
    from ontology.common.errors import MedunlearnError

    with pytest.raises(MedunlearnError, match="cannot reach the Dask scheduler"):
        dask_tagging.tag_corpus_dask(nlp, corpus, tmp_path / "o", ["abstract"], scheduler="tcp://127.0.0.1:9")
    with pytest.raises(InputError, match="directory of parts; this is a file"):
        (tmp_path / "f").write_text("x")
        dask_tagging.tag_corpus_dask(nlp, corpus, tmp_path / "f", ["abstract"])
