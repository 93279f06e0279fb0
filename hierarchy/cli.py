"""``medunlearn hierarchy …``: four-level hierarchy, tagging and token masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from hierarchy.cli_scope import scope_app
from hierarchy.cli_tagging import register as register_tagging
from hierarchy.levels import LEVEL_NAMES, Hierarchy, HierarchyConfig, build_hierarchy
from hierarchy.roles import RoleWeights, assign_roles, role_counts
from hierarchy.rules import RULES
from hierarchy.scope import Scope, split_items
from hierarchy.store import HIER_OUTPUT, read_hierarchy, write_hierarchy
from ontology.common.cli import CliGroup
from ontology.common.config import load_config, validate_config
from ontology.common.errors import InputError
from ontology.common.outputs import check_output
from ontology.loader import open_graph

app = typer.Typer(help="Fold a concept graph into four levels, tag text, and emit token masks.", cls=CliGroup)

LEVEL_STYLE = {0: "dim", 1: "bold magenta", 2: "bold blue", 3: "green", 4: "yellow"}


def _ints(text: str, what: str) -> tuple[int, int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{what}: expected four comma-separated integers, got {text!r}") from None
    if len(values) != 4:
        raise InputError(f"{what}: expected four comma-separated integers, got {text!r}")
    return values  # type: ignore[return-value]


@app.command("build")
def build_cmd(
    graph: Path = typer.Argument(..., help="Graph directory or ontology file."),
    out: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Hierarchy directory to write (HIER); an earlier one is replaced (see --force).",
    ),
    rule: str | None = typer.Option(None, help=f"Level rule: {'|'.join(RULES)} (default auto)."),
    mapping: Path | None = typer.Option(
        None, help="CSV/TSV table id,level overriding (or, with --rule mapping, giving) levels."
    ),
    multi_parent: str | None = typer.Option(
        None, help="Position of a multi-parent concept: shallowest (default) or deepest."
    ),
    depth_starts: str | None = typer.Option(
        None, help="Depths where L1,L2,L3,L4 start for the depth rule, e.g. 1,2,3,4."
    ),
    root: list[str] | None = typer.Option(
        None, help="Only concepts below this root get a level (repeatable)."
    ),
    config: Path | None = typer.Option(
        None, help="YAML with the HierarchyConfig keys; options given here win."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the level counts as JSON."),
    force: bool = typer.Option(
        False, "--force", help="Replace OUT even when it is not an earlier output of this command."
    ),
) -> None:
    """Give every concept of GRAPH a level L1–L4 (or none, with the reason) and write HIER."""
    check_output(out, HIER_OUTPUT, inputs=[graph, mapping, config], force=force)
    cfg = load_config(config, HierarchyConfig) if config else HierarchyConfig()
    updates: dict[str, Any] = {"rule": rule, "multi_parent": multi_parent}
    if depth_starts:
        updates["depth_starts"] = _ints(depth_starts, "--depth-starts")
    if root:
        updates["roots"] = list(root)
    if mapping is not None:
        updates["mapping"] = str(mapping)
    given = {k: v for k, v in updates.items() if v is not None}
    cfg = validate_config({**cfg.model_dump(), **given}, HierarchyConfig, source="hierarchy build options")
    cg = open_graph(graph)
    hier = build_hierarchy(
        cg,
        rule=cfg.rule,
        multi_parent=cfg.multi_parent,
        mapping=cfg.mapping,
        depth_starts=cfg.depth_starts,
        depth_starts_by_source=cfg.depth_starts_by_source,
        roots=cfg.roots,
    )
    write_hierarchy(hier, out)
    _print_stats(hier.stats(), as_json, title=f"{out}")


def _print_stats(stats: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(stats, indent=2, sort_keys=True))
        return
    table = Table(title=title)
    table.add_column("level")
    table.add_column("name")
    table.add_column("concepts", justify="right")
    for k in range(1, 5):
        table.add_row(f"L{k}", LEVEL_NAMES[k], str(stats[f"L{k}"]), style=LEVEL_STYLE[k])
    table.add_row("—", "no level", str(stats["unleveled"]), style="dim")
    console = Console()
    console.print(table)
    for reason, n in stats["unleveled_reasons"].items():
        console.print(f"  no level, {reason}: {n}")


@app.command("stats")
def stats_cmd(
    hier: Path = typer.Argument(..., help="Hierarchy directory (from `hierarchy build`)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Concepts per level L1–L4, and how many have no level and why."""
    _print_stats(read_hierarchy(hier).stats(), as_json, title=str(hier))


