"""``medunlearn hierarchy tag`` and ``medunlearn hierarchy masks [build|preview]``.

``masks`` is a command group whose default subcommand is ``build``: ``masks SPANS --tokenizer …``
is the same as ``masks build SPANS --tokenizer …``; ``masks preview MASKS`` shows a result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ontology.common.atomic import atomic_write_text
from ontology.common.cli import CliGroup
from ontology.common.config import load_config

#: maps ``--tokenizer`` (a name or a directory) to what :func:`hierarchy.masks.load_fast_tokenizer` reads. The
#: default passes it on (a local Hugging Face tokenizer directory); the ``medunlearn``
#: console script installs one that prepares registered models on first use (hierarchy never imports unlearn).
TokenizerResolver = Callable[[str], "str | Path"]
_tokenizer_resolver: TokenizerResolver = str


def set_tokenizer_resolver(resolver: TokenizerResolver) -> None:
    """Use ``resolver`` to turn ``masks build --tokenizer NAME`` into a tokenizer directory."""
    global _tokenizer_resolver
    _tokenizer_resolver = resolver


def tag_cmd(
    graph: Path = typer.Argument(..., help="Graph directory, hierarchy directory (HIER) or ontology file."),
    corpus: Path = typer.Argument(
        ..., help="JSONL, JSON, CSV, Parquet file or a datasets save_to_disk directory."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="SPANS output (.jsonl or .parquet)."),
    text_field: list[str] = typer.Option(
        ["text"], "--text-field", "-t", help="Field to tag; repeat to join several (blank line between)."
    ),
    id_field: str | None = typer.Option(
        None, help="Field with the document id (default: doc_id/id/pmid or row number)."
    ),
    workers: int = typer.Option(
        1, min=1, help="Tagging processes (--engine local) or local Dask workers (--engine dask)."
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (this machine) or dask: parts of --part-size documents on a Dask cluster, written as "
        "OUT/part-*.jsonl|parquet (docs/hierarchy.md, 'Tagging on Dask').",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Address of a running Dask scheduler (tcp://HOST:8786); default: a local cluster.",
    ),
    part_size: int = typer.Option(10_000, "--part-size", min=1, help="Documents per part (--engine dask)."),
    fmt: str | None = typer.Option(
        None, "--format", help="jsonl or parquet (default: from the output suffix)."
    ),
    abbreviations: bool = typer.Option(
        True, "--abbreviations/--no-abbreviations", help="Run scispaCy's abbreviation detector."
    ),
    rules: Path | None = typer.Option(
        None, "--rules", help="YAML with TaggingRules keys: exclusions, stoplists, case (docs/hierarchy.md)."
    ),
    scope: str | None = typer.Option(
        None,
        "--scope",
        help="Forget scope (ids, tree numbers, labels or @FILE): tagged even where rules exclude.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Tag CORPUS with the concepts of GRAPH and write one row per document with its spans (resumable).

    Generic subtrees (publication types, named groups, …) are not tagged unless --scope names them; names that
    annotated corpora rarely link are left out; see docs/hierarchy.md, "Tagging rules".
    """
    from hierarchy.corpus import tag_corpus
    from hierarchy.lexicon import TaggingRules

    if engine not in ("local", "dask"):
        raise typer.BadParameter(f"{engine!r} is not local or dask", param_hint="--engine")
    if scheduler and engine != "dask":
        raise typer.BadParameter("a scheduler address needs --engine dask", param_hint="--scheduler")
    from hierarchy.scope import split_items
    from hierarchy.store import open_hierarchy, source_hash
    from hierarchy.tagger import build_nlp

    hier = open_hierarchy(graph)
    tagging = load_config(rules, TaggingRules) if rules else TaggingRules()
    items = split_items(scope, hier) if scope else None
    nlp = build_nlp(hier, abbreviations=abbreviations, rules=tagging, scope=items)
    settings = {
        "graph": source_hash(graph),
        "abbreviations": abbreviations,
        "rules": tagging.hash(),
        "scope": items,
    }
    if engine == "dask":
        from hierarchy.dask_tagging import tag_corpus_dask

        summary = tag_corpus_dask(
            nlp, corpus, out, list(text_field), id_field=id_field, fmt=fmt, workers=workers,
            scheduler=scheduler, part_size=part_size, settings=settings,
        )  # fmt: skip
    else:
        summary = tag_corpus(
            nlp, corpus, out, list(text_field), id_field=id_field, fmt=fmt, workers=workers, settings=settings
        )
    summary["skipped"] = len(summary["skipped"])
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        parts = f" in {summary['parts']} parts" if "parts" in summary else ""
        typer.echo(
            f"{summary['documents']} documents ({summary['resumed']} resumed, {summary['skipped']} empty skipped), "
            f"{summary['spans']} spans{parts} → {out}"
        )


