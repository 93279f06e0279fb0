"""A suite's forget scope: its named subtrees plus the subtrees suggested on its tuning split.

With ``scope_suggest`` (:class:`unlearn.eval.suite.ScopeSuggest`) the stage ``scope`` runs
:func:`hierarchy.suggest.suggest_scope` on the tuning split (:meth:`unlearn.eval.inputs.SuiteInputs.tuning`):
its forget and forget-holdout items against its retain and retain-holdout items, starting from the named
subtrees. With ``max_retain_share`` only the first suggested subtrees are kept, as many as keep the share of
tuning retain items with a target within it. The reported split is never read
(``tests/unlearn/eval/test_scope.py`` checks it). Each item is tagged as its question, lettered options and
answer line (:func:`item_text`; no chat template, so the suggestion does not depend on the model). Without
``scope_suggest``, or at a size without a tuning split (``full`` reports every item), the scope is the named
subtrees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from unlearn.eval.datasets import TUNING_SIZES
from unlearn.eval.inputs import Split, SuiteInputs
from unlearn.prompts import ANSWER_PREFIX, answer_text, mcq_options, mcq_user_text

#: part of the scope stage's key: bumped when the stage records something new
SCOPE_VERSION = 1


def item_text(item: dict[str, Any]) -> str:
    """An MCQ item as the suggestion tags it: question, ``A. option`` lines and ``Answer: X. option``.

    Examples
    --------
    >>> print(item_text({"question": "Which?", "options": ["liver", "colon"], "answer": 1}))
    Which?
    A. liver
    B. colon
    Answer: B. colon
    """
    options, answer = mcq_options(item)
    return f"{mcq_user_text(item['question'], options)}\n{ANSWER_PREFIX} {answer_text(options, answer)}"


def suggestion_parts(inp: SuiteInputs) -> Split | None:
    """The tuning items the suggestion reads, ``{"forget": …, "retain": …}``; ``None`` when the suite suggests
    nothing or its size has no tuning split."""
    if inp.cfg.scope_suggest is None or inp.size not in TUNING_SIZES:
        return None
    sp = inp.tuning()
    return {"forget": sp["forget"] + sp["forget_holdout"], "retain": sp["retain"] + sp["retain_holdout"]}


def scope_stage(inp: SuiteInputs, parts: Split | None, hier_dir: Path) -> Callable[[Path], dict[str, Any]]:
    """The body of stage ``scope``: the scope items (named, then suggested on ``parts``), each suggested
    subtree with its counts and scores, the coverage of the tuning items after each pick, the settings and the
    ids of the items the suggestion read."""
    named = inp.cfg.scope_items()
    opts = inp.cfg.scope_suggest

    def run(work: Path) -> dict[str, Any]:
        from hierarchy.store import read_hierarchy
        from hierarchy.suggest import suggest_scope

        if parts is None or opts is None:
            return {"named": named, "items": named, "suggested": None}
        sug = suggest_scope(
            read_hierarchy(hier_dir), [item_text(it) for it in parts["forget"]],
            [item_text(it) for it in parts["retain"]], top=opts.top, base=named, prior=opts.prior,
            min_forget_docs=opts.min_forget_docs, min_z=opts.min_z, rank=opts.rank,
        )  # fmt: skip
        n = len(sug.chosen)
        if opts.max_retain_share is not None:  # shares only grow: the longest prefix within the limit
            n = max(i for i, (_, r) in enumerate(sug.coverage) if r <= opts.max_retain_share or i == 0)
        suggested = [
            {"id": s.id, "label": s.label, "tree_number": s.tree_number, "level": s.level, "kind": s.kind,
             "forget_docs": s.forget_docs, "retain_docs": s.retain_docs, "log_odds": s.log_odds, "z": s.z}
            for s in sug.chosen[:n]
        ]  # fmt: skip
        return {
            "named": named,
            "items": [*named, *(s["id"] for s in suggested)],
            "suggested": suggested,
            "coverage": [{"forget": f, "retain": r} for f, r in sug.coverage[: n + 1]],
            "settings": {
                **sug.settings,
                "top": opts.top,
                "min_z": opts.min_z,
                "max_retain_share": opts.max_retain_share,
            },
            "from": {k: [str(it["id"]) for it in v] for k, v in parts.items()},
        }

    return run
