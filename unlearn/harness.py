"""Stage bodies shared by the demo and the benchmark suites: hierarchy, tag + mask, fine-tune, unlearn, evaluate.

Each ``*_stage`` function returns a callable ``fn(workdir) -> info`` for :class:`unlearn.stages.StageRunner`;
``*_stages`` run one such stage per method or model through a runner.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ontology.common.atomic import atomic_write_text
from unlearn.config import RunConfig
from unlearn.finetune import FinetuneConfig
from unlearn.recipes import UnlearnRecipe
from unlearn.stages import StageResult

StageFn = Callable[[Path], dict[str, Any]]


class Runner(Protocol):
    """What runs a stage: :class:`unlearn.stages.StageRunner` or the benchmark's progress tracker."""

    def run(
        self, name: str, config: dict[str, Any], fn: StageFn, *, label: str | None = None
    ) -> StageResult: ...


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows as JSON lines, atomically."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def text_records(tokenizer: Any, docs: Sequence[dict[str, str]], max_length: int = 160) -> list[Any]:
    """``{"doc_id", "text"}`` documents as unweighted training records (every token counts)."""
    from unlearn.data import plain_record

    return [
        plain_record(d["doc_id"], tokenizer(d["text"], add_special_tokens=False)["input_ids"][:max_length])
        for d in docs
    ]


def mask_documents(
    parts: Mapping[str, Sequence[dict[str, Any]]],
    hier_dir: Path,
    scope_items: Sequence[str],
    tokenizer: Any,
    tokenizer_name: str,
    out: Path,
    *,
    extra_roles: Mapping[str, tuple[int, int, float]] | None = None,
) -> dict[str, Any]:
    """Tag each part's documents with the hierarchy and write ``out/<part>.parquet`` masks for ``scope_items``.

    Documents are already rendered (chat template applied where wanted), so masks are built on the
    text as is. A document may add ``extra_spans`` (concept ids given a role by ``extra_roles``) and a
    ``target_from`` offset before which tagged target concepts are dropped (they stay neutral). Returns the
    role counts per part.
    """
    from hierarchy.masks import NEUTRAL, TARGET, write_masks
    from hierarchy.roles import assign_roles
    from hierarchy.scope import Scope
    from hierarchy.store import read_hierarchy
    from hierarchy.tagger import build_nlp, tag_texts

    hier = read_hierarchy(hier_dir)
    scope = Scope.parse(list(scope_items), hier)
    table = {cid: (r.role, r.level, r.weight) for cid, r in assign_roles(hier, scope).items()}
    table.update(extra_roles or {})
    nlp = build_nlp(hier)
    info: dict[str, Any] = {}
    for part, docs in parts.items():
        rows = []
        for d, tagged in zip(docs, tag_texts(nlp, [d["text"] for d in docs]), strict=True):
            start = d.get("target_from", 0)
            kept = [
                sp
                for sp in tagged
                if sp["start"] >= start or table.get(sp["concept_id"], (NEUTRAL,))[0] != TARGET
            ]
            rows.append({"doc_id": d["doc_id"], "text": d["text"], "spans": kept + d.get("extra_spans", [])})
        write_jsonl(out / f"{part}.spans.jsonl", rows)
        info[part] = write_masks(
            rows, tokenizer, table, out / f"{part}.parquet",
            tokenizer_name=tokenizer_name, scope=",".join(scope_items), scope_ids=sorted(scope.concepts),
            chat_template=False,
        )  # fmt: skip
    return info


def finetune_stage(
    model_name: str, docs: Sequence[dict[str, str]], recipe: FinetuneConfig, desc: str, max_length: int = 160
) -> StageFn:
    """Fine-tune ``model_name`` on ``docs`` (each cut to ``max_length`` tokens); save it as ``workdir/model``."""

    def run(out: Path) -> dict[str, Any]:
        from unlearn.finetune import finetune
        from unlearn.models import load_model
        from unlearn.outputs import save_model

        model, tok = load_model(model_name)
        info = finetune(
            model, text_records(tok, docs, max_length), recipe, out, pad_id=tok.pad_token_id, desc=desc
        )
        save_model(model, tok, out / "model")
        # checkpoints only serve to resume an interrupted stage; a finished one keeps the model alone
        shutil.rmtree(out / "checkpoint", ignore_errors=True)
        return {k: v for k, v in info.items() if k != "losses"} | {"documents": len(docs)}

    return run