class DefaultBuildGroup(CliGroup):
    """A group that runs ``build`` when the first argument is not one of its subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


masks_app = typer.Typer(
    cls=DefaultBuildGroup,
    help="Per-token role/level/weight masks for a tokenizer: `masks SPANS …` builds, `masks preview MASKS` shows.",
)


@masks_app.command("build")
def masks_build_cmd(
    spans: Path = typer.Argument(..., help="SPANS file from `hierarchy tag`."),
    tokenizer: str = typer.Option(
        ..., help="Local Hugging Face directory or model name (tiny-llama, smollm2; prepared on first use)."
    ),
    hierarchy: Path = typer.Option(
        ..., "--hierarchy", help="Hierarchy directory (HIER) or graph the spans came from."
    ),
    scope: str = typer.Option(
        ...,
        help="Forget scope: concept ids, tree numbers or labels, comma-separated; @FILE reads a scope file "
        "(`scope suggest` writes one).",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="MASKS Parquet file to write."),
    chat_template: bool = typer.Option(
        True, "--chat-template/--no-chat-template", help="Render as the user turn."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Project the concept spans of SPANS onto TOKENIZER's tokens with roles for SCOPE."""
    from hierarchy.alignment import load_fast_tokenizer
    from hierarchy.corpus import read_spans, spans_hash
    from hierarchy.masks import write_masks
    from hierarchy.roles import assign_roles
    from hierarchy.scope import Scope
    from hierarchy.store import open_hierarchy, source_hash

    hier = open_hierarchy(hierarchy)
    resolved = Scope.parse(scope, hier)
    table = {cid: tuple(r) for cid, r in assign_roles(hier, resolved).items()}
    tok = load_fast_tokenizer(_tokenizer_resolver(tokenizer))
    summary = write_masks(
        read_spans(spans),
        tok,
        table,  # type: ignore[arg-type]
        out,
        tokenizer_name=tokenizer,
        scope=scope,
        scope_ids=resolved.root_ids,
        chat_template=chat_template,
        settings={"spans": spans_hash(spans), "hierarchy": source_hash(hierarchy)},
    )
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        roles = summary["tokens_by_role"]
        typer.echo(
            f"{summary['documents']} documents, {summary['tokens']} tokens: target {roles['target']}, "
            f"preserve {roles['preserve']}, neutral {roles['neutral']} → {out}"
        )
        if summary["unknown_concepts"]:
            typer.echo(
                f"warning: {len(summary['unknown_concepts'])} span concepts are not in the hierarchy",
                err=True,
            )


@masks_app.command("preview")
def masks_preview_cmd(
    masks: Path = typer.Argument(..., help="MASKS Parquet file."),
    n: int = typer.Option(3, "-n", min=1, help="Documents to show."),
    html_out: Path | None = typer.Option(None, "--html", help="Also write an HTML page here."),
) -> None:
    """Show the first N documents with target tokens red and preserve tokens green."""
    from hierarchy.masks import read_masks
    from hierarchy.preview import show_terminal, to_html

    table, meta = read_masks(masks)
    show_terminal(table, meta, n)
    if html_out is not None:
        atomic_write_text(html_out, to_html(table, meta, n))
        typer.echo(f"HTML → {html_out}")


def register(app: typer.Typer) -> None:
    """Add ``tag`` and the ``masks`` group to the ``hierarchy`` CLI group."""
    app.command("tag")(tag_cmd)
    app.add_typer(masks_app, name="masks")
