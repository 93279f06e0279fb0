"""Benchmark: memorize/oracle fine-tuning with the frozen lower layers computed once vs every step.

``unlearn.finetune.finetune`` trains only the top ``train_layers`` decoder layers. With ``reuse_frozen`` (the
default) the hidden states entering the first trained layer are computed once per record and each step runs
the trained layers only; without it every step runs the whole model. Both runs below train the same model on
the same records for the same number of steps; the reported time includes the one-off pass that computes the
frozen states, so the ratio is what a memorize stage of that length gains.

Models: ``small`` (a random 8-layer Llama, hidden 256, same tokenizer as tiny-llama) and ``smollm2``
(SmolLM2-135M, only with ``--smollm2`` and once ``medunlearn model prepare smollm2`` has run). Each
configuration runs ``--repeat`` times, interleaved, and the fastest run is reported (the machine may be
shared).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_finetune.py [--smollm2] [--records 32]
[--seq 128] [--epochs 2] [--train-layers 8] [--repeat 2] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from unlearn.data import Record
from unlearn.finetune import FinetuneConfig, finetune


def _small_llama() -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=1024, hidden_size=256, intermediate_size=688, num_hidden_layers=8,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
    )  # fmt: skip
    return LlamaForCausalLM(cfg)


def _load(name: str) -> Any:
    if name == "small":
        return _small_llama()
    from unlearn.models import load_model

    return load_model(name)[0]


def _records(n: int, seq: int, vocab: int) -> list[Record]:
    gen = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        ids = torch.randint(3, vocab, (seq - (i % 4) * 8,), generator=gen).tolist()  # ragged: padding too
        out.append(Record(str(i), ids, [0] * len(ids), [0] * len(ids), [1.0] * len(ids)))
    return out


def run_one(name: str, reuse: bool, args: argparse.Namespace) -> dict[str, float]:
    model = _load(name)
    records = _records(args.records, args.seq, int(model.config.vocab_size))
    layers = min(args.train_layers, int(model.config.num_hidden_layers) - 1)
    cfg = FinetuneConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-4, train_layers=layers)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        info = finetune(
            model, records, cfg, Path(tmp), pad_id=0, desc=f"{name} reuse={reuse}", reuse_frozen=reuse
        )
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "steps": info["steps"], "final_loss": info["final_loss"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smollm2", action="store_true")
    ap.add_argument("--records", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--train-layers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    models = ["small"] + (["smollm2"] if args.smollm2 else [])
    best: dict[tuple[str, bool], dict[str, float]] = {}
    for _ in range(args.repeat):
        for name in models:
            for reuse in (False, True):
                res = run_one(name, reuse, args)
                key = (name, reuse)
                if key not in best or res["seconds"] < best[key]["seconds"]:
                    best[key] = res
    print(f"threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}, "
          f"{args.records} records x {args.seq} tokens, batch {args.batch}, {args.epochs} epochs")  # fmt: skip
    print(
        f"{'model':8} {'steps':>5} {'full pass s/step':>17} {'frozen reused s/step':>21} {'ratio':>6} {'loss diff':>10}"
    )
    rows = []
    for name in models:
        full, reused = best[(name, False)], best[(name, True)]
        ratio = reused["seconds"] / full["seconds"]
        diff = abs(reused["final_loss"] - full["final_loss"])
        print(f"{name:8} {full['steps']:>5} {full['seconds'] / full['steps']:>17.3f} "
              f"{reused['seconds'] / reused['steps']:>21.3f} {ratio:>6.2f} {diff:>10.2e}")  # fmt: skip
        rows.append({"model": name, "full": full, "reused": reused, "ratio": ratio})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
