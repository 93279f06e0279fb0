"""Likelihood-based scoring of a causal LM: MCQ answers, per-token log-likelihoods, perplexity.

MCQ rendering (:mod:`unlearn.prompts`, the same string the memorisation stage trains on): the user turn is
the question followed by lettered options ``"A. …"`` one per line; the assistant turn is
``"Answer: X. option text"``. Each option is scored as that assistant continuation; its score is the
**mean log-probability of the tokens of "X. option text"** (the shared ``"Answer:"`` prefix and the
end-of-turn marker are not scored), so options of different lengths compare fairly. The prediction is
the option with the highest score; ties get fractional credit (:func:`unlearn.eval.metrics.mcq_credit`).

All functions run under ``torch.no_grad`` in batches, on the model's device, and return numpy arrays.
Per-token arrays are aligned with the input tokens: entry ``t`` is ``log p(x_t | x_<t)`` and entry 0
(no context) is ``nan``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hierarchy.masks import TARGET
from ontology.common.errors import MedunlearnError
from ontology.common.progress import progress
from unlearn.eval.metrics import mcq_credit
from unlearn.prompts import mcq_option_texts


@dataclass
class TokenScores:
    """Per-token log-probabilities of one sequence; ``mu``/``sigma`` are the mean and standard deviation
    of ``log p`` under the model's own next-token distribution (for Min-K%++), if requested."""

    logp: np.ndarray
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None


