"""Forget scopes suggested from the data: subtrees that forget texts mention far more often than retain texts.

:func:`suggest_scope` tags both corpora and counts, for every concept ``s`` of the hierarchy, the documents that
mention a concept *of the subtree under s* that could become a target (a level with a target weight: L3 and L4
by default; a mention of an L1/L2 foundation is preserved whatever the scope, so it counts for nothing). Counts
are pooled up the hierarchy: a mention counts once for its concept and once for each ancestor.

Each subtree gets the log-odds ratio of a forget document mentioning it against a retain document mentioning it,
with an informative prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words", with two categories per subtree:
mentioned or not): a Beta prior centred on the pooled rate ``p = (y_f + y_r) / (n_f + n_r)`` with strength
``prior`` documents, ``a = prior·p``, ``b = prior·(1 - p)``,

    δ = log((y_f + a) / (n_f − y_f + b)) − log((y_r + a) / (n_r − y_r + b))
    σ² = 1/(y_f + a) + 1/(n_f − y_f + b) + 1/(y_r + a) + 1/(n_r − y_r + b),   z = δ / σ.

The prior pulls rare subtrees towards "no difference". Candidates are ranked by ``δ`` (how much more often;
``rank="log-odds"``, the default) among those whose ``z`` reaches ``min_z`` (1.96: the difference is unlikely
to be chance), or by ``z`` (``rank="z"``, which favours large subtrees whose small difference is certain, such
as a whole MeSH category). The suggestion takes subtrees in rank order, skipping one that a taken subtree (or
the ``base`` scope) already covers or that holds a taken one (it would be wider and less specific), until
``top`` are taken; ties go to the deeper subtree. For every step it records the share of forget documents
with a target and of retain documents with one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hierarchy.levels import Hierarchy
from hierarchy.lexicon import TaggingRules
from hierarchy.roles import RoleWeights
from hierarchy.scope import Scope
from ontology.common.atomic import atomic_write_text
from ontology.common.errors import InputError
from ontology.common.outputs import OutputKind, read_head

RANKS = ("log-odds", "z")


@dataclass(frozen=True)
class SubtreeScore:
    """One candidate subtree root with its document counts and scores."""

    id: str
    label: str
    level: int
    tree_number: str
    forget_docs: int
    retain_docs: int
    own_forget_docs: int
    log_odds: float
    z: float

    @property
    def kind(self) -> str:
        """``concept`` when only the root itself is mentioned, ``subtree`` when concepts under it are."""
        return "concept" if self.own_forget_docs == self.forget_docs else "subtree"


@dataclass
class ScopeSuggestion:
    """Ranked candidates, the chosen subtrees and the coverage after each choice.

    ``coverage[i]`` is ``(forget share with a target, retain share with a target)`` with ``base`` and the first
    ``i`` chosen subtrees (``coverage[0]``: ``base`` alone).
    """

    ranked: list[SubtreeScore]
    chosen: list[SubtreeScore]
    coverage: list[tuple[float, float]]
    base: list[str]
    forget_docs: int
    retain_docs: int
    settings: dict[str, Any] = field(default_factory=dict)

    def items(self) -> list[str]:
        """The scope items: ``base`` then the chosen subtree roots."""
        return [*self.base, *(s.id for s in self.chosen)]


def log_odds(y_f: int, n_f: int, y_r: int, n_r: int, prior: float) -> tuple[float, float]:
    """``(δ, z)`` of the module docstring.

    Examples
    --------
    >>> d, z = log_odds(30, 100, 10, 300, prior=10.0)
    >>> round(d, 3), round(z, 2)
    (2.367, 6.35)
    >>> log_odds(5, 100, 15, 300, prior=10.0)  # the same rate in both: no difference
    (0.0, 0.0)
    >>> log_odds(12, 12, 30, 30, prior=10.0)  # every document of both mentions it: no difference either
    (0.0, 0.0)
    """
    if y_f + y_r in (0, n_f + n_r):  # p is 0 or 1: the prior has no mass on one side
        return 0.0, 0.0
    p = (y_f + y_r) / (n_f + n_r)
    a, b = prior * p, prior * (1 - p)
    delta = math.log((y_f + a) / (n_f - y_f + b)) - math.log((y_r + a) / (n_r - y_r + b))
    var = 1 / (y_f + a) + 1 / (n_f - y_f + b) + 1 / (y_r + a) + 1 / (n_r - y_r + b)
    return delta, delta / math.sqrt(var)


def _doc_subtrees(
    hier: Hierarchy, tagged: Iterable[list[dict[str, Any]]], levels: set[int]
) -> list[set[str]]:
    """For each document, the subtree roots covering a target-capable concept it mentions."""
    graph = hier.graph
    cache: dict[str, frozenset[str]] = {}
    out = []
    for spans in tagged:
        roots: set[str] = set()
        for cid in {s["concept_id"] for s in spans}:
            if hier.level(cid) not in levels or cid not in graph:
                continue
            up = cache.get(cid)
            if up is None:
                up = cache[cid] = frozenset({cid, *graph.ancestors(cid)})
            roots |= up
        out.append(roots)
    return out


def _tree_number(hier: Hierarchy, cid: str) -> str:
    numbers = sorted(hier.graph.graph.nodes[cid].get("tree_numbers") or [])
    return numbers[0] if numbers else ""


def suggest_scope(
    hier: Hierarchy,
    forget_texts: Sequence[str],
    retain_texts: Sequence[str],
    *,
    top: int = 10,
    base: Sequence[str] = (),
    prior: float = 10.0,
    min_forget_docs: int = 2,
    min_z: float = 1.96,
    rank: str = "log-odds",
    rules: TaggingRules | None = None,
    weights: RoleWeights | None = None,
) -> ScopeSuggestion:
    """Rank subtrees by how much more often ``forget_texts`` mention them than ``retain_texts``; choose ``top``.

    Parameters
    ----------
    hier : Hierarchy
        Levels and graph; texts are tagged with :func:`hierarchy.tagger.build_nlp` and ``rules``.
    forget_texts, retain_texts : sequences of str
        The two corpora (for a benchmark: its tuning items, never the reported ones).
    top : int
        Subtrees to choose (fewer when fewer candidates remain).
    base : sequence of str
        Scope items the suggestion starts from (e.g. the named subtree ``E04``); their subtrees are not
        suggested again.
    prior : float
        Strength of the informative prior, in documents.
    min_forget_docs : int
        A candidate is mentioned in at least this many forget documents.
    min_z : float
        A candidate's ``z`` reaches this.
    rank : {"log-odds", "z"}
        Order of the candidates.
    rules : TaggingRules, optional
        Tagging rules (defaults when None).
    weights : RoleWeights, optional
        Which levels can be targets (the levels with a target weight).

    Raises
    ------
    InputError
        For an empty corpus, an unknown ``rank`` or a ``base`` item that names nothing.
    """
    from hierarchy.tagger import build_nlp, tag_texts

    if not forget_texts or not retain_texts:
        raise InputError("scope suggestion needs forget and retain texts (one corpus is empty)")
    if rank not in RANKS:
        raise InputError(f"unknown rank {rank!r}; choose one of {', '.join(RANKS)}")
    weights = weights or RoleWeights()
    levels = {lv for lv, w in weights.target.items() if w > 0}
    base_scope = Scope.parse(list(base), hier) if base else None
    nlp = build_nlp(hier, rules=rules, scope=list(base) if base else None)
    tagged = list(tag_texts(nlp, list(forget_texts)))
    forget = _doc_subtrees(hier, tagged, levels)
    retain = _doc_subtrees(hier, tag_texts(nlp, list(retain_texts)), levels)
    n_f, n_r = len(forget), len(retain)
    count_f: dict[str, int] = {}
    count_r: dict[str, int] = {}
    for docs, counts in ((forget, count_f), (retain, count_r)):
        for roots in docs:
            for r in roots:
                counts[r] = counts.get(r, 0) + 1
    own: dict[str, int] = {}
    for spans in tagged:
        for cid in {s["concept_id"] for s in spans if hier.level(s["concept_id"]) in levels}:
            own[cid] = own.get(cid, 0) + 1
    covered_by_base = base_scope.concepts if base_scope else frozenset()
    ranked = []
    for cid, y_f in count_f.items():
        if y_f < min_forget_docs or cid in covered_by_base:
            continue
        y_r = count_r.get(cid, 0)
        delta, z = log_odds(y_f, n_f, y_r, n_r, prior)
        if z < min_z:
            continue
        ranked.append(
            SubtreeScore(
                cid,
                hier.label(cid),
                hier.level(cid),
                _tree_number(hier, cid),
                y_f,
                y_r,
                own.get(cid, 0),
                delta,
                z,
            )
        )
    ranked.sort(key=lambda s: _order(s, rank))
    chosen = _choose(hier, ranked, top)
    coverage = _coverage(forget, retain, base_scope, chosen)
    settings = {
        "prior": prior,
        "min_forget_docs": min_forget_docs,
        "rank": rank,
        "target_levels": sorted(levels),
    }
    return ScopeSuggestion(ranked, chosen, coverage, list(base), n_f, n_r, settings)


def _order(s: SubtreeScore, rank: str) -> tuple[float, float, int, str]:
    first, second = (s.z, s.log_odds) if rank == "z" else (s.log_odds, s.z)
    return (-first, -second, -s.level, s.id)


def _choose(hier: Hierarchy, ranked: list[SubtreeScore], top: int) -> list[SubtreeScore]:
    chosen: list[SubtreeScore] = []
    taken: set[str] = set()  # the chosen roots, their ancestors and their descendants
    for cand in ranked:
        if len(chosen) >= top:
            break
        if cand.id in taken:
            continue  # nests with a chosen subtree: inside it, or around it and less specific
        chosen.append(cand)
        taken |= {cand.id, *hier.graph.ancestors(cand.id), *hier.graph.descendants(cand.id)}
    return chosen


def _coverage(
    forget: list[set[str]], retain: list[set[str]], base: Scope | None, chosen: list[SubtreeScore]
) -> list[tuple[float, float]]:
    roots: set[str] = set(base.root_ids) if base else set()
    out = []
    for step in range(len(chosen) + 1):
        if step:
            roots.add(chosen[step - 1].id)
        f = sum(1 for d in forget if d & roots) / len(forget)
        r = sum(1 for d in retain if d & roots) / len(retain)
        out.append((f, r))
    return out


SCOPE_HEADER = "# medunlearn forget scope:"


def _is_scope_file(path: Path) -> bool:
    return SCOPE_HEADER.encode() in read_head(path)


#: ``hierarchy scope suggest -o SCOPE``: a scope file this command wrote is replaced, anything else refused
SCOPE_OUTPUT = OutputKind("a scope file", False, f"a {SCOPE_HEADER!r} line", _is_scope_file)


def write_scope_file(suggestion: ScopeSuggestion, path: str | Path, header: Sequence[str] = ()) -> Path:
    """Write the suggestion as a scope file: one item per line, ``#`` comments (label, counts, scores).

    ``masks build --scope @FILE`` reads it (:func:`hierarchy.scope.read_scope_file`); edit it freely.
    """
    n_f, n_r = suggestion.forget_docs, suggestion.retain_docs
    lines = [f"# {h}" for h in header]
    lines += [
        f"{SCOPE_HEADER} one concept id, tree number or label per line; '#' starts a comment.",
        f"# suggested from {n_f} forget and {n_r} retain documents: subtrees ranked by "
        f"{suggestion.settings.get('rank', 'z')} of the log-odds (prior {suggestion.settings.get('prior')}).",
        "# coverage with the items above a line: forget documents with a target / retain documents with one",
    ]
    for item in suggestion.base:
        lines.append(f"{item:<16} # given")
    if suggestion.coverage:
        f, r = suggestion.coverage[0]
        lines.append(f"# -> forget {f:.0%}, retain {r:.0%}")
    for step, s in enumerate(suggestion.chosen, start=1):
        f, r = suggestion.coverage[step]
        tn = f" {s.tree_number}" if s.tree_number else ""
        lines.append(
            f"{s.id:<16} # {s.label}{tn} | L{s.level} {s.kind} | forget {s.forget_docs}/{n_f}, "
            f"retain {s.retain_docs}/{n_r} | log-odds {s.log_odds:.2f}, z {s.z:.2f} -> forget {f:.0%}, retain {r:.0%}"
        )
    return atomic_write_text(Path(path), "\n".join(lines) + "\n")
