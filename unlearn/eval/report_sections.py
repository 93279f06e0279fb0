"""The report's sections on how a run was made: the seeds one by one, the tuning, and the time per kind of stage.

Each section is ``(title, note, header, rows)`` with plain-text cells, rendered by :mod:`unlearn.eval.report` as
a Markdown table and an HTML table. A section is left out when the results do not hold its data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unlearn.eval.metrics import harmonic_score

Section = tuple[str, str, list[str], list[list[str]]]


def _num(value: Any, spec: str = ".3f") -> str:
    return "—" if not isinstance(value, int | float) or value != value else format(value, spec)


def seeds_section(results: Mapping[str, Any]) -> Section | None:
    """Per seed and method: the harmonic mean of efficacy and KP, with forget and retain accuracy."""
    per_seed = results.get("per_seed")
    if not per_seed:
        return None
    found = list(per_seed[0]["methods"])
    names = [n for n in ("memorized", "oracle") if n in found] + [
        n for n in found if n not in ("memorized", "oracle")
    ]
    header = ["method", *[f"seed {s['seed']}" for s in per_seed]]
    rows = []
    for name in names:
        cells = [name]
        for s in per_seed:
            row = s["methods"].get(name, {})
            e, k = row.get("forgetting_efficacy"), row.get("knowledge_preservation")
            h = harmonic_score(e, k) if isinstance(e, int | float) and isinstance(k, int | float) else None
            cells.append(
                f"H {_num(h)} (forget {_num(row.get('forget_acc'), '.0%')}, retain {_num(row.get('retain_acc'), '.0%')})"
            )
        rows.append(cells)
    note = (
        f"{len(per_seed)} seeds of unlearning and relearning on one split and one memorised and oracle model; "
        "the tables above show mean ± std over them, here each seed: H(efficacy, KP), forget and retain accuracy."
    )
    return "Seeds", note, header, rows


def tuning_section(results: Mapping[str, Any]) -> Section | None:
    """The settings ``medunlearn eval tune`` chose, each method's best tuning trial, and the rule."""
    tuning = results.get("tuning")
    if not tuning:
        return None
    sizes = ", ".join(f"{k} {len(v)}" for k, v in tuning["split"].items())
    header = ["method", "chosen settings", "trial", "KP ≥ min", "efficacy", "KP", "H(efficacy, KP)"]
    rows = []
    for name in tuning.get("tuned_methods", list(tuning["methods"])):
        entry = tuning["methods"][name]
        best = entry["trials"][entry["trial"]]
        chosen = ", ".join(f"{k} {v:g}" for k, v in entry["chosen"].items())
        rows.append([
            name, chosen, f"{entry['trial'] + 1} of {len(entry['trials'])}", "yes" if entry["eligible"] else "no",
            _num(best.get("efficacy")), _num(best.get("kp")), _num(best.get("harmonic")),
        ])  # fmt: skip
    note = (
        f"Tuned on a split of its own ({sizes} items, disjoint from the reported ones), "
        f"{tuning['budget']['trials']} trials per method over its learning rate and main knob; chosen: "
        f"{tuning['rule']}. Efficacy, KP and H here are the tuning split's."
    )
    if tuning.get("untuned_methods"):
        note += f" Not tuned (the recipe's settings): {', '.join(tuning['untuned_methods'])}."
    return "Tuning", note, header, rows


def timings_section(results: Mapping[str, Any]) -> Section | None:
    """Seconds per kind of stage (a cached stage counts the time it took when it ran); every stage's own time is
    under ``timings`` in ``results.json`` and in the HTML's "Where the time went" table
    (:func:`unlearn.eval.report._run_sections`)."""
    timings = results.get("timings")
    if not timings:
        return None
    kinds: dict[str, list[Mapping[str, Any]]] = {}
    for t in timings:
        kinds.setdefault(t["stage"].split(" ")[0], []).append(t)
    rows = []
    for kind, group in kinds.items():
        longest = max(group, key=lambda t: t["seconds"])
        cached = sum(1 for t in group if t["cached"])
        rows.append([
            kind, str(len(group)), f"{sum(t['seconds'] for t in group):.1f}",
            f"{longest['seconds']:.1f} ({longest['stage']})", f"{cached} of {len(group)}" if cached else "",
        ])  # fmt: skip
    ran = sum(t["seconds"] for t in timings if not t["cached"])
    total = sum(t["seconds"] for t in timings)
    note = f"All stages when computed: {total:.0f} s; computed in this run: {ran:.0f} s."
    return "Time per kind of stage", note, ["stage", "stages", "seconds", "longest s", "cached"], rows


def sections(results: Mapping[str, Any]) -> list[Section]:
    """Every section the results allow, in report order."""
    found = (seeds_section(results), tuning_section(results), timings_section(results))
    return [s for s in found if s is not None]
