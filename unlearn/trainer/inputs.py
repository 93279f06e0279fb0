"""What a run reads before its first step: forget and retain records as seeded batch streams, the trainable
candidates, and the starting model's token log-probabilities for the NPO-type terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ontology.common.errors import ConfigError, InputError
from unlearn import losses
from unlearn.data import BatchStream, TokenDataset, collate, load_records
from unlearn.selection import select_parameters


@dataclass
class RunData:
    """Forget and retain records and their batch streams (retain ones ``None`` without retain data)."""

    forget: TokenDataset
    retain: TokenDataset
    scope: str | None
    forget_stream: BatchStream
    retain_stream: BatchStream | None
    calibration: TokenDataset


def needs_retain(method: Any, term: Any) -> bool:
    """True when the method reads retain data (retain term, Fisher selection, a projection or its loss)."""
    return (
        method.retain_loss != "none"
        or method.selection == "fisher"
        or method.projection != "none"
        or term.pairs_retain
    )


def load_data(cfg: Any, term: Any, tokenizer: Any, tok_hash: str, rank: int, pad_id: int) -> RunData:
    """Read the forget and retain files; check what the method needs of them.

    Raises
    ------
    InputError
        An empty forget set, or one without target tokens for a method that needs them.
    ConfigError
        A method that needs retain data without any.
    """
    from hierarchy.masks import masks_metadata

    d, method = cfg.data, cfg.method
    forget = load_records(
        d.forget, tokenizer, fmt=d.forget_format, max_length=d.max_length,
        text_field=d.text_field, expected_tokenizer_hash=tok_hash,
    )  # fmt: skip
    if not forget:
        raise InputError("the forget set is empty: nothing to unlearn", path=d.forget)
    forget_set = TokenDataset(forget)
    scope = masks_metadata(d.forget).get("scope") if d.forget.endswith(".parquet") else None
    if method.needs_targets and forget_set.target_token_count() == 0:
        raise InputError(
            f"the scope ({scope or 'unknown'}) selects no target tokens in the forget set; "
            "widen the scope or use a method with forget_tokens=all",
            path=d.forget,
        )
    retain = []
    for path in d.retain:
        retain += load_records(
            path, tokenizer, fmt=d.retain_format, max_length=d.max_length, text_field=d.text_field,
            expected_tokenizer_hash=tok_hash, exclude=d.exclude, limit=d.limit,
        )  # fmt: skip
    if needs_retain(method, term) and not retain:
        raise ConfigError(f"method {method.name!r} needs retain data: data.retain is empty or has no records")
    retain_set = TokenDataset(retain)
    if d.calibration and not term.reads_calibration:
        raise ConfigError(
            f"data.calibration: the forget term {method.forget_loss!r} does not read it (ref_kl does)"
        )
    calibration = []
    for path in d.calibration:
        calibration += load_records(
            path, tokenizer, fmt=d.forget_format, max_length=d.max_length, text_field=d.text_field,
            expected_tokenizer_hash=tok_hash,
        )  # fmt: skip
    if d.calibration and not calibration:
        raise InputError("the calibration files hold no record", path=d.calibration[0])
    seed = cfg.train.seed + 1000 * rank
    bs, rbs = cfg.train.batch_size, cfg.train.retain_batch_size or cfg.train.batch_size
    forget_stream = BatchStream(forget_set, bs, seed + 1, pad_id)
    retain_stream = BatchStream(retain_set, rbs, seed + 2, pad_id) if retain else None
    return RunData(forget_set, retain_set, scope, forget_stream, retain_stream, TokenDataset(calibration))


def candidates(cfg: Any, term: Any, run: Any) -> dict[str, nn.Parameter]:
    """The parameters that may change: ``train.include``/``exclude``/``layers``, or the term's default set."""
    t = cfg.train
    include = t.include if t.include is not None else term.default_include(run)
    return select_parameters(run.model, include=include, exclude=t.exclude, layers=t.layers)


def add_lora(model: Any, cfg: Any) -> Any:
    """``model`` with PEFT LoRA adapters on ``train.lora.target_modules`` (which start at zero)."""
    from peft import LoraConfig, get_peft_model

    lc = cfg.train.lora
    return get_peft_model(
        model,
        LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout, target_modules=lc.target_modules),
    )


@torch.no_grad()
def reference_logprobs(run: Any) -> Tensor:
    """Token log-probabilities of the starting model on every forget record, ``[N, max_len-1]``."""
    records, batch_size = run.data.forget, run.cfg.train.batch_size
    width = max(len(r.input_ids) for r in records.records)
    ref = torch.zeros(len(records), max(width - 1, 1))
    order = list(range(len(records)))
    for start in range(0, len(order), batch_size):
        batch = collate([records[i] for i in order[start : start + batch_size]], run.pad_id)
        with run.timer("reference"):
            logits = run.model(
                input_ids=batch["input_ids"].to(run.device),
                attention_mask=batch["attention_mask"].to(run.device),
                use_cache=False,
            ).logits
        logp = losses.token_logprobs(logits, batch["labels"].to(run.device)).float().cpu()
        ref[batch["index"], : logp.shape[1]] = logp
    if run.sharded:
        # a forward without gradients leaves FSDP's root unit gathered; the Fisher backward that followed
        # then gave other gradients (a different mask than one process) until the model was resharded
        run.model.reshard()
    return ref
