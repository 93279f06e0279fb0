"""Concept spans projected onto the tokens of a Hugging Face fast tokenizer.

For every document of a SPANS file, the text (optionally rendered through the model's chat template as the
user message, span offsets shifted to the rendered string) is tokenized with ``return_offsets_mapping``. A
token takes the role, level and weight of a concept span when all its non-space characters lie inside that
span; every other token is neutral (role 0, level 0, weight 0). The projection is vectorised
(``numpy.searchsorted`` over span starts). :mod:`hierarchy.masks` writes the result as a MASKS file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ontology.common.errors import InputError, MedunlearnError

#: role, level, weight of one concept
RoleRow = tuple[int, int, float]
_SPACE_CODES = np.array(
    [
        9,
        10,
        11,
        12,
        13,
        32,
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    ],
    dtype=np.uint32,
)


def load_fast_tokenizer(tokenizer: Any) -> Any:
    """A fast (offset-mapping) tokenizer: ``tokenizer`` itself, or the one in a local directory.

    Registry names (``smollm2``) are resolved to directories by the model registry
    (:func:`unlearn.models.resolve_model_dir`), never here.

    Raises
    ------
    MedunlearnError
        A missing directory, one without a fast tokenizer (``tokenizer.json``: offsets need one), or a slow
        tokenizer object.
    """
    from transformers import AutoTokenizer

    if not isinstance(tokenizer, str | Path):
        check_fast(tokenizer)
        return tokenizer
    directory = Path(tokenizer).expanduser()
    if not directory.is_dir():
        raise InputError("no such tokenizer directory", path=directory)
    try:
        tok = AutoTokenizer.from_pretrained(str(directory), use_fast=True, local_files_only=True)
    except Exception as exc:  # tokenizers raises plain Exception on a garbage tokenizer.json
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(f"cannot load a tokenizer: {detail}", path=directory) from None
    check_fast(tok, str(directory))
    return tok


def check_fast(tok: Any, name: str = "tokenizer") -> None:
    """Raise a clear error for a tokenizer without offset mapping (a slow, Python tokenizer)."""
    if not getattr(tok, "is_fast", False):
        raise MedunlearnError(
            f"{name}: {type(tok).__name__} is a slow tokenizer without offset mapping; "
            "token masks need a fast tokenizer (a directory with tokenizer.json)"
        )


def tokenizer_hash(tok: Any) -> str:
    """sha256 of what maps text to token ids: the backend JSON without its padding/truncation settings.

    Padding and truncation change whenever a batch is padded (and are saved with the tokenizer), but not
    the ids a text gets, so they are left out: equal hashes mean identical token ids.
    """
    check_fast(tok)
    spec = json.loads(tok.backend_tokenizer.to_str())
    spec.pop("padding", None)
    spec.pop("truncation", None)
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def render(tok: Any, text: str, chat_template: bool) -> tuple[str, int]:
    """The string to tokenize and the shift of the text's offsets inside it.

    With ``chat_template`` the text becomes the user message of the model's chat template.
    """
    if not chat_template:
        return text, 0
    if not getattr(tok, "chat_template", None):
        raise MedunlearnError("the tokenizer has no chat template; pass --no-chat-template")
    rendered = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False)
    shift = rendered.find(text)
    if shift < 0:
        raise MedunlearnError("the chat template changed the message text, so span offsets cannot be shifted")
    return rendered, shift


def project(
    text: str,
    offsets: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    span_values: np.ndarray,
) -> np.ndarray:
    """Per-token ``[role, level, weight]`` (float array ``(n_tokens, 3)``) from char spans.

    Parameters
    ----------
    text : str
        The tokenized string.
    offsets : ndarray, shape (n_tokens, 2)
        Char start/end of each token (``(0, 0)`` for special tokens).
    starts, ends : ndarray, shape (n_spans,)
        Non-overlapping spans, sorted by start.
    span_values : ndarray, shape (n_spans, 3)
        Role, level and weight of each span.

    Examples
    --------
    >>> text = "an anxiety disorder"
    >>> offs = np.array([[0, 2], [2, 10], [10, 19], [0, 0]])
    >>> project(text, offs, np.array([3]), np.array([19]), np.array([[2, 3, 0.5]])).tolist()
    [[0.0, 0.0, 0.0], [2.0, 3.0, 0.5], [2.0, 3.0, 0.5], [0.0, 0.0, 0.0]]
    """
    out = np.zeros((len(offsets), 3), dtype=np.float64)
    if len(starts) == 0 or len(offsets) == 0:
        return out
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    nonspace = ~np.isin(codes, _SPACE_CODES)
    cum = np.concatenate(([0], np.cumsum(nonspace)))
    positions = np.flatnonzero(nonspace)
    s, e = offsets[:, 0], offsets[:, 1]
    k = np.searchsorted(positions, s)
    first = positions[np.minimum(k, len(positions) - 1)] if len(positions) else s
    has_char = (k < len(positions)) & (first < e)
    idx = np.searchsorted(starts, first, side="right") - 1
    safe = np.maximum(idx, 0)
    span_end = ends[safe]
    inside = has_char & (idx >= 0) & (first < span_end) & (cum[np.minimum(e, span_end)] == cum[e])
    out[inside] = span_values[safe[inside]]
    return out


def _span_arrays(
    spans: Sequence[Mapping[str, Any]], table: Mapping[str, RoleRow], shift: int, unknown: set[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spans = sorted(spans, key=lambda sp: sp["start"])
    starts = np.fromiter((sp["start"] + shift for sp in spans), dtype=np.int64, count=len(spans))
    ends = np.fromiter((sp["end"] + shift for sp in spans), dtype=np.int64, count=len(spans))
    vals = np.zeros((len(spans), 3), dtype=np.float64)
    for i, sp in enumerate(spans):
        row = table.get(sp["concept_id"])
        if row is None:
            unknown.add(sp["concept_id"])
            continue
        vals[i] = row
    return starts, ends, vals


def build_masks(
    rows: Iterable[Mapping[str, Any]],
    tok: Any,
    table: Mapping[str, RoleRow],
    *,
    chat_template: bool = True,
    batch_size: int = 256,
    unknown: set[str] | None = None,
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(doc_id, rendered_text, input_ids, offsets, values)`` per SPANS row.

    ``values`` is ``(n_tokens, 3)``: role, level, weight (see :func:`project`). Span concepts missing
    from ``table`` stay neutral and are added to ``unknown``.
    """
    check_fast(tok)
    unknown = set() if unknown is None else unknown
    batch: list[Mapping[str, Any]] = []

    def run(batch: list[Mapping[str, Any]]) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
        rendered = [render(tok, r["text"], chat_template) for r in batch]
        enc = tok(
            [t for t, _ in rendered],
            add_special_tokens=not chat_template,
            return_offsets_mapping=True,
            return_attention_mask=False,
        )
        for r, (text, shift), ids, offs in zip(
            batch, rendered, enc["input_ids"], enc["offset_mapping"], strict=True
        ):
            offsets = np.asarray(offs, dtype=np.int64).reshape(-1, 2)
            starts, ends, vals = _span_arrays(r["spans"], table, shift, unknown)
            yield (
                str(r["doc_id"]),
                text,
                np.asarray(ids, dtype=np.int32),
                offsets,
                project(text, offsets, starts, ends, vals),
            )

    for r in rows:
        batch.append(r)
        if len(batch) >= batch_size:
            yield from run(batch)
            batch = []
    if batch:
        yield from run(batch)
