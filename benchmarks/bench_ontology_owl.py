"""Benchmark: OWL in RDF/XML and Turtle into a concept graph, against owlready2, rdflib and pyoxigraph alone.

Generates an OBO-style OWL ontology of N classes (label, exact and related synonyms, a definition on one
class in four, an xref on one in three, about 1.1 parents per class) in RDF/XML and Turtle, then times each
tool in a fresh subprocess (so imports, caches and freed memory never leak between rows):

- ``owlready2``: ``World().get_ontology(url).load()`` (its compiled parser filling its SQLite quadstore),
- ``rdflib``: ``Graph().parse(...)``,
- ``pyoxigraph``: ``list(pyoxigraph.parse(...))`` (when installed),
- ``ours``: ``read_owl`` (RDF/XML) / ``read_rdf`` (Turtle, pyoxigraph engine), which include building the
  networkx concept graph; ``ours-oxigraph`` is ``read_rdf(format="rdfxml")`` on the RDF/XML file and
  ``ours-rdflib`` is ``read_rdf(engine="rdflib")`` on the Turtle file,
- ``cache``: ``read_graph`` of the graph directory ``write_graph`` made from the same ontology.

Time is the wall clock and the CPU time (user + system, with reaped children) of the call alone (imports
excluded); each row keeps the best wall time of ``--repeat`` runs; memory is the peak resident set size during
the call minus the size just before it (the kernel's VmHWM, reset before the call; a parser that forks,
as owlready2 does for files over 8 MB, is counted by its own peak if that is larger).

Run: ``.venv/bin/python benchmarks/bench_ontology_owl.py [--sizes 10000 30000 100000] [--rdflib-max 100000]``
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OBO = "http://purl.obolibrary.org/obo/"
DEF = f"{OBO}IAO_0000115"


def _parents(i: int) -> list[int]:
    if i == 0:
        return []
    parents = [(i - 1) // 5]
    if i % 10 == 0 and i > 20:
        parents.append((i - 1) // 7)
    return sorted(set(parents))


def generate(n: int, directory: Path) -> tuple[Path, Path]:
    """Write ``gen{n}.owl`` (RDF/XML) and ``gen{n}.ttl`` (Turtle) with the same triples."""
    owl, ttl = directory / f"gen{n}.owl", directory / f"gen{n}.ttl"
    with open(owl, "w", encoding="utf-8") as x, open(ttl, "w", encoding="utf-8") as t:
        x.write(
            '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
            '  xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#"\n'
            f'  xmlns:obo="{OBO}" xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">\n'
            f'<owl:Ontology rdf:about="{OBO}gen.owl"><owl:versionInfo>bench-{n}</owl:versionInfo></owl:Ontology>\n'
        )
        t.write(
            "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
            f"@prefix obo: <{OBO}> .\n@prefix oio: <http://www.geneontology.org/formats/oboInOwl#> .\n"
            f'obo:gen.owl a owl:Ontology ; owl:versionInfo "bench-{n}" .\n'
        )
        for i in range(n):
            cid = f"GEN_{i:07d}"
            x.write(f'<owl:Class rdf:about="{OBO}{cid}">\n<rdfs:label>concept number {i}</rdfs:label>\n')
            x.write(f"<oboInOwl:hasExactSynonym>synonym {i}</oboInOwl:hasExactSynonym>\n")
            x.write(f"<oboInOwl:hasRelatedSynonym>related term {i}</oboInOwl:hasRelatedSynonym>\n")
            t.write(f'obo:{cid} a owl:Class ;\n  rdfs:label "concept number {i}" ;\n')
            t.write(f'  oio:hasExactSynonym "synonym {i}" ;\n  oio:hasRelatedSynonym "related term {i}" ')
            if i % 4 == 0:
                x.write(f"<obo:IAO_0000115>Definition of concept {i}.</obo:IAO_0000115>\n")
                t.write(f';\n  obo:IAO_0000115 "Definition of concept {i}." ')
            if i % 3 == 0:
                x.write(f"<oboInOwl:hasDbXref>MESH:D{i:06d}</oboInOwl:hasDbXref>\n")
                t.write(f';\n  oio:hasDbXref "MESH:D{i:06d}" ')
            for p in _parents(i):
                x.write(f'<rdfs:subClassOf rdf:resource="{OBO}GEN_{p:07d}"/>\n')
                t.write(f";\n  rdfs:subClassOf obo:GEN_{p:07d} ")
            x.write("</owl:Class>\n")
            t.write(".\n")
        x.write("</rdf:RDF>\n")
    return owl, ttl


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) so that import-time peaks do not count."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its reaped children (owlready2's forked parser)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(tool: str, path: str) -> dict[str, float]:
    """Child process: import, then time one tool on one file; print JSON."""
    fmt = "turtle" if path.endswith(".ttl") else "xml"
    if tool == "owlready2":
        import owlready2

        def call():
            owlready2.World().get_ontology(Path(path).resolve().as_uri()).load()
    elif tool == "rdflib":
        import rdflib

        def call():
            rdflib.Graph().parse(path, format=fmt)
    elif tool == "pyoxigraph":
        import pyoxigraph

        def call():
            fm = pyoxigraph.RdfFormat.TURTLE if fmt == "turtle" else pyoxigraph.RdfFormat.RDF_XML
            return sum(1 for _ in pyoxigraph.parse(path=path, format=fm))
    elif tool in ("ours", "ours-rdflib", "ours-oxigraph"):
        from ontology.readers.owl import read_owl
        from ontology.readers.rdf import read_rdf

        def call():
            if fmt == "xml":
                return (
                    read_rdf(path, format="rdfxml", engine="oxigraph")
                    if tool == "ours-oxigraph"
                    else read_owl(path)
                )
            return read_rdf(path, engine="rdflib" if tool == "ours-rdflib" else "auto")
    elif tool == "cache":
        from ontology.store import read_graph

        def call():
            return read_graph(path)
    else:
        raise SystemExit(f"unknown tool {tool}")
    _reset_peak()
    before = _status_kb("VmRSS")
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    peak = max(_status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    out = {"seconds": elapsed, "cpu_seconds": cpu, "peak_mb": (peak - before) / 1024}
    if hasattr(result, "graph"):
        out["concepts"] = result.graph.number_of_nodes()
        out["edges"] = result.graph.number_of_edges()
    print(json.dumps(out))
    return out


def measure(tool: str, path: Path, repeat: int) -> dict[str, float]:
    """Best time (and its memory) of ``repeat`` fresh child processes."""
    best: dict[str, float] | None = None
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", tool, str(path)], capture_output=True, text=True, check=True
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        if best is None or res["seconds"] < best["seconds"]:
            best = res
    assert best is not None
    return best


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument(
        "--rdflib-max", type=int, default=100_000, help="skip rdflib rows above this many classes"
    )
    ap.add_argument("--repeat", type=int, default=1, help="fresh runs per row; the best time is kept")
    ap.add_argument("--one", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one(*args.one)
        return
    import importlib.util

    versions = {}
    for mod in ("owlready2", "rdflib", "pyoxigraph", "networkx"):
        if importlib.util.find_spec(mod):
            versions[mod] = getattr(__import__(mod), "__version__", None) or getattr(
                __import__(mod), "VERSION", "?"
            )
    have_ox = "pyoxigraph" in versions
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for n in args.sizes:
            owl, ttl = generate(n, tmpdir)
            plan = [("RDF/XML", "owlready2", owl), ("RDF/XML", "ours", owl)]
            if have_ox:
                plan += [("RDF/XML", "pyoxigraph", owl), ("RDF/XML", "ours-oxigraph", owl)]
            if n <= args.rdflib_max:
                plan.append(("RDF/XML", "rdflib", owl))
            if have_ox:
                plan += [("Turtle", "pyoxigraph", ttl), ("Turtle", "ours", ttl)]
            if n <= args.rdflib_max:
                plan += [("Turtle", "rdflib", ttl), ("Turtle", "ours-rdflib", ttl)]
            for fmt, tool, path in plan:
                res = measure(tool, path, args.repeat)
                rows.append(
                    {"classes": n, "format": fmt, "tool": tool, "mb_file": path.stat().st_size / 2**20, **res}
                )
                print(json.dumps(rows[-1]), flush=True)
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from ontology.readers.owl import read_owl
            from ontology.store import write_graph

            write_graph(read_owl(owl), tmpdir / f"graph{n}")
            res = measure("cache", tmpdir / f"graph{n}", args.repeat)
            rows.append({"classes": n, "format": "graph dir", "tool": "cache", "mb_file": 0.0, **res})
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| classes | format | tool | wall (s) | CPU (s) | peak RSS (MB) | wall vs owlready2 |")
    print("|---:|---|---|---:|---:|---:|---:|")
    base = {r["classes"]: r["seconds"] for r in rows if r["tool"] == "owlready2"}
    for r in rows:
        ratio = r["seconds"] / base[r["classes"]] if r["classes"] in base else float("nan")
        print(
            f"| {r['classes']:,} | {r['format']} | {r['tool']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} "
            f"| {r['peak_mb']:.0f} | {ratio:.2f}× |"
        )


if __name__ == "__main__":
    main()
