"""Membership-inference attacks from token log-probabilities: LOSS, zlib, Min-K%, Min-K%++.

Every attack turns one text into a **membership score, higher = "more likely trained on"**, so that an
AUC above 0.5 (members = forget items, non-members = forget-holdout items) means the model still leaks
which items it saw. The oracle, never trained on either, sets the reference AUC (≈ 0.5).

- ``loss``: ``-mean NLL`` of the text's tokens (Yeom et al. 2018).
- ``zlib``: ``-mean NLL / zlib bytes``, the NLL relative to the text's zlib-compressed length in bytes
  (Carlini et al. 2021), which discounts texts that are simply predictable.
- ``min_k``: mean of the lowest ``k`` fraction of token log-probs (Shi et al. 2024).
- ``min_k_pp``: Min-K%++ (Zhang et al. 2024): each token log-prob standardised by the model's own
  next-token distribution, ``(log p(x_t) - mu_t) / sigma_t`` with ``mu_t = Σ_v p_v log p_v`` and
  ``sigma_t² = Σ_v p_v (log p_v)² - mu_t²``, then the mean of the lowest ``k`` fraction.

"Lowest ``k`` fraction" of ``n`` tokens is the ``max(1, floor(k·n))`` smallest values.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ontology.common.errors import MedunlearnError
from unlearn.eval.metrics import auc, roc_curve
from unlearn.eval.scoring import TokenScores, token_logprobs

ATTACKS = ("loss", "zlib", "min_k", "min_k_pp")
SIGMA_FLOOR = 1e-6  # a (near) one-hot predictive distribution has sigma 0: standardise by this instead


def lowest_k_mean(values: np.ndarray, k: float) -> float:
    """Mean of the ``max(1, floor(k·n))`` smallest finite values.

    Examples
    --------
    >>> lowest_k_mean(np.array([-1.0, -5.0, -2.0, -0.5]), 0.5)
    -3.5
    >>> lowest_k_mean(np.array([-1.0, -5.0, -2.0]), 0.2)
    -5.0
    """
    v = np.sort(values[np.isfinite(values)])
    if v.size == 0:
        return float("nan")
    n = max(1, math.floor(k * v.size))
    return float(v[:n].mean())


def min_k_pp_values(logp: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Per-token Min-K%++ values ``(log p(x_t) - mu_t) / max(sigma_t, SIGMA_FLOOR)``."""
    return (logp - mu) / np.maximum(sigma, SIGMA_FLOOR)


def attack_scores(
    logp: np.ndarray, mu: np.ndarray, sigma: np.ndarray, text: str, k: float = 0.2
) -> dict[str, float]:
    """The four membership scores of one text from its per-token arrays (entry 0 may be ``nan``)."""
    ok = np.isfinite(logp)
    if not ok.any():
        raise MedunlearnError("a text with fewer than two tokens has no membership score")
    nll = float(-logp[ok].mean())
    zlib_len = len(zlib.compress(text.encode("utf-8")))
    return {
        "loss": -nll,
        "zlib": -nll / zlib_len,
        "min_k": lowest_k_mean(logp[ok], k),
        "min_k_pp": lowest_k_mean(min_k_pp_values(logp[ok], mu[ok], sigma[ok]), k),
    }


@dataclass
class MIAResult:
    """AUC per attack, and the members' and non-members' scores behind it (for ROC curves)."""

    auc: dict[str, float]
    members: dict[str, np.ndarray]
    nonmembers: dict[str, np.ndarray]
    sizes: dict[str, int] = field(default_factory=dict)

    def roc(self) -> dict[str, dict[str, list[float]]]:
        """ROC points per attack, ``{attack: {"fpr": [...], "tpr": [...]}}``."""
        out = {}
        for attack in self.auc:
            fpr, tpr = roc_curve(self.members[attack], self.nonmembers[attack])
            out[attack] = {"fpr": fpr, "tpr": tpr}
        return out


def text_scores(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    k: float = 0.2,
    batch_size: int = 4,
    max_length: int = 512,
) -> dict[str, np.ndarray]:
    """Membership scores of each text under each attack, ``{attack: array(len(texts))}``."""
    seqs = [tokenizer(t, add_special_tokens=False)["input_ids"][:max_length] for t in texts]
    if short := [i for i, s in enumerate(seqs) if len(s) < 2]:
        raise MedunlearnError(f"text {short[0]} has fewer than two tokens; cannot score membership")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores = token_logprobs(model, seqs, pad_id=pad, batch_size=batch_size, stats=True, desc="MIA")
    return membership_scores(scores, texts, k=k)


def membership_scores(
    scores: Sequence[TokenScores], texts: Sequence[str], *, k: float = 0.2, max_length: int = 512
) -> dict[str, np.ndarray]:
    """Membership scores under each attack from per-token arrays computed elsewhere (first ``max_length``
    tokens of each text, as :func:`text_scores` reads them), ``{attack: array(len(texts))}``."""
    rows = []
    for s, t in zip(scores, texts, strict=True):
        if s.mu is None or s.sigma is None:
            raise ValueError("membership scores need the Min-K%++ statistics (mu, sigma)")
        cut = slice(0, max_length)
        rows.append(attack_scores(s.logp[cut], s.mu[cut], s.sigma[cut], t, k))
    return {a: np.asarray([r[a] for r in rows]) for a in ATTACKS}


def mia_result(members: dict[str, np.ndarray], nonmembers: dict[str, np.ndarray]) -> MIAResult:
    """AUC of every attack from members' and non-members' membership scores."""
    return MIAResult(
        {a: auc(members[a], nonmembers[a]) for a in ATTACKS},
        members,
        nonmembers,
        {"members": len(members[ATTACKS[0]]), "nonmembers": len(nonmembers[ATTACKS[0]])},
    )


def mia_aucs(
    model: Any,
    tokenizer: Any,
    members: Sequence[str],
    nonmembers: Sequence[str],
    *,
    k: float = 0.2,
    batch_size: int = 4,
    max_length: int = 512,
) -> MIAResult:
    """AUC of every attack for ``members`` (forget texts) against ``nonmembers`` (forget-holdout texts)."""
    if not members or not nonmembers:
        raise MedunlearnError("membership inference needs at least one member and one non-member text")
    m = text_scores(model, tokenizer, members, k=k, batch_size=batch_size, max_length=max_length)
    n = text_scores(model, tokenizer, nonmembers, k=k, batch_size=batch_size, max_length=max_length)
    return mia_result(m, n)
