"""Benchmark: what a memorize/oracle step costs, and what each shortcut of ``unlearn.finetune`` saves.

``unlearn.finetune.finetune`` trains only the top ``train_layers`` decoder layers. The variants below train the
same model on the same records for the same steps:

- ``full``: a full forward pass every step, the LM head on every position;
- ``frozen``: the hidden states entering the first trained layer computed once per record (``reuse_frozen``);
- ``frozen+head``: also the LM head only on tokens with a non-zero loss weight, never on padding (``read_head``);
- ``frozen+head+groups``: also batches of similar length (``length_groups`` = 8 batches).

Per step: the run's time without the one-off pass through the frozen layers (reported apart, per record), divided
by the steps. The final losses of the first three must agree up to float rounding; grouped batches draw other
batches, so theirs differs.

``--profile`` times the parts of one step on one batch of the suite's memorised items (forward + backward of the
top layers with the LM head on every position, on the read positions, or without the LM head) and counts the
tokens: per item, the shared chat-template prefix (system prompt), padding in random and in length-grouped batches.

Records: ``--suite NAME`` (the memorised items of the suite's ``small`` split, rendered as the memorize stage
renders them, with the model's tokenizer) or random ragged token sequences. Models: ``small`` (a random 8-layer
Llama) and ``smollm2`` (with ``--smollm2``, once ``medunlearn model prepare smollm2`` has run).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_finetune.py --smollm2 --suite medmcqa-surgery
[--steps 8] [--variants full,frozen,frozen+head,frozen+head+groups] [--profile] [--repeat 1] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from unlearn.data import BatchStream, Record, TokenDataset, plain_record
from unlearn.finetune import FinetuneConfig, finetune

VARIANTS = {
    "full": {"reuse_frozen": False, "read_head": False, "length_groups": None},
    "frozen": {"reuse_frozen": True, "read_head": False, "length_groups": None},
    "frozen+head": {"reuse_frozen": True, "read_head": True, "length_groups": None},
    "frozen+head+groups": {"reuse_frozen": True, "read_head": True, "length_groups": 8},
}


def _small_llama() -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=1024, hidden_size=256, intermediate_size=688, num_hidden_layers=8,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
    )  # fmt: skip
    return LlamaForCausalLM(cfg)


def _load(name: str) -> tuple[Any, Any]:
    from unlearn.models import load_model

    if name == "small":
        return _small_llama(), load_model("tiny-llama")[1]
    return load_model(name)


def _records(tok: Any, args: argparse.Namespace, vocab: int) -> list[Record]:
    if args.suite:
        from unlearn.eval.datasets import split_items
        from unlearn.eval.inputs import training_docs
        from unlearn.eval.suite import default_data_dir, load_suite

        cfg = load_suite(args.suite)
        forget, retain = cfg.load_items(Path(args.data) if args.data else default_data_dir())
        sp = split_items(forget, retain, "small", 0)
        docs = training_docs(sp["forget"] + sp["retain"], tok)
        limit = cfg.size("small").max_length
        return [
            plain_record(
                d["doc_id"],
                [i % vocab for i in tok(d["text"], add_special_tokens=False)["input_ids"][:limit]],
            )
            for d in docs
        ]
    gen = torch.Generator().manual_seed(1)
    out = []
    for i in range(args.records):
        ids = torch.randint(
            3, vocab, (args.seq - (i % 4) * 8,), generator=gen
        ).tolist()  # ragged: padding too
        out.append(plain_record(str(i), ids))
    return out


def run_one(name: str, variant: str, args: argparse.Namespace) -> dict[str, float]:
    model, tok = _load(name)
    records = _records(tok, args, int(model.config.vocab_size))
    layers = min(args.train_layers, int(model.config.num_hidden_layers) - 1)
    opts = VARIANTS[variant]
    cfg = FinetuneConfig(
        epochs=(args.steps - 0.5) * args.batch / len(records), batch_size=args.batch, lr=3e-4, train_layers=layers,
        length_groups=opts["length_groups"], checkpoint_every=10_000,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        info = finetune(
            model, records, cfg, Path(tmp), pad_id=0, desc=f"{name} {variant}",
            reuse_frozen=bool(opts["reuse_frozen"]), read_head=bool(opts["read_head"]),
        )  # fmt: skip
        seconds = time.perf_counter() - t
    return {
        "step_s": (seconds - info["frozen_seconds"]) / info["steps"],
        "frozen_s_per_record": info["frozen_seconds"] / len(records),
        "steps": info["steps"],
        "records": len(records),
        "final_loss": info["final_loss"],
    }


def _median_time(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def profile(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The parts of one step on one batch, and where the tokens go."""
    from unlearn.finetune import trainable_names
    from unlearn.losses import nll_loss, token_logprobs
    from unlearn.top_layers import first_trained_layer, frozen_states, head_logprobs, pad_states, top_hidden

    model, tok = _load(name)
    records = _records(tok, args, int(model.config.vocab_size))
    layers = min(args.train_layers, int(model.config.num_hidden_layers) - 1)
    names = trainable_names(model, layers)
    for n, p in model.named_parameters():
        p.requires_grad_(n in set(names))
    first = first_trained_layer(model, names)
    assert first is not None
    lengths = [len(r.input_ids) for r in records]
    ids = [r.input_ids for r in records]
    shared = 0
    while all(len(x) > shared and x[shared] == ids[0][shared] for x in ids):
        shared += 1
    out: dict[str, Any] = {
        "records": len(records),
        "tokens_mean": statistics.mean(lengths),
        "shared_prefix": shared,
    }
    dataset = TokenDataset(records)
    for label, groups in (("random", None), ("grouped", 8)):
        stream = BatchStream(dataset, args.batch, seed=0, length_groups=groups)
        batches = [stream.next_indices() for _ in range(len(records) // args.batch)]
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        out[f"padding_{label}"] = 1 - sum(lengths[i] for b in batches for i in b) / padded
    batch = BatchStream(dataset, args.batch, seed=0).next_batch()
    model.eval()
    states = frozen_states(model, records, first, pad_id=0, batch_size=args.batch)
    model.train()
    hidden = pad_states(states, batch["index"], batch["input_ids"].shape[1])
    labels, mask = batch["labels"], batch["attention_mask"]
    weights = (labels[:, 1:] != -100).float()

    def step(kind: str) -> None:
        h = top_hidden(model, first, hidden, mask)
        if kind == "head all":
            loss = nll_loss(token_logprobs(model.lm_head(h), labels), weights)
        elif kind == "head read":
            loss = nll_loss(head_logprobs(model, h, labels, weights != 0), weights)
        else:
            loss = h.square().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)

    for kind in ("head all", "head read", "no head"):
        step(kind)  # warm-up
        out[f"fwd+bwd {kind} s"] = _median_time(lambda kind=kind: step(kind))
    out["batch_tokens"] = int(mask.sum())
    out["batch_positions"] = int(mask.numel())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smollm2", action="store_true")
    ap.add_argument("--suite", default=None, help="use this suite's memorised small-split items")
    ap.add_argument("--data", default=None)
    ap.add_argument("--records", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--train-layers", type=int, default=8)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    models = ["small"] + (["smollm2"] if args.smollm2 else [])
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    print(f"threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}, "
          f"records {args.suite or f'{args.records} random x {args.seq} tokens'}, batch {args.batch}, {args.steps} steps")  # fmt: skip
    report: dict[str, Any] = {}
    if args.profile:
        for name in models:
            report[f"profile {name}"] = prof = profile(name, args)
            print(json.dumps({name: prof}, indent=1))
    best: dict[tuple[str, str], dict[str, float]] = {}
    for _ in range(args.repeat):
        for name in models:
            for variant in variants:
                res = run_one(name, variant, args)
                if (name, variant) not in best or res["step_s"] < best[name, variant]["step_s"]:
                    best[name, variant] = res
    print(
        f"{'model':8} {'variant':20} {'s/step':>7} {'vs full':>8} {'frozen s/record':>16} {'final loss':>11}"
    )
    rows = []
    for name in models:
        base = best.get((name, "full"))
        for variant in variants:
            r = best[name, variant]
            ratio = r["step_s"] / base["step_s"] if base else float("nan")
            print(f"{name:8} {variant:20} {r['step_s']:>7.3f} {ratio:>8.2f} {r['frozen_s_per_record']:>16.4f} "
                  f"{r['final_loss']:>11.6f}")  # fmt: skip
            rows.append({"model": name, "variant": variant, **r, "vs_full": ratio})
    report["runs"] = rows
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
