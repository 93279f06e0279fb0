"""Benchmark: step time and peak memory of ``dual`` against ``graddiff`` and ``npo`` at the same batch.

Every (model, method) pair runs in its own subprocess (so peak memory is that run's alone) through the real
engine (:class:`unlearn.trainer.Unlearner`): ``prepare()`` (model load, reference log-probabilities, Fisher
selection, optimiser), one warm-up step, then ``--steps`` timed steps. Reported per step: the median wall
time, the median time per phase (forward, backward, projection, optimiser), the slowest step, and the Fisher selection time amortised
over a run of ``--run-steps`` steps; peak memory is the child's peak resident set size (``ru_maxrss``), also
minus its size after loading the model (what the method itself adds).

Models: ``tiny`` (the tiny-llama registry model: 2 layers, hidden 64, ~0.1 M parameters), ``small`` (a random
8-layer Llama, hidden 256, ~5.4 M parameters, same tokenizer) and ``smollm2`` (SmolLM2-135M, only with
``--smollm2`` and once ``medunlearn model prepare smollm2`` has run). Methods: ``dual``, ``dual-upper``
(dual with the selection confined to the upper half of the layers), ``graddiff``, ``npo``.

Each configuration runs ``--repeat`` times, interleaved with the others, and the fastest run is reported (the
machine may be shared).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_unlearn_step.py [--models tiny small] [--smollm2]
[--batch 8] [--seq 128] [--steps 5] [--repeat 3] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
METHODS = ["dual", "dual-upper", "graddiff", "npo"]

_CHILD = r"""
import json, os, resource, statistics, sys, time
import psutil, torch
sys.path.insert(0, sys.argv[1])
args = json.loads(sys.argv[2])
torch.set_num_threads(args["threads"])
from unlearn.config import RunConfig
from unlearn.trainer import Unlearner

cfg = RunConfig.model_validate(args["config"])
run = Unlearner(cfg)
t0 = time.perf_counter()
run.prepare()
prepare_s = time.perf_counter() - t0
step = run.step
step(0)  # warm-up
times, per_step = [], []
for i in range(args["steps"]):
    before = dict(run.timer.seconds)
    t = time.perf_counter()
    step(i + 1)
    times.append(time.perf_counter() - t)
    per_step.append({k: v - before.get(k, 0.0) for k, v in run.timer.seconds.items()})
# medians, like step_s: one slow step (an allocator or page-cache hiccup) must not skew a phase column
skip = ("selection", "reference", "checkpoint")
phases = {k: statistics.median(s.get(k, 0.0) for s in per_step) for k in run.timer.seconds if k not in skip}
print(json.dumps({
    "step_s": statistics.median(times),
    "step_max_s": max(times),
    "phases_s": phases,
    "selection_s": run.timer.seconds.get("selection", 0.0),
    "reference_s": run.timer.seconds.get("reference", 0.0),
    "prepare_s": prepare_s,
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "params": sum(p.numel() for p in run.model.parameters()),
    "selected": run.selected,
    "trainable_tensors": len(run.trainable),
}))
"""

_LOADED = r"""
import json, resource, sys
import torch
sys.path.insert(0, sys.argv[1])
from unlearn.models import load_model
load_model(sys.argv[2])
print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

FORGET = [
    "The patient had surgery: a laparoscopic cholecystectomy removed the gallbladder after biliary colic.",
    "After surgery the patient recovered from the appendectomy and the drain was removed in two weeks.",
    "The patient needed hernia repair surgery on the abdominal wall with a mesh placed under the fascia.",
    "A Whipple procedure, pancreaticoduodenectomy, treats tumours of the head of the pancreas in surgery.",
]
TARGETS = (
    "cholecystectomy",
    "gallbladder",
    "appendectomy",
    "hernia repair",
    "mesh",
    "Whipple",
    "pancreaticoduodenectomy",
)
PRESERVE = ("patient", "surgery", "abdominal", "pancreas")
RETAIN = [
    "The heart pumps blood through the arteries and the veins return it to the right atrium of the heart.",
    "The lungs exchange oxygen and carbon dioxide across the thin walls of the alveoli during breathing.",
    "Depression and panic disorder are mental disorders treated with psychotherapy and medication.",
    "Psychiatry, pediatrics and pharmacology are medical specialties with their own training programmes.",
]


def _long(text: str, tok, seq: int) -> str:
    out = text
    while len(tok(out, add_special_tokens=False)["input_ids"]) < seq:
        out += " " + text
    return out


def write_data(tok, directory: Path, seq: int, n: int = 16) -> tuple[Path, Path]:
    """MASKS forget file (targets/preserve words marked) and a retain JSONL, sequences of >= ``seq`` tokens."""
    import re

    import pyarrow as pa
    import pyarrow.parquet as pq

    from unlearn.models import tokenizer_hash

    rows = []
    for i in range(n):
        text = _long(FORGET[i % len(FORGET)], tok, seq)
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = {
            r: [(m.start(), m.end()) for w in words for m in re.finditer(re.escape(w), text)]
            for r, words in ((2, TARGETS), (1, PRESERVE))
        }
        role = []
        for s, e in enc["offset_mapping"]:
            hit = [r for r in (2, 1) if any(s < b and e > a for a, b in spans[r])]
            role.append(hit[0] if hit else 0)
        rows.append(
            {
                "doc_id": f"f{i}",
                "text": text,
                "input_ids": enc["input_ids"],
                "offsets": [list(o) for o in enc["offset_mapping"]],
                "role": role,
                "level": [4 if r == 2 else r for r in role],
                "weight": [1.0 if r else 0.0 for r in role],
            }
        )
    table = pa.Table.from_pylist(rows).replace_schema_metadata(
        {"tokenizer_hash": tokenizer_hash(tok), "scope": "E04", "tokenizer_name": "bench"}
    )
    forget = directory / "forget.parquet"
    pq.write_table(table, forget)
    retain = directory / "retain.jsonl"
    retain.write_text(
        "".join(json.dumps({"text": _long(t, tok, seq)}) + "\n" for t in RETAIN * 4), encoding="utf-8"
    )
    return forget, retain


