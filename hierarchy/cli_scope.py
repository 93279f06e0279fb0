"""``medunlearn hierarchy scope suggest``: a forget scope suggested from a forget and a retain corpus."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ontology.common.cli import CliGroup
from ontology.common.config import load_config
from ontology.common.outputs import check_output

scope_app = typer.Typer(
    help="Forget scopes from the data: `scope suggest GRAPH --forget F --retain R -o SCOPE`.",
    cls=CliGroup,
)


@scope_app.command("suggest")
def suggest_cmd(
    graph: Path = typer.Argument(..., help="Graph directory, hierarchy directory (HIER) or ontology file."),
    forget: Path = typer.Option(..., "--forget", help="Forget corpus (JSONL, JSON, CSV, Parquet)."),
    retain: Path = typer.Option(..., "--retain", help="Retain corpus, same formats."),
    out: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Scope file to write (one item per line, # comments); an earlier one is replaced (see --force).",
    ),
    text_field: list[str] = typer.Option(
        ["text"], "-t", "--text-field", help="Field to read; repeat to join several (blank line between)."
    ),
    top: int = typer.Option(10, "--top", min=1, help="Subtrees to suggest."),
    base: list[str] | None = typer.Option(
        None, "--base", help="Scope items the suggestion starts from (e.g. E04); repeatable."
    ),
    prior: float = typer.Option(
        10.0, "--prior", min=0.0, help="Strength of the informative prior, in documents."
    ),
    min_forget_docs: int = typer.Option(
        2, "--min-forget-docs", min=1, help="Forget documents a candidate needs."
    ),
    min_z: float = typer.Option(1.96, "--min-z", help="Smallest z-score of a candidate."),
    rank: str = typer.Option("log-odds", "--rank", help="log-odds (default) or z."),
    rules: Path | None = typer.Option(
        None, "--rules", help="YAML with TaggingRules keys (docs/hierarchy.md)."
    ),
    show: int = typer.Option(25, "--show", min=0, help="Ranked candidates to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the suggestion as JSON."),
    force: bool = typer.Option(
        False, "--force", help="Replace OUT even when it is not an earlier output of this command."
    ),
) -> None:
    """Rank subtrees by how much more often FORGET mentions them than RETAIN and write a scope file.

    Both corpora are tagged with GRAPH; a document counts for every subtree holding a concept it mentions
    that could be a target (L3/L4). Subtrees are ranked by the log-odds ratio with an informative prior
    (docs/hierarchy.md, "Suggested scopes"); the top ones that do not nest are written to SCOPE with their
    label, counts and the coverage so far, for `masks build --scope @SCOPE` (edit it freely).
    """
    from hierarchy.corpus import iter_documents
    from hierarchy.lexicon import TaggingRules
    from hierarchy.store import open_hierarchy
    from hierarchy.suggest import SCOPE_OUTPUT, suggest_scope, write_scope_file

    check_output(out, SCOPE_OUTPUT, inputs=[graph, forget, retain, rules], force=force)
    hier = open_hierarchy(graph)
    tagging = load_config(rules, TaggingRules) if rules else None
    fields = list(text_field)
    forget_texts = [d.text for d in iter_documents(forget, fields)]
    retain_texts = [d.text for d in iter_documents(retain, fields)]
    result = suggest_scope(
        hier,
        forget_texts,
        retain_texts,
        top=top,
        base=list(base or []),
        prior=prior,
        min_forget_docs=min_forget_docs,
        min_z=min_z,
        rank=rank,
        rules=tagging,
    )
    header = [
        f"medunlearn hierarchy scope suggest {graph} --forget {forget} --retain {retain} "
        f"--text-field {' --text-field '.join(fields)} --top {top}"
    ]
    write_scope_file(result, out, header)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "items": result.items(),
                    "coverage": result.coverage,
                    "forget_docs": result.forget_docs,
                    "retain_docs": result.retain_docs,
                    "settings": result.settings,
                    "ranked": [
                        {**s.__dict__, "kind": s.kind} for s in result.ranked[: max(show, len(result.chosen))]
                    ],
                },
                indent=2,
            )
        )
        return
    chosen = {s.id for s in result.chosen}
    table = Table(
        title=f"subtrees by {rank}: {result.forget_docs} forget vs {result.retain_docs} retain documents"
    )
    for col in ("", "id", "label", "tree", "level", "forget", "retain", "log-odds", "z"):
        table.add_column(
            col, justify="right" if col in ("level", "forget", "retain", "log-odds", "z") else "left"
        )
    for s in result.ranked[:show]:
        table.add_row(
            "✓" if s.id in chosen else "",
            s.id,
            s.label,
            s.tree_number,
            f"L{s.level} {s.kind}",
            str(s.forget_docs),
            str(s.retain_docs),
            f"{s.log_odds:.2f}",
            f"{s.z:.2f}",
        )
    console = Console()
    console.print(table)
    f0, r0 = result.coverage[0]
    f1, r1 = result.coverage[-1]
    console.print(
        f"documents with a target: forget {f0:.0%} → {f1:.0%}, retain {r0:.0%} → {r1:.0%} "
        f"({len(result.chosen)} subtrees added to {len(result.base)} given) → {out}"
    )
