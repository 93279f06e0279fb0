"""Every per-item number of an evaluation from one batched forward pass per MCQ item.

An evaluation needs, for each chat-rendered MCQ item: the score of each option (accuracy), and for some splits
the log-probability of every token of the item rendered with its answer (membership inference, per-level
log-likelihood), with the mean and standard deviation of the model's own next-token distribution at each position
(Min-K%++). :func:`score_items` computes all of them from one pass over each item:

1. the token prefix shared by *every* item (the chat template's system turn) runs once, and its key/value cache is
   reused by every batch;
2. the rest of each item's prompt, up to the answer, runs in batches of items of similar length (left-padded, so
   the last prompt position is the same column for every row);
3. the options run as continuations of their item's cached prompt, one row per option, each continuation being
   everything after the prompt (the option's tokens and the end of the turn).

The option score is the mean log-probability of the option's span (``"X. option text"``, as
`unlearn.prompts.mcq_option_texts` defines it); the answer option's row, appended to the prompt, is the
item rendered with its answer, token for token. Results agree with the reference functions
(:func:`unlearn.eval.scoring.score_mcq`, :func:`unlearn.eval.scoring.token_logprobs`) up to float rounding
(``benchmarks/bench_eval.py`` measures the largest difference).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ontology.common.errors import MedunlearnError
from ontology.common.progress import progress
from unlearn.eval.scoring import encode_span, evaluating
from unlearn.prompts import mcq_option_texts


@dataclass
class EncodedItem:
    """One item as tokens: its prompt (shared by all options), one continuation per option, and in each
    continuation the positions of the scored span."""

    prompt: list[int]
    continuations: list[list[int]]
    spans: list[np.ndarray]  # boolean per continuation token
    answer: int

    @property
    def text_ids(self) -> list[int]:
        """Tokens of the item rendered with its answer."""
        return self.prompt + self.continuations[self.answer]


def encode_item(tokenizer: Any, item: Mapping[str, Any]) -> EncodedItem:
    """Split an item's option texts into a shared prompt and per-option continuations.

    Raises a one-line error when the options do not share the prompt's tokens (a tokenizer that merges across
    the answer boundary) or an option has no token to score.
    """
    encoded = []
    for opt, (text, start, end) in enumerate(mcq_option_texts(tokenizer, item)):
        ids, mask = encode_span(tokenizer, text, start, end)
        if not mask.any():
            raise MedunlearnError(f"item {item.get('id')!r}: option {opt} has no tokens to score")
        encoded.append((ids, mask))
    first = min(int(np.argmax(mask)) for _, mask in encoded)
    prompt = encoded[0][0][:first]
    if first < 1 or any(ids[:first] != prompt for ids, _ in encoded):
        raise MedunlearnError(f"item {item.get('id')!r}: its options do not share the prompt's tokens")
    return EncodedItem(
        prompt=list(prompt),
        continuations=[list(ids[first:]) for ids, _ in encoded],
        spans=[mask[first:] for _, mask in encoded],
        answer=int(item["answer"]),
    )


@dataclass
class ItemScores:
    """What :func:`score_items` measured, aligned with its ``items``.

    ``options[i, j]`` is option ``j``'s mean span log-probability (``nan`` beyond item ``i``'s options).
    With ``full_text``: ``logp[i][t]`` is ``log p(x_t | x_<t)`` of token ``t`` of the item rendered with its
    answer (``ids[i]``), entry 0 ``nan``; with ``stats`` also ``mu``/``sigma`` of the predictive distribution.
    """

    options: np.ndarray
    ids: list[list[int]] = field(default_factory=list)
    logp: list[np.ndarray] = field(default_factory=list)
    mu: list[np.ndarray] = field(default_factory=list)
    sigma: list[np.ndarray] = field(default_factory=list)


def _common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for t in range(n):
        if any(s[t] != first[t] for s in seqs):
            return t
    return n


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _stats(lp: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``log p`` under ``p`` for each row of log-probabilities ``[T, V]``."""
    p = lp.exp()
    mu = (p * lp).sum(-1)
    var = (p * (lp - mu[:, None]).square()).sum(-1)
    return mu.cpu().numpy(), var.clamp_min(0).sqrt().cpu().numpy()


@torch.no_grad()
def score_items(
    model: Any,
    tokenizer: Any,
    items: Sequence[Mapping[str, Any]],
    *,
    full_text: bool = False,
    stats: bool = False,
    batch_size: int = 8,
    desc: str = "MCQ",
) -> ItemScores:
    """Option scores of every item, and with ``full_text`` the per-token log-probabilities of each item
    rendered with its answer (``stats``: Min-K%++ statistics too); see the module notes."""
    if not items:
        raise MedunlearnError("no MCQ items to score")
    enc = [encode_item(tokenizer, it) for it in items]
    device = _device(model)
    width = max(len(e.continuations) for e in enc)
    scores = ItemScores(options=np.full((len(enc), width), np.nan))
    n_common = min(_common_prefix([e.prompt for e in enc]), min(len(e.prompt) for e in enc) - 1)
    common_cache, common_lp = None, None
    with evaluating(model):
        if n_common > 0:
            out = model(input_ids=torch.tensor([enc[0].prompt[:n_common]], device=device), use_cache=True)
            common_cache = out.past_key_values
            common_lp = torch.log_softmax(out.logits[0].float(), dim=-1)  # predicts tokens 1..n_common
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].prompt))
        batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        results: dict[int, Row] = {}
        for batch in progress(batches, desc=desc, unit="batch"):
            for i, row in zip(batch, _score_batch(model, [enc[i] for i in batch], n_common, common_cache,
                                                  common_lp, full_text, stats, device), strict=True):  # fmt: skip
                scores.options[i, : len(row[0])] = row[0]
                results[i] = row
    if full_text:
        for i, e in enumerate(enc):
            _, logp, mu, sigma = results[i]
            assert logp is not None  # computed with full_text
            scores.ids.append(e.text_ids)
            scores.logp.append(logp)
            if stats:
                assert mu is not None and sigma is not None
                scores.mu.append(mu)
                scores.sigma.append(sigma)
    return scores


