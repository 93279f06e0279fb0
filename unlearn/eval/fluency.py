"""Fluency of what a model writes after unlearning: degenerate repetition and distinct bigrams.

An unlearning objective that pushes the forgotten tokens down without bound makes the model write a repeated
token instead ("spinal spinal spinal …"), which is itself a sign that the records were there. Every method is
measured on its greedy completions of the forget prompts:

- ``degenerate_rate``: the share of completions in which a word or an n-gram of up to :data:`MAX_NGRAM` words is
  repeated :data:`MIN_REPEATS` or more times in a row (words compared lower-cased, without surrounding
  punctuation), or a unit of one to four characters :data:`MIN_CHAR_REPEATS` or more times in a row: a model
  that repeats one digit token writes no space ("a220000000000000"), which the word rule cannot see, while a
  number such as 1,000,000 stays below the threshold;
- ``distinct2``: distinct word bigrams over all bigrams of all completions (Li et al. 2016), higher = more varied.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

import torch

MIN_REPEATS = 3
MAX_NGRAM = 4
MIN_CHAR_REPEATS = 8
_CHAR_RUN = re.compile(rf"(.{{1,4}}?)\1{{{MIN_CHAR_REPEATS - 1},}}", re.S)


def words(text: str) -> list[str]:
    """Lower-cased words without surrounding punctuation (empty ones dropped).

    Examples
    --------
    >>> words("Spinal, spinal; SPINAL!")
    ['spinal', 'spinal', 'spinal']
    """
    out = [w.strip(string.punctuation).lower() for w in text.split()]
    return [w for w in out if w]


def is_degenerate(text: str, min_repeats: int = MIN_REPEATS, max_ngram: int = MAX_NGRAM) -> bool:
    """True when a word or n-gram (n ≤ ``max_ngram``) occurs ``min_repeats`` or more times in a row, or a unit of
    one to four characters :data:`MIN_CHAR_REPEATS` or more times.

    Examples
    --------
    >>> is_degenerate("spinal spinal spinal on 20 January")
    True
    >>> is_degenerate("under general anaesthesia on 20 January 2023")
    False
    >>> is_degenerate("on the left on the left on the left side")
    True
    >>> is_degenerate("very very good")
    False
    >>> is_degenerate("a220000000000000"), is_degenerate("cost 1,000,000 in 2000")
    (True, False)
    """
    if _CHAR_RUN.search(text):
        return True
    w = words(text)
    for n in range(1, max_ngram + 1):
        for i in range(len(w) - min_repeats * n + 1):
            gram = w[i : i + n]
            if all(w[i + k * n : i + (k + 1) * n] == gram for k in range(1, min_repeats)):
                return True
    return False


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct word n-grams over all n-grams of all ``texts`` (``nan`` when there are none).

    Examples
    --------
    >>> distinct_n(["a b a b", "c d"])  # bigrams ab, ba, ab, cd: 3 distinct of 4
    0.75
    """
    grams = [tuple(w[i : i + n]) for t in texts for w in [words(t)] for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def fluency(completions: Sequence[str]) -> dict[str, float]:
    """``{"degenerate_rate", "distinct2", "completions"}`` of a list of completions.

    Examples
    --------
    >>> fluency(["spinal spinal spinal", "a knee replacement"])
    {'degenerate_rate': 0.5, 'distinct2': 0.75, 'completions': 2}
    """
    rate = sum(is_degenerate(c) for c in completions) / len(completions) if completions else float("nan")
    return {"degenerate_rate": rate, "distinct2": distinct_n(completions, 2), "completions": len(completions)}


@torch.no_grad()
def greedy_completions(
    model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 24, batch_size: int = 16
) -> list[str]:
    """Greedy continuations of already rendered prompts, in left-padded batches (special tokens not added)."""
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[str] = []
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        for lo in range(0, len(prompts), batch_size):
            enc = tokenizer(
                list(prompts[lo : lo + batch_size]),
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            ids = model.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
            new = ids[:, enc["input_ids"].shape[1] :]
            out += [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return out