def hierarchy_stage(graph_dir: Path) -> StageFn:
    """Fold the concept graph in ``graph_dir`` into four levels; save it as ``workdir/hier``."""

    def run(out: Path) -> dict[str, Any]:
        from hierarchy.levels import build_hierarchy
        from hierarchy.store import write_hierarchy
        from ontology.store import read_graph

        hier = build_hierarchy(read_graph(graph_dir))
        write_hierarchy(hier, out / "hier")
        return hier.stats()

    return run


def unlearn_stage_key(run_config: RunConfig) -> dict[str, Any]:
    """The stage key of an unlearning run: its config with every default filled in (``output`` aside), so
    that a changed default reruns a cached stage instead of silently reusing it."""
    return {k: v for k, v in run_config.model_dump(mode="json").items() if k != "output"}


def unlearn_stage(run_config: RunConfig) -> StageFn:
    """Run :class:`unlearn.trainer.Unlearner` with ``run_config``, its ``output.dir`` set to the workdir."""

    def run(out: Path) -> dict[str, Any]:
        from unlearn.config import OutputSection
        from unlearn.trainer import Unlearner

        cfg = run_config.model_copy(update={"output": OutputSection(dir=str(out))}, deep=True)
        result = Unlearner(cfg).run()
        if result.status == "interrupted":
            raise KeyboardInterrupt
        manifest = json.loads((out / "manifest.json").read_text())
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        return {
            "status": result.status,
            "reason": result.reason,
            "steps": result.steps,
            "changed_fraction": manifest["changed_fraction"],
            "wall_seconds": manifest["wall_seconds"],
            "peak_memory_mb": manifest["peak_memory_bytes"] / 2**20,
        }

    return run


def unlearn_stages(
    runner: Runner, recipe: UnlearnRecipe, methods: Sequence[str], *, seed: int, model: str, forget: Path,
    retain: Path, max_length: int, suffix: str = "", reference: str | None = None,
) -> dict[str, StageResult]:  # fmt: skip
    """Unlearn the model ``model`` with each method on the recipe's budget (stages ``unlearn-<method>``,
    shown as ``unlearn <method><suffix>``); ``reference`` is the model before memorisation, for the methods
    that read one (:meth:`unlearn.recipes.UnlearnRecipe.run_config`)."""
    out = {}
    for method in methods:
        cfg = recipe.run_config(
            method, seed=seed, model=model, forget=str(forget), retain=[str(retain)], max_length=max_length,
            reference=reference,
        )  # fmt: skip
        out[method] = runner.run(
            f"unlearn-{method}", unlearn_stage_key(cfg), unlearn_stage(cfg), label=f"unlearn {method}{suffix}"
        )
    return out


def evaluate_stages(
    runner: Runner,
    models: Mapping[str, str],
    key: Mapping[str, Any],
    evaluate: Callable[[Any, Any], dict[str, Any]],
    suffix: str = "",
) -> dict[str, dict[str, Any]]:
    """``evaluate(model, tokenizer)`` of each model directory (stages ``evaluate-<name>``, keyed by the model
    and ``key``, shown as ``evaluate <name><suffix>``); returns what each evaluation returned."""
    from unlearn.models import load_model

    def stage(model_dir: str) -> StageFn:
        def run(out: Path) -> dict[str, Any]:
            return evaluate(*load_model(model_dir))

        return run

    return {
        name: runner.run(
            f"evaluate-{name}", {"model": path, **key}, stage(path), label=f"evaluate {name}{suffix}"
        ).info
        for name, path in models.items()
    }


def history_curve(stage_dir: Path) -> list[dict[str, Any]]:
    """Forget/retain losses per unlearning step from a finished unlearn stage."""
    history = stage_dir / "history.json"
    if not history.is_file():
        return []
    return [
        {"step": h["step"], "forget_loss": h.get("forget"), "retain_loss": h.get("retain")}
        for h in json.loads(history.read_text())
    ]
