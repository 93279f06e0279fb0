"""Checks on a concept graph: cycles, dangling parents, duplicate labels, obsolete terms still in use.

Each finding is an :class:`Issue`. Errors make the hierarchy untrustworthy (``medunlearn ontology validate``
exits 1 on them); warnings are worth a look but do not block a build.

=====================  ========  ============================================================================
code                   severity  meaning
=====================  ========  ============================================================================
``cycle``              error     a cycle of ``is_a`` edges; the message prints it (``A → B → A``)
``dangling_parent``    error     a parent that the source never declares: a reader's skipped note
                                 ``… target X … is not a term/class in this file`` or a node with
                                 ``declared=False``
``duplicate_id``       error     one id defined twice: a reader's skipped note ``duplicate id X …`` (the
                                 reader kept the first, or merged into it; what counts as defined twice in
                                 each format is listed in ``docs/safety.md``)
``obsolete_in_use``    error     an obsolete concept that still has a parent or a child
``duplicate_label``    warning   two live concepts of one source with the same label (case-insensitive)
``skipped``            warning   any other item the tolerant reader skipped (``graph.graph["skipped"]``)
=====================  ========  ============================================================================
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from ontology.graph import ConceptGraph

_DANGLING = re.compile(r"target (\S+) (?:of \S+ )?is not a (?:term|class) in this file")
_DUPLICATE = re.compile(r"duplicate id (\S+?):? ")
#: the errors ``load(..., strict=True)`` (``ontology build --strict``) fails on
STRICT_CODES = ("cycle", "dangling_parent", "duplicate_id")


@dataclass(frozen=True)
class Issue:
    """One finding: ``severity`` (``error``/``warning``), ``code``, a one-line ``message`` and the concepts."""

    severity: str
    code: str
    message: str
    concepts: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.severity}: {self.code}: {self.message}"


def _name(cg: ConceptGraph, cid: str) -> str:
    label = cg.graph.nodes[cid].get("label") if cid in cg.graph else ""
    return f"{cid} ({label})" if label else cid


def find_cycles(cg: ConceptGraph) -> list[list[str]]:
    """One cycle (a list of ids, first id repeated at the end) per strongly connected tangle of ``is_a`` edges.

    Examples
    --------
    >>> cg = ConceptGraph()
    >>> for a, b in [("X:1", "X:2"), ("X:2", "X:3"), ("X:3", "X:1"), ("X:4", "X:1")]:
    ...     cg.add_parent(a, b)
    >>> find_cycles(cg)
    [['X:1', 'X:2', 'X:3', 'X:1']]
    """
    cycles = []
    g = cg.graph
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1:
            (node,) = comp
            if g.has_edge(node, node):
                cycles.append([node, node])
            continue
        start = min(comp)
        edges = nx.find_cycle(g.subgraph(comp), source=start)
        cycle = [edges[0][0]] + [v for _, v in edges]
        i = cycle.index(min(cycle[:-1]))
        cycle = cycle[i:-1] + cycle[:i] + [cycle[i]]
        cycles.append(cycle)
    return sorted(cycles)


def validate(cg: ConceptGraph) -> list[Issue]:
    """Every :class:`Issue` of the graph, errors first."""
    g = cg.graph
    issues: list[Issue] = []
    for cycle in find_cycles(cg):
        issues.append(
            Issue("error", "cycle", "is_a cycle: " + " → ".join(_name(cg, c) for c in cycle), tuple(cycle))
        )
    for cid, d in g.nodes(data=True):
        if d.get("declared") is False:
            kids = sorted(g.predecessors(cid))
            shown = ", ".join(kids[:3]) + (f" and {len(kids) - 3} more" if len(kids) > 3 else "")
            issues.append(
                Issue(
                    "error", "dangling_parent", f"{cid} is a parent of {shown} but is never declared", (cid,)
                )
            )
        if d.get("obsolete"):
            parents, children = sorted(g.successors(cid)), sorted(g.predecessors(cid))
            if parents or children:
                used = [f"parent of {', '.join(children)}"] if children else []
                used += [f"child of {', '.join(parents)}"] if parents else []
                issues.append(
                    Issue(
                        "error",
                        "obsolete_in_use",
                        f"obsolete {_name(cg, cid)} is still " + " and ".join(used),
                        (cid, *children, *parents),
                    )
                )
    by_label: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cid, d in g.nodes(data=True):
        if d.get("label") and not d.get("obsolete"):
            by_label[(d.get("source") or "", d["label"].casefold())].append(cid)
    for (_, _), ids in sorted(by_label.items()):
        if len(ids) > 1:
            ids = sorted(ids)
            label = g.nodes[ids[0]]["label"]
            issues.append(
                Issue("warning", "duplicate_label", f"{label!r} is the label of {', '.join(ids)}", tuple(ids))
            )
    for note in cg.skipped:
        if m := _DANGLING.search(note):
            issues.append(Issue("error", "dangling_parent", note, (m.group(1),)))
        elif m := _DUPLICATE.search(note):
            issues.append(Issue("error", "duplicate_id", note, (m.group(1),)))
        else:
            issues.append(Issue("warning", "skipped", note))
    return sorted(issues, key=lambda i: i.severity != "error")
