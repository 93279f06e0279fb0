"""What a benchmark run resolves before any long computation, and the training masks it builds.

**Answer fallback.** A scope such as MeSH ``E04`` (operations) marks few tokens of MedMCQA Surgery questions
as targets: most ask about diseases, not named operations. With ``answer_fallback`` (the default) a forget
item with no target token gets the tokens of its answer (``"X. option text"`` after ``"Answer:"``) marked as
target with the L4 weight, so every method sees the same forget items; the report counts these items.
Per-level preservation reads the masks *before* the fallback (concept tokens only).

**Retain anchoring.** With ``anchor_retain_answers`` (the default) the answer tokens of each retain item are
marked preservation-critical (role 1) in the retain training masks, so a method whose retain NLL weights
preserve tokens (``retain_preserve_weight``, 10 for ``dual``, 1 — plain NLL — for the baselines) protects the
answers MCQ accuracy is read from, not mostly the question text around them.

**Coverage.** The masks stage counts the items of each part with at least one target token before the answer
marks (``items_with_target``): what the scope reaches on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontology.common.errors import MedunlearnError
from unlearn.eval.datasets import ItemSet, split_items, tuning_split
from unlearn.eval.suite import MESH_LABELS, MESH_TREE, SuiteConfig
from unlearn.prompts import answer_text
from unlearn.recipes import Recipe

Split = dict[str, list[dict[str, Any]]]


@dataclass
class SuiteInputs:
    """Everything resolved before any long computation: recipe, model, tokenizer, data, the reported split and
    the seeds.

    The reported split is the seed-0 order's (:func:`unlearn.eval.datasets.split_items`) for every seed: seeds
    vary the unlearning and relearning runs, so the memorised and oracle models serve every seed and the
    tuning split (:meth:`tuning`) stays disjoint from what is reported.
    """

    cfg: SuiteConfig
    size: str
    recipe: Recipe
    methods: list[str]
    model: str
    model_dir: str
    tokenizer: Any
    data_dir: Path
    forget: ItemSet
    retain: ItemSet
    split: Split = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    limit: int | None = None

    def tuning(self) -> Split:
        """The tuning split (:func:`unlearn.eval.datasets.tuning_split`), cut to ``limit`` items per part."""
        parts = tuning_split(self.forget, self.retain, self.size)
        return {k: v[: self.limit] for k, v in parts.items()} if self.limit is not None else parts


def check_chat_model(tokenizer: Any, model: str) -> None:
    """A clear error when the tokenizer cannot render chat (the items are chat-formatted MCQs)."""
    if not getattr(tokenizer, "chat_template", None):
        raise MedunlearnError(
            f"model {model}: its tokenizer has no chat template; the benchmark renders MCQ items as chat "
            "(add a chat_template to tokenizer_config.json)"
        )
    if not getattr(tokenizer, "is_fast", False):
        raise MedunlearnError(f"model {model}: needs a fast tokenizer (offset mapping)")


def resolve_inputs(
    cfg: SuiteConfig,
    size: str,
    *,
    data_dir: Path,
    methods: Sequence[str] | None = None,
    model: str | None = None,
    seeds: int = 1,
    limit: int | None = None,
) -> SuiteInputs:
    """Check every input and build the splits of each seed; raise a one-line error on bad input."""
    from unlearn.models import load_tokenizer, prepare

    recipe = cfg.size(size)
    chosen = list(methods or recipe.methods)
    recipe.check_methods(chosen)
    if seeds < 1:
        raise MedunlearnError("--seeds must be at least 1")
    for rel in (MESH_TREE, MESH_LABELS):
        if not (data_dir / rel).is_file():
            raise MedunlearnError(
                f"{data_dir / rel}: MeSH file not found (is --data the shared data folder?)"
            )
    forget, retain = cfg.load_items(data_dir)
    split = split_items(forget, retain, size, 0)
    if limit is not None:
        split = {k: v[:limit] for k, v in split.items()}
    if len(split["forget"]) < 2:
        raise MedunlearnError("the forget split needs at least 2 items (one per relearning half)")
    name = model or recipe.model
    model_dir = str(prepare(name))
    tok = load_tokenizer(model_dir)
    check_chat_model(tok, name)
    return SuiteInputs(
        cfg,
        size,
        recipe,
        chosen,
        name,
        model_dir,
        tok,
        data_dir,
        forget,
        retain,
        split,
        list(range(seeds)),
        limit,
    )


def training_docs(items: Sequence[dict[str, Any]], tokenizer: Any) -> list[dict[str, str]]:
    """Items as ``{"doc_id", "text"}`` documents: the MCQ rendered with its answer through the chat template."""
    from unlearn.prompts import render_mcq

    return [{"doc_id": str(it["id"]), "text": render_mcq(it, tokenizer)} for it in items]


def answer_span(answers: dict[str, str]) -> Callable[[str, str], tuple[int, int]]:
    """``(doc_id, text) -> (start, end)``: the option text of the row's answer (``answers[doc_id]``,
    ``"X. option"``) at its last occurrence in the text, without its letter: the letter tokens (``"B."``) are
    shared by every MCQ answer, and unlearning them on SmolLM2 took retain accuracy from 0.84 to 0.36 in 10
    steps."""

    def span(doc_id: str, text: str) -> tuple[int, int]:
        ans = answers[doc_id]
        start = text.rfind(ans)
        if start < 0:
            raise MedunlearnError(f"masks row {doc_id}: answer text not found in the rendered item")
        end = start + len(ans)
        start += ans.index(". ") + 2 if ". " in ans else 0
        return start, end

    return span


def apply_answer_fallback(src: Path, dst: Path, answers: dict[str, str]) -> list[str]:
    """Mark the answer tokens of forget rows without a target token as L4 targets (:func:`answer_span`)."""
    from hierarchy.masks import TARGET, relabel_span
    from hierarchy.roles import RoleWeights

    weight = RoleWeights().target[4]
    return relabel_span(src, dst, answer_span(answers), TARGET, 4, weight, skip_role=TARGET)


def anchor_answers(src: Path, dst: Path, answers: dict[str, str]) -> list[str]:
    """Mark the answer tokens of retain rows as preservation-critical (:func:`answer_span`); tokens that
    already have a role keep it."""
    from hierarchy.masks import PRESERVE, relabel_span

    return relabel_span(src, dst, answer_span(answers), PRESERVE, 0, 1.0)


def items_with_target(path: Path) -> int:
    """Rows of a MASKS file with at least one target token."""
    import pyarrow.parquet as pq

    from hierarchy.masks import TARGET

    rows = pq.read_table(path, columns=["role"]).column("role").to_pylist()
    return sum(1 for roles in rows if TARGET in roles)


def masks_stage(
    inp: SuiteInputs, sp: Split, docs: dict[str, list[dict[str, str]]], hier_dir: Path, scope: dict[str, Any]
) -> Callable[[Path], dict[str, Any]]:
    """Tag and mask the training documents of split ``sp`` for ``scope`` (the info of stage ``scope``,
    :mod:`unlearn.eval.scope`, recorded with the masks); ``<part>.train.parquet`` is what the unlearner
    reads: the masks with the answer marks (when the suite asks for them), or a plain copy."""
    from unlearn.harness import mask_documents

    def run(work: Path) -> dict[str, Any]:
        info = mask_documents(docs, hier_dir, scope["items"], inp.tokenizer, inp.model, work)
        targets = {part: items_with_target(work / f"{part}.parquet") for part in docs}
        marks = {"forget": (inp.cfg.answer_fallback, apply_answer_fallback),
                 "retain": (inp.cfg.anchor_retain_answers, anchor_answers)}  # fmt: skip
        marked: dict[str, list[str]] = {}
        for part, (enabled, mark) in marks.items():
            src, dst = work / f"{part}.parquet", work / f"{part}.train.parquet"
            if enabled:
                marked[part] = mark(
                    src, dst, {str(it["id"]): answer_text(it["options"], it["answer"]) for it in sp[part]}
                )
            else:
                marked[part] = []
                dst.write_bytes(src.read_bytes())
        return {"parts": info, "scope": scope, "items_with_target": targets,
                "answer_fallback_items": len(marked["forget"]), "answer_fallback_ids": marked["forget"],
                "anchored_retain_items": len(marked["retain"])}  # fmt: skip

    return run