def _tree_number_under(hier: Hierarchy, cid: str, parent_tn: str | None) -> str | None:
    numbers = sorted(hier.graph.graph.nodes[cid].get("tree_numbers") or [])
    if parent_tn:
        under = [t for t in numbers if t.startswith(parent_tn) and t != parent_tn]
        if under:
            return under[0]
    return numbers[0] if numbers else None


def _node_text(hier: Hierarchy, cid: str, tn: str | None) -> str:
    level = hier.level(cid)
    tag = f"L{level}" if level else f"no level: {hier.reason(cid)}"
    label = hier.label(cid) or "(no label)"
    prefix = f"{tn} " if tn and tn != cid.split(":", 1)[-1] else ""
    return f"[{LEVEL_STYLE[level]}]{prefix}{label}[/] [dim]{cid} {tag}[/]"


def render_tree(hier: Hierarchy, roots: list[str], depth: int, max_children: int) -> Tree:
    """A rich tree of ``roots`` down to ``depth`` levels, at most ``max_children`` children per node."""
    top = Tree(f"[bold]{len(roots)} root(s)[/]", guide_style="dim")

    def add(parent: Tree, cid: str, tn: str | None, left: int) -> None:
        branch = parent.add(_node_text(hier, cid, tn))
        if left <= 0:
            return
        kids = hier.graph.children(cid)
        numbered = [(_tree_number_under(hier, k, tn), k) for k in kids]
        numbered.sort(key=lambda p: (p[0] or "", hier.label(p[1]).casefold(), p[1]))
        for kid_tn, kid in numbered[:max_children]:
            add(branch, kid, kid_tn, left - 1)
        if len(kids) > max_children:
            branch.add(f"[dim]… {len(kids) - max_children} more[/]")

    for r in roots[:max_children]:
        add(top, r, _tree_number_under(hier, r, None), depth)
    if len(roots) > max_children:
        top.add(f"[dim]… {len(roots) - max_children} more roots[/]")
    return top


@app.command("show")
def show_cmd(
    hier: Path = typer.Argument(..., help="Hierarchy directory."),
    root: str | None = typer.Option(
        None, help="Start here: concept id, tree number or label (default: graph roots)."
    ),
    depth: int = typer.Option(2, min=0, help="How many levels below the root to show."),
    max_children: int = typer.Option(25, min=1, help="Children shown per node."),
) -> None:
    """Print the hierarchy as a tree, each concept with its level."""
    h = read_hierarchy(hier)
    roots = Scope.parse([root], h).root_ids if root else h.graph.roots()
    Console().print(render_tree(h, roots, depth, max_children))


@app.command("roles")
def roles_cmd(
    hier: Path = typer.Argument(..., help="Hierarchy directory."),
    scope: list[str] = typer.Option(
        ..., help="Forget scope: ids, tree numbers or labels, comma-separated (repeatable)."
    ),
    keep: list[str] | None = typer.Option(None, help="Subtrees carved out of the scope (repeatable)."),
    weights: Path | None = typer.Option(None, help="YAML with RoleWeights (target/preserve per level)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Concepts per role (target, preserve, neutral) and level for a forget scope."""
    h = read_hierarchy(hier)
    items = [i for s in scope for i in split_items(s, h)]
    sc = Scope.parse(items, h, keep=[i for s in keep or [] for i in split_items(s, h)])
    cfg = load_config(weights, RoleWeights) if weights else RoleWeights()
    counts = role_counts(assign_roles(h, sc, cfg))
    result = {"scope": sc.describe(), "weights": cfg.model_dump(mode="json"), "roles": counts}
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    table = Table(title=f"roles for scope {', '.join(sc.roots)} ({len(sc)} concepts in scope)")
    for col in ("role", "total", "L1", "L2", "L3", "L4", "no level"):
        table.add_column(col, justify="right" if col != "role" else "left")
    for name, row in counts.items():
        table.add_row(name, *(str(row[k]) for k in ("total", "L1", "L2", "L3", "L4", "L0")))
    Console().print(table)


register_tagging(app)  # `hierarchy tag` and `hierarchy masks …` live in hierarchy/cli_tagging.py
app.add_typer(scope_app, name="scope")  # `hierarchy scope suggest` lives in hierarchy/cli_scope.py