def _device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """Put ``model`` in eval mode (no dropout) for the block, restoring its training flag afterwards."""
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def _logits(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    with evaluating(model):
        out = model(input_ids=input_ids, attention_mask=attention_mask)
    logits = out.logits if hasattr(out, "logits") else out[0]
    return logits.float()


@torch.no_grad()
def token_logprobs(
    model: Any,
    sequences: Sequence[Sequence[int]],
    *,
    pad_id: int = 0,
    batch_size: int = 8,
    stats: bool = False,
    desc: str = "scoring",
) -> list[TokenScores]:
    """Log-probability of every token of every sequence (right-padded batches, longest first).

    With ``stats=True`` also ``mu_t = Σ_v p_v log p_v`` and ``sigma_t = sqrt(Σ_v p_v (log p_v)² - mu_t²)``
    of the predictive distribution at each position.
    """
    device = _device(model)
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    results: list[TokenScores | None] = [None] * len(sequences)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in progress(batches, desc=desc, unit="batch"):
        width = max(len(sequences[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = torch.as_tensor(list(sequences[i]), dtype=torch.long)
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        logits = _logits(model, ids.to(device), mask.to(device))
        for row, i in enumerate(batch):
            n = len(sequences[i])
            lp_all = torch.log_softmax(logits[row, : n - 1], dim=-1)  # predicts tokens 1..n-1
            target = ids[row, 1:n].to(device)
            logp = np.full(n, np.nan)
            logp[1:] = lp_all.gather(-1, target[:, None])[:, 0].cpu().numpy()
            scores = TokenScores(logp)
            if stats:
                p = lp_all.exp()
                mu = (p * lp_all).sum(-1)
                var = (p * (lp_all - mu[:, None]).square()).sum(-1)
                scores.mu = np.concatenate([[np.nan], mu.cpu().numpy()])
                scores.sigma = np.concatenate([[np.nan], var.clamp_min(0).sqrt().cpu().numpy()])
            results[i] = scores
    return [r for r in results if r is not None]


def encode_span(tokenizer: Any, text: str, start: int, end: int) -> tuple[list[int], np.ndarray]:
    """Token ids of ``text`` and a boolean mask of the tokens overlapping characters ``[start, end)``."""
    if not getattr(tokenizer, "is_fast", False):
        raise MedunlearnError("scoring needs a fast tokenizer (offset mapping)")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = np.asarray(enc["offset_mapping"], dtype=int).reshape(-1, 2)
    mask = (offsets[:, 1] > start) & (offsets[:, 0] < end)
    mask[0] = False  # the first token has no context to be scored in
    return list(enc["input_ids"]), mask


# ------------------------------------------------------------------------------------------ MCQ
@dataclass
class MCQResult:
    """Option scores (``nan`` beyond an item's options), predictions (first of tied maxima), per-item
    credit (fractional on ties) and accuracy."""

    scores: np.ndarray
    answers: np.ndarray
    predictions: np.ndarray
    credit: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(self.credit.mean()) if self.credit.size else float("nan")


def _uses_kv_cache(model: Any) -> bool:
    """True for Hugging Face causal LMs, which can reuse a prompt's key/value cache."""
    return getattr(getattr(model, "config", None), "use_cache", None) is not None


@dataclass
class ContinuationScore:
    """One continuation after a prefix: ``logp[t]`` of each of its tokens, and ``greedy[t]``, whether that
    token was the model's most likely next token (all true: greedy decoding reproduces the continuation)."""

    logp: np.ndarray
    greedy: np.ndarray


@torch.no_grad()
def continuation_scores(
    model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]]
) -> list[ContinuationScore]:
    """Score each continuation's tokens after a shared prefix, running the prefix once.

    The prefix's key/value cache is repeated for the continuations, which run as one right-padded batch:
    an MCQ item costs one pass over its prompt instead of one per option.
    """
    device = _device(model)
    prompt = torch.tensor([list(prefix)], device=device)
    with evaluating(model):
        try:  # only the last position's logits are needed (skips the LM head on the rest of the prompt)
            out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
        except TypeError:
            out = model(input_ids=prompt, use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    k, width, n = len(continuations), max(len(c) for c in continuations), len(prefix)
    ids = torch.zeros((k, width), dtype=torch.long)
    mask = torch.zeros((k, width), dtype=torch.long)
    for row, cont in enumerate(continuations):
        ids[row, : len(cont)] = torch.as_tensor(list(cont))
        mask[row, : len(cont)] = 1
    cache = out.past_key_values
    cache.batch_repeat_interleave(k)
    logits = _logits_cached(model, ids.to(device), mask.to(device), cache, n)
    lp = torch.log_softmax(logits, dim=-1)
    top = lp.argmax(-1).cpu()
    results = []
    for row, cont in enumerate(continuations):
        tail = lp[row, : len(cont) - 1].gather(-1, ids[row, 1 : len(cont), None].to(device))[:, 0]
        greedy = (
            torch.cat([first.argmax().reshape(1).cpu(), top[row, : len(cont) - 1]]) == ids[row, : len(cont)]
        )
        results.append(
            ContinuationScore(torch.cat([first[cont[0]].reshape(1), tail]).cpu().numpy(), greedy.numpy())
        )
    return results


def continuation_logprobs(
    model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """Log-probabilities of each continuation's tokens after a shared prefix (see :func:`continuation_scores`)."""
    return [s.logp for s in continuation_scores(model, prefix, continuations)]


def _logits_cached(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, cache: Any, n_prefix: int
) -> torch.Tensor:
    k, width = ids.shape
    attention = torch.cat([torch.ones((k, n_prefix), dtype=mask.dtype, device=mask.device), mask], dim=1)
    positions = torch.arange(n_prefix, n_prefix + width, device=ids.device).expand(k, -1)
    with evaluating(model):
        out = model(
            input_ids=ids,
            attention_mask=attention,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
    return out.logits.float()


def score_mcq(
    model: Any, tokenizer: Any, items: Sequence[Mapping[str, Any]], *, batch_size: int = 8, desc: str = "MCQ"
) -> MCQResult:
    """Score every option of every item by its length-normalised log-likelihood (see module notes).

    Hugging Face models run each item's shared prompt once (:func:`continuation_logprobs`); other models
    (and items whose options do not share the prompt's tokens) score each option as a whole sequence.
    """
    if not items:
        raise MedunlearnError("no MCQ items to score")
    width = max(len(it["options"]) for it in items)
    scores = np.full((len(items), width), np.nan)
    cached = _uses_kv_cache(model)
    seqs, masks, owner = [], [], []
    for n, item in enumerate(progress(items, desc=desc, unit="item") if cached else items):
        encoded = []
        for opt, (text, start, end) in enumerate(mcq_option_texts(tokenizer, item)):
            ids, mask = encode_span(tokenizer, text, start, end)
            if not mask.any():
                raise MedunlearnError(f"item {item.get('id', n)!r}: option {opt} has no tokens to score")
            encoded.append((ids, mask))
        firsts = [int(np.argmax(mask)) for _, mask in encoded]
        spans = [np.flatnonzero(mask) for _, mask in encoded]
        shared = len({tuple(ids[:f]) for (ids, _), f in zip(encoded, firsts, strict=True)}) == 1
        contiguous = all(sp[-1] - sp[0] + 1 == sp.size for sp in spans)
        if cached and shared and contiguous:
            prefix = encoded[0][0][: firsts[0]]
            conts = [ids[sp[0] : sp[-1] + 1] for (ids, _), sp in zip(encoded, spans, strict=True)]
            for opt, lp in enumerate(continuation_logprobs(model, prefix, conts)):
                scores[n, opt] = float(lp.mean())
            continue
        for opt, (ids, mask) in enumerate(encoded):
            seqs.append(ids)
            masks.append(mask)
            owner.append((n, opt))
    if seqs:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        token_scores = token_logprobs(model, seqs, pad_id=pad, batch_size=batch_size, desc=desc)
        for (n, opt), ts, mask in zip(owner, token_scores, masks, strict=True):
            scores[n, opt] = float(ts.logp[mask].mean())
    answers = np.asarray([int(it["answer"]) for it in items])
    credit = np.asarray([mcq_credit(row, a) for row, a in zip(scores, answers, strict=True)])
    return MCQResult(scores, answers, np.nanargmax(scores, axis=1), credit)


# ------------------------------------------------------------------------------------------ per level
def level_loglik(
    model: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    pad_id: int = 0,
    batch_size: int = 8,
) -> dict[str, dict[str, float]]:
    """Mean log-likelihood of concept tokens per level (L1..L4), inside and outside the forget scope.

    Each record has ``input_ids`` and ``level`` (0 none, 1–4) per token, and either ``inside`` (a boolean
    per token: the token belongs to a concept inside the scope) or ``role`` (then ``role == TARGET`` stands
    for "inside"; L1/L2 tokens are never targets, so they all count as outside). Returns
    ``{"L1": {"inside": mean, "outside": mean, "n_inside": count, "n_outside": count}, …}`` with ``nan``
    means for empty cells.
    """
    token_scores = token_logprobs(
        model, [r["input_ids"] for r in records], pad_id=pad_id, batch_size=batch_size, desc="levels"
    )
    return level_means(records, [ts.logp for ts in token_scores])


def level_means(
    records: Sequence[Mapping[str, Any]], logps: Sequence[np.ndarray]
) -> dict[str, dict[str, float]]:
    """:func:`level_loglik`'s table from per-token log-probabilities computed elsewhere (aligned with each
    record's ``input_ids``)."""
    sums = np.zeros((5, 2))
    counts = np.zeros((5, 2), dtype=int)
    for rec, logp in zip(records, logps, strict=True):
        level = np.asarray(rec["level"], dtype=int)
        inside = (
            np.asarray(rec["inside"], dtype=bool)
            if "inside" in rec
            else np.asarray(rec["role"], dtype=int) == TARGET
        )
        valid = np.isfinite(logp) & (level > 0)
        for where, flag in ((0, True), (1, False)):
            sel = valid & (inside == flag)
            np.add.at(sums[:, where], level[sel], logp[sel])
            np.add.at(counts[:, where], level[sel], 1)
    out = {}
    for lv in range(1, 5):
        cell: dict[str, float] = {}
        for where, name in ((0, "inside"), (1, "outside")):
            n = int(counts[lv, where])
            cell[name] = float(sums[lv, where] / n) if n else float("nan")
            cell[f"n_{name}"] = n
        out[f"L{lv}"] = cell
    return out


def level_deltas(after: Mapping[str, Mapping[str, float]], before: Mapping[str, Mapping[str, float]]) -> dict:
    """``after - before`` of :func:`level_loglik` means, per level and side (negative = knowledge lost)."""
    return {
        lv: {side: float(after[lv][side] - before[lv][side]) for side in ("inside", "outside")}
        for lv in after
    }


# ------------------------------------------------------------------------------------------ general text
def sequence_nll(
    model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 8, max_length: int = 512
) -> dict[str, float]:
    """Token-weighted mean NLL (nats/token) and perplexity of plain texts, truncated to ``max_length``."""
    seqs = [tokenizer(t, add_special_tokens=False)["input_ids"][:max_length] for t in texts]
    seqs = [s for s in seqs if len(s) > 1]
    if not seqs:
        raise MedunlearnError("no text with at least two tokens to compute perplexity on")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores = token_logprobs(model, seqs, pad_id=pad, batch_size=batch_size, desc="perplexity")
    total = sum(float(-np.nansum(s.logp)) for s in scores)
    n = sum(len(s.logp) - 1 for s in scores)
    nll = total / n
    return {"nll": nll, "perplexity": math.exp(nll), "tokens": n}