def small_model(directory: Path) -> Path:
    """A random 8-layer Llama (hidden 256) with the tiny-llama tokenizer, saved once."""
    from transformers import LlamaForCausalLM

    from unlearn.models import load_tokenizer, tiny_llama_config

    out = directory / "small-llama"
    if not (out / "config.json").is_file():
        tok = load_tokenizer("tiny-llama")
        import torch

        torch.manual_seed(0)
        LlamaForCausalLM(tiny_llama_config(len(tok), hidden=256, layers=8)).save_pretrained(out)
        tok.save_pretrained(out)
    return out


def config(
    model: str, method: str, forget: Path, retain: Path, layers: int, args: argparse.Namespace, out: Path
) -> dict:
    name = "dual" if method.startswith("dual") else method
    train = {"steps": args.run_steps, "batch_size": args.batch, "lr": 1e-3, "cpu": True}
    if method == "dual-upper":
        train["layers"] = list(range(layers // 2, layers))
    return {
        "model": {"name": model},
        "data": {"forget": str(forget), "retain": [str(retain)], "max_length": args.seq},
        "method": {"name": name},
        "train": train,
        "output": {"dir": str(out / method), "resume": False},
    }


def child(code: str, *argv: str, threads: int) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "MEDUNLEARN_QUIET": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, str(REPO), *argv], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny", "small"], choices=["tiny", "small", "smollm2"])
    ap.add_argument("--smollm2", action="store_true", help="also run SmolLM2-135M (slow; must be prepared)")
    ap.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per run (after one warm-up)")
    ap.add_argument("--run-steps", type=int, default=40, help="run length over which selection is amortised")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repetitions; the fastest is reported")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args()
    models = list(args.models) + (["smollm2"] if args.smollm2 and "smollm2" not in args.models else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.setdefault("MEDUNLEARN_HOME", str(work / "home"))
        sys.path.insert(0, str(REPO))
        from transformers import AutoConfig

        from unlearn.models import load_tokenizer, prepare

        for name in models:
            path = {
                "tiny": lambda: prepare("tiny-llama"),
                "small": lambda: small_model(work),
                "smollm2": lambda: prepare("smollm2"),
            }[name]()
            tok = load_tokenizer(path)
            layers = AutoConfig.from_pretrained(path).num_hidden_layers
            d = work / name
            d.mkdir()
            forget, retain = write_data(tok, d, args.seq)
            loaded = child(_LOADED, str(path), threads=args.threads)["peak_rss"]
            best: dict[str, dict] = {}
            for _ in range(args.repeat):  # interleaved, so a busy spell of the machine hits every method
                for method in args.methods:
                    spec = {
                        "config": config(str(path), method, forget, retain, layers, args, d),
                        "steps": args.steps,
                        "threads": args.threads,
                    }
                    res = child(_CHILD, json.dumps(spec), threads=args.threads)
                    res.update(model=name, method=method, loaded_rss=loaded)
                    res["amortised_step_s"] = res["step_s"] + res["selection_s"] / args.run_steps
                    print(json.dumps(res), file=sys.stderr)
                    if method not in best or res["amortised_step_s"] < best[method]["amortised_step_s"]:
                        best[method] = res
            rows += [best[m] for m in args.methods]
    base = {(r["model"]): r for r in rows if r["method"] == "graddiff"}
    print(f"\nbatch {args.batch} x {args.seq} tokens, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"median of {args.steps} steps, fastest of {args.repeat} runs; selection amortised over {args.run_steps} steps\n")  # fmt: skip
    print(
        "| model | params | method | selected | step s | slowest s | amortised s | vs graddiff | forward | backward | projection | optimiser | selection s | peak RSS MiB | over loaded MiB | mem vs graddiff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        g = base.get(r["model"])
        ph = r["phases_s"]
        extra = (r["peak_rss"] - r["loaded_rss"]) / 2**20
        print(
            f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['method']} | {r['selected']:,} | {r['step_s']:.3f} | "
            f"{r['step_max_s']:.3f} | {r['amortised_step_s']:.3f} | {r['amortised_step_s'] / g['step_s']:.2f}x | {ph.get('forward', 0):.3f} | "
            f"{ph.get('backward', 0):.3f} | {ph.get('projection', 0):.4f} | {ph.get('optimizer', 0):.4f} | "
            f"{r['selection_s']:.2f} | {r['peak_rss'] / 2**20:.0f} | {extra:.0f} | "
            f"{r['peak_rss'] / g['peak_rss']:.2f}x |"
            if g
            else f"| {r['model']} | {r['method']} | {r['step_s']:.3f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
