"""Benchmark: FSDP-sharded against replicated multi-process runs of the same config (``train.fsdp``).

Each (model, method, mode) runs as ``torchrun --standalone --nproc_per_node N -m unlearn unlearn run`` on CPU
(gloo, one thread per process) through the real engine, and its manifest is read: the step time is the
per-phase seconds (forward, backward, projection, optimizer) summed over the run and divided by its steps,
selection is shown apart, peak memory is each rank's peak resident set size during the run (model loading
included; before the outputs are gathered and written): sharded, only rank 0 reads the whole model. The weights of the two modes are compared too (largest
absolute difference), so a speed-up cannot hide a different result.

Run: ``.venv/bin/python benchmarks/bench_fsdp.py [--models tiny small smollm2] [--methods dual graddiff]
[--nproc 2] [--batch 4] [--seq 64] [--steps 4] [--json OUT]``
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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_unlearn_step import REPO, small_model, write_data  # noqa: E402

PHASES = ("forward", "backward", "projection", "optimizer")


def run(cfg: dict, directory: Path, nproc: int) -> dict:
    path = directory / f"{Path(cfg['output']['dir']).name}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MEDUNLEARN_QUIET": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    proc = subprocess.run(
        [*cmd, "-m", "unlearn", "unlearn", "run", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    manifest = json.loads((Path(cfg["output"]["dir"]) / "manifest.json").read_text())
    sec = manifest["seconds_by_phase"]
    return {
        "step_s": sum(sec.get(p, 0.0) for p in PHASES) / manifest["steps"],
        "selection_s": sec.get("selection", 0.0),
        "wall_s": manifest["wall_seconds"],
        "peak_rss": manifest["peak_memory_bytes_per_rank"],
        "changed": manifest["changed_parameters"],
    }


def max_difference(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    wa, wb = (
        load_file(str(a / "model" / "model.safetensors")),
        load_file(str(b / "model" / "model.safetensors")),
    )
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny", "small"], choices=["tiny", "small", "smollm2"])
    ap.add_argument("--methods", nargs="+", default=["dual", "graddiff"])
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.setdefault("MEDUNLEARN_HOME", str(work / "home"))
        sys.path.insert(0, str(REPO))
        from unlearn.models import load_tokenizer, prepare

        for name in args.models:
            path = {
                "tiny": lambda: prepare("tiny-llama"),
                "small": lambda: small_model(work),
                "smollm2": lambda: prepare("smollm2"),
            }[name]()
            d = work / name
            d.mkdir()
            forget, retain = write_data(load_tokenizer(path), d, args.seq)
            for method in args.methods:
                res = {}
                for mode in ("replicated", "sharded"):
                    cfg = {
                        "model": {"name": str(path)},
                        "data": {"forget": str(forget), "retain": [str(retain)], "max_length": args.seq},
                        "method": {"name": method},
                        "train": {
                            "steps": args.steps,
                            "batch_size": args.batch,
                            "lr": 1e-3,
                            "cpu": True,
                            "fsdp": mode == "sharded",
                            "checkpoint_every": args.steps,
                        },
                        "output": {"dir": str(d / f"{method}-{mode}"), "resume": False, "save_patch": False},
                    }
                    res[mode] = run(cfg, d, args.nproc)
                    print(
                        json.dumps({"model": name, "method": method, "mode": mode, **res[mode]}),
                        file=sys.stderr,
                    )
                diff = max_difference(d / f"{method}-replicated", d / f"{method}-sharded")
                rows.append({"model": name, "method": method, **res, "max_weight_difference": diff})
    print(
        f"\n{args.nproc} CPU processes (gloo, 1 thread each), {platform.processor() or platform.machine()}, "
        f"batch {args.batch} x {args.seq} tokens per rank, {args.steps} steps\n"
    )
    print(
        f"{'model':8s} {'method':9s} {'step s repl':>11s} {'step s shard':>12s} {'time x':>7s} "
        f"{'select s r/s':>13s} {'peak MiB/rank repl':>19s} {'peak MiB/rank shard':>20s} {'max |dw|':>9s}"
    )

    def mib(peaks: list[int]) -> str:
        return " / ".join(f"{b / 2**20:.0f}" for b in peaks)

    for r in rows:
        a, b = r["replicated"], r["sharded"]
        print(
            f"{r['model']:8s} {r['method']:9s} {a['step_s']:11.3f} {b['step_s']:12.3f} "
            f"{b['step_s'] / a['step_s']:7.2f} {a['selection_s']:6.1f}/{b['selection_s']:<6.1f} "
            f"{mib(a['peak_rss']):>19s} {mib(b['peak_rss']):>20s} {r['max_weight_difference']:9.1e}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