#: one item's option scores, then (with ``full_text``) its text's log-probabilities, mu and sigma
Row = tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def _score_batch(
    model: Any,
    batch: list[EncodedItem],
    n_common: int,
    common_cache: Any,
    common_lp: torch.Tensor | None,
    full_text: bool,
    stats: bool,
    device: torch.device,
) -> list[Row]:
    """One batch of items: their prompt remainders (left-padded after the shared prefix), then their options."""
    b = len(batch)
    rest = [e.prompt[n_common:] for e in batch]
    w1 = max(len(r) for r in rest)
    ids = torch.zeros((b, w1), dtype=torch.long)
    pad1 = torch.zeros((b, w1), dtype=torch.long)
    pos1 = torch.zeros((b, w1), dtype=torch.long)
    for row, r in enumerate(rest):
        ids[row, w1 - len(r) :] = torch.tensor(r)
        pad1[row, w1 - len(r) :] = 1
        pos1[row, w1 - len(r) :] = torch.arange(n_common, n_common + len(r))
    cache = None
    if common_cache is not None:
        cache = copy.deepcopy(common_cache)
        cache.batch_repeat_interleave(b)
    mask1 = torch.cat([torch.ones((b, n_common), dtype=torch.long), pad1], dim=1)
    kwargs: dict[str, Any] = {} if full_text else {"logits_to_keep": 1}
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask1.to(device),
        position_ids=pos1.to(device),
        past_key_values=cache,
        use_cache=True,
        **kwargs,
    )
    logits1 = out.logits.float()
    last = torch.log_softmax(logits1[:, -1], dim=-1)  # predicts each item's first continuation token
    cache = out.past_key_values
    # one row per option: the item's cache repeated, then the continuation (right-padded)
    owner = [row for row, e in enumerate(batch) for _ in e.continuations]
    conts = [c for e in batch for c in e.continuations]
    w2 = max(len(c) for c in conts)
    cids = torch.zeros((len(conts), w2), dtype=torch.long)
    cmask = torch.zeros((len(conts), w2), dtype=torch.long)
    for row, c in enumerate(conts):
        cids[row, : len(c)] = torch.tensor(c)
        cmask[row, : len(c)] = 1
    index = torch.tensor(owner)
    cache.batch_select_indices(index.to(device))
    mask2 = torch.cat([mask1[index], cmask], dim=1)
    lengths = torch.tensor([n_common + len(rest[o]) for o in owner])
    pos2 = lengths[:, None] + torch.arange(w2)[None, :]
    out2 = model(
        input_ids=cids.to(device),
        attention_mask=mask2.to(device),
        position_ids=pos2.to(device),
        past_key_values=cache,
        use_cache=False,
    )
    lp2 = torch.log_softmax(out2.logits.float(), dim=-1)
    results: list[Row] = []
    k = 0
    for row, e in enumerate(batch):
        option_scores = np.empty(len(e.continuations))
        for j, c in enumerate(e.continuations):
            ct = torch.tensor(c, device=device)
            lp = torch.cat([last[row, c[0]].reshape(1), lp2[k, : len(c) - 1].gather(-1, ct[1:, None])[:, 0]])
            option_scores[j] = float(lp[torch.as_tensor(e.spans[j], device=device)].mean())
            if j == e.answer:
                answer_row = k
            k += 1
        if not full_text:
            results.append((option_scores, None, None, None))
            continue
        logp, mu, sigma = _text_logprobs(
            e, len(rest[row]), logits1[row], last[row], lp2[answer_row], common_lp, stats
        )
        results.append((option_scores, logp, mu, sigma))
    return results


def _text_logprobs(
    e: EncodedItem,
    n_rest: int,
    logits1: torch.Tensor,
    last: torch.Tensor,
    lp_answer: torch.Tensor,
    common_lp: torch.Tensor | None,
    stats: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per-token log-probabilities (and Min-K%++ statistics) of the item rendered with its answer.

    The predictive distributions of tokens ``1..n-1``, in order: the shared prefix's rows (its last row predicts
    the remainder's first token), the remainder's rows but its last, the remainder's last row (predicts the
    answer's first token), the answer row's rows but its last.
    """
    rows = [] if common_lp is None else [common_lp]
    rows.append(torch.log_softmax(logits1[logits1.shape[0] - n_rest : -1], dim=-1))
    rows.append(last.reshape(1, -1))
    rows.append(lp_answer[: len(e.continuations[e.answer]) - 1])
    lp_all = torch.cat(rows)
    ids = e.text_ids
    target = torch.tensor(ids[1:], device=lp_all.device)
    logp = np.full(len(ids), np.nan)
    logp[1:] = lp_all.gather(-1, target[:, None])[:, 0].cpu().numpy()
    if not stats:
        return logp, None, None
    mu, sigma = _stats(lp_all)
    return logp, np.concatenate([[np.nan], mu]), np.concatenate([[np.nan], sigma])
