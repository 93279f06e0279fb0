"""Benchmark report: ``results.json`` (every number), ``results.md`` (tables) and ``report.html`` (plots).

The input is one ``results`` dict::

    {"suite": str, "size": str, "model": str,                # free-form description fields
     "methods": {name: row, ...},                           # rows "memorized" and "oracle" required
     "split_sizes": {"forget": n, ...}, "config_hashes": {stage: hash, ...},
     "curves": {method: [{"step", "forget_acc", "retain_acc", "forget_loss", "retain_loss"}, ...]},
     "roc": {method: {attack: {"fpr": [...], "tpr": [...]}}},
     "per_level": {method: {"L1": {"inside": delta, "outside": delta}, ..., "L4": {...}}}}

``curves``, ``roc`` and ``per_level`` are optional, and so are the sections a run shows on the terminal too:
``summary`` (``{"title", "measures": [[label, key, kind], …], "note"}``: a measures × methods table, the rows of
``medunlearn demo``'s terminal table), ``completions`` (``[{"kind", "prompt", "expected", model: text, …}]``)
and ``timings`` (``[{"stage", "seconds", "cached"}]``). A row holds :data:`ROW_KEYS`; ``mia_auc`` and
``privleak`` are dicts by attack (``privleak`` may also be one number). A value is a number, ``None``
(not measured) or, with several seeds, ``{"mean": m, "std": s, "n": seeds}``; a row may hold
``"ci": {key: [lo, hi]}``. The optional ``per_seed`` and ``tuning`` get sections of their own, and ``timings``
also a table per kind of stage (:mod:`unlearn.eval.report_sections`).

In the HTML every table cell carries ``data-key`` and ``data-value`` (the exact number), so the page can
be checked against ``results.json`` by machine. Figures are matplotlib PNGs (Agg backend), embedded in
the page as base64 and also written to ``figures/``.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ontology.common.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ontology.common.errors import MedunlearnError
from unlearn.eval.figures import figures
from unlearn.eval.metrics import harmonic_score, mean_value
from unlearn.eval.report_sections import sections

ROW_KEYS = (
    "forget_acc",
    "forget_holdout_acc",
    "retain_acc",
    "retain_holdout_acc",
    "forgetting_rate",
    "forgetting_efficacy",
    "knowledge_preservation",
    "changed_param_fraction",
    "mia_auc",
    "privleak",
    "relearn_recovery",
    "wall_s",
    "peak_mem_mb",
)
REFERENCE_ROWS = ("memorized", "oracle")
#: how a goal check (``results["goals"]``) reads in the tables
GOAL_MARKS = {True: "met", False: "**missed**", None: "not measured"}
Cell = tuple[str, float | None, str]  # display text, exact value, data-key
PAPER = "arXiv 2511.19498"
PAPER_NOTE = f"reported by the paper ({PAPER}) on a different model and setup; not measured here"
#: The paper's headline numbers (fractions), shown beside ours for reference only.
PAPER_REPORTED = {
    "forgetting_rate": 0.827,
    "knowledge_preservation": 0.885,
    "changed_param_fraction": 0.001,
    "mia_auc": 0.555,
}

# (key, header, kind) per table; kind selects the display format
_TABLES: dict[str, list[tuple[str, str, str]]] = {
    "Forgetting and preservation": [
        ("forget_acc", "forget acc", "pct"),
        ("forget_holdout_acc", "forget-holdout acc", "pct"),
        ("retain_acc", "retain acc", "pct"),
        ("retain_holdout_acc", "retain-holdout acc", "pct"),
        ("forgetting_rate", "FR (paper)", "pct"),
        ("forgetting_efficacy", "efficacy", "ratio"),
        ("forgetting_efficacy_holdout", "efficacy (holdout)", "ratio"),
        ("knowledge_preservation", "KP", "ratio"),
        ("retain_point_drop", "retain drop (pts)", "f1"),
        ("harmonic", "H(efficacy, KP)", "ratio"),
    ],
    "Fluency and calibration (forget prompts)": [
        ("fluency.degenerate_rate", "degenerate completions", "pct"),
        ("fluency.distinct2", "distinct-2", "f2"),
        ("forget_logp", "forget log-lik / token", "f2"),
        ("forget_logp_gap_to_oracle", "gap to oracle (rel.)", "ratio"),
    ],
    "Cost and robustness": [
        ("changed_param_fraction", "changed params", "pct3"),
        ("relearn_recovery", "relearn recovery", "ratio"),
        ("wall_s", "wall s", "f1"),
        ("peak_mem_mb", "peak MB", "f0"),
    ],
}


# ------------------------------------------------------------------------------------------ values
def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become ``None`` (strict JSON has no NaN), tuples become lists."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and not isinstance(obj, str):  # numpy scalars
        return _clean(obj.item())
    return obj


def _fmt_number(x: float, kind: str) -> str:
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind == "pct3":
        return f"{100 * x:.3f}%"
    if kind == "auc":
        return f"{x:.3f}"
    if kind == "f1":
        return f"{x:.1f}"
    if kind == "f2":
        return f"{x:.2f}"
    if kind == "f0":
        return f"{x:.0f}"
    return f"{x:.3f}"


def fmt(value: Any, kind: str, ci: Any = None) -> str:
    """Display text of a value: ``—`` if missing, ``m ± s`` across seeds, ``[lo, hi]`` with an interval.

    Examples
    --------
    >>> fmt(0.8234, "pct")
    '82.3%'
    >>> fmt({"mean": 0.5, "std": 0.01}, "auc")
    '0.500 ± 0.010'
    >>> fmt(None, "pct")
    '—'
    >>> fmt({"mean": 0.5, "std": None, "n": 1}, "ratio")
    '0.500 (one seed)'
    """
    m = mean_value(value)
    if m is None:
        return "—"
    text = _fmt_number(m, kind)
    if isinstance(value, Mapping) and mean_value(value.get("std")) is not None:
        text += " ± " + _fmt_number(float(value["std"]), kind)
    elif isinstance(value, Mapping) and value.get("n") == 1:
        text += " (one seed)"  # the other seeds left it undefined
    if ci is not None and len(ci) == 2 and all(c is not None for c in ci):
        text += f" [{_fmt_number(float(ci[0]), kind)}, {_fmt_number(float(ci[1]), kind)}]"
    return text


def validate_results(results: Mapping[str, Any]) -> None:
    """Raise :class:`MedunlearnError` if required rows or keys are missing."""
    methods = results.get("methods")
    if not isinstance(methods, Mapping) or not methods:
        raise MedunlearnError("results: 'methods' must map method names to rows")
    for name in REFERENCE_ROWS:
        if name not in methods:
            raise MedunlearnError(f"results: the {name!r} row is missing")
    for name, row in methods.items():
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise MedunlearnError(f"results: method {name!r} lacks {', '.join(missing)}")


def _row_value(row: Mapping[str, Any], key: str) -> Any:
    if key == "harmonic":
        if "harmonic" in row:
            return row["harmonic"]
        e, k = mean_value(row.get("forgetting_efficacy")), mean_value(row.get("knowledge_preservation"))
        return None if e is None or k is None else harmonic_score(e, k)
    return row.get(key)


def _attacks(results: Mapping[str, Any]) -> list[str]:
    seen: list[str] = []
    for row in results["methods"].values():
        for a in row.get("mia_auc") or {}:
            if a not in seen:
                seen.append(a)
    return seen


def _privacy_columns(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    attacks = _attacks(results)
    cols = [(f"mia_auc.{a}", f"AUC {a}", "auc") for a in attacks]
    per_attack = any(
        isinstance(row.get("privleak"), Mapping) and "mean" not in row["privleak"]
        for row in results["methods"].values()
    )
    cols += (
        [(f"privleak.{a}", f"PrivLeak {a}", "ratio") for a in attacks]
        if per_attack
        else [("privleak", "PrivLeak", "ratio")]
    )
    return cols


def lookup(row: Mapping[str, Any], key: str) -> Any:
    """``row[key]``, ``row[a][b]`` for ``key == "a.b"``, or the derived ``harmonic``; ``None`` when absent."""
    if "." in key:
        outer, inner = key.split(".", 1)
        sub = row.get(outer)
        return sub.get(inner) if isinstance(sub, Mapping) else None
    return _row_value(row, key)


def _tables(results: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    tables = list(_TABLES.items())
    tables.insert(
        1, ("Membership inference (forget vs forget-holdout; oracle ≈ ideal)", _privacy_columns(results))
    )
    return tables


def strongest_attack(mia: Mapping[str, Any]) -> tuple[str, float] | None:
    """The attack whose AUC is farthest from 0.5, with its AUC (``None`` if none measured)."""
    vals = [(a, mean_value(v)) for a, v in (mia or {}).items()]
    vals2 = [(a, v) for a, v in vals if v is not None]
    return max(vals2, key=lambda av: abs(av[1] - 0.5)) if vals2 else None


def _paper_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[tuple[str, Any, str]]]]:
    """Header and cells (text, exact value, key) of the paper-vs-ours table."""
    methods = results["methods"]
    names = [n for n in methods if n not in REFERENCE_ROWS] + ["oracle"]
    header = ["metric", "paper (reported, different model)", *[f"ours: {n}" for n in names]]
    rows = []
    for key, label, kind in (
        ("forgetting_rate", "FR = 1 − forget acc", "pct"),
        ("knowledge_preservation", "KP", "pct"),
        ("changed_param_fraction", "changed params", "pct3"),
        ("mia_auc", "MIA AUC (ours: strongest attack)", "auc"),
    ):
        cells = [
            (label, None, ""),
            (_fmt_number(PAPER_REPORTED[key], kind), PAPER_REPORTED[key], f"paper.{key}"),
        ]
        for n in names:
            if key == "mia_auc":
                best = strongest_attack(methods[n].get("mia_auc"))
                cell: Cell = (
                    (f"{best[1]:.3f} ({best[0]})", best[1], f"{n}.mia_auc.{best[0]}")
                    if best
                    else ("—", None, "")
                )
            else:
                value = methods[n].get(key)
                cell = (fmt(value, kind), mean_value(value), f"{n}.{key}")
            cells.append(cell)
        rows.append(cells)
    return header, rows


# ------------------------------------------------------------------------------------------ Markdown
def markdown(results: Mapping[str, Any], figure_names: Sequence[str] = ()) -> str:
    """The report's tables as Markdown, with links to ``figures/<name>.png`` for ``figure_names``."""
    validate_results(results)
    out = [f"# Unlearning benchmark: {results.get('suite', '?')} ({results.get('size', '?')})", ""]
    if results.get("model"):
        out += [f"Model: {results['model']}", ""]
    sizes = results.get("split_sizes") or {}
    if sizes:
        out += ["Split sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()), ""]
    if results.get("summary"):
        header, rows = summary_rows(results)
        out += [f"## {results['summary'].get('title') or 'Summary'}", "", "| " + " | ".join(header) + " |"]
        out += [
            "|---" * len(header) + "|",
            *("| " + " | ".join(c[0] for c in cells) + " |" for cells in rows),
            "",
        ]
    for title, cols in _tables(results):
        if not cols:
            continue
        out += [f"## {title}", "", "| method | " + " | ".join(h for _, h, _ in cols) + " |"]
        out.append("|---" * (len(cols) + 1) + "|")
        for name, row in results["methods"].items():
            ci = row.get("ci") or {}
            cells = [fmt(lookup(row, k), kind, ci.get(k)) for k, _, kind in cols]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    header, rows = _paper_rows(results)
    out += ["## Beside the paper", "", f"The paper's column is {PAPER_NOTE}.", ""]
    out += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    out += ["| " + " | ".join(c[0] for c in cells) + " |" for cells in rows]
    goals = results.get("goals")
    if goals:
        out += ["", f"## Goals ({goals['method']})", "", "| goal | measured | |", "|---|---|---|"]
        out += [f"| {c['goal']} | {c['measured']} | {GOAL_MARKS[c['met']]} |" for c in goals["checks"]]
    for title, note, head, body in sections(results):
        out += ["", f"## {title}", "", note, "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        out += ["| " + " | ".join(cells) + " |" for cells in body]
    hashes = results.get("config_hashes") or {}
    if hashes:
        out += ["", "Config hashes: " + ", ".join(f"{k} `{v}`" for k, v in hashes.items())]
    if figure_names:
        out += ["", "## Figures", ""] + [f"![{n}](figures/{n}.png)" for n in figure_names]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ HTML
def _html_table(header: list[str], rows: list[list[tuple[str, Any, str]]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for cells in rows:
        tds = []
        for text, value, key in cells:
            attrs = ""
            if key:
                attrs = f' data-key="{html.escape(key)}"'
                attrs += f' data-value="{"" if value is None else repr(float(value))}"'
            tds.append(f"<td{attrs}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def summary_rows(results: Mapping[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """Header and cells of the ``summary`` table (measures as rows, methods as columns), as the terminal shows it."""
    methods = results["methods"]
    rows = [
        [(label, None, ""), *((fmt(lookup(row, key), kind), mean_value(lookup(row, key)), f"{name}.{key}")
                              for name, row in methods.items())]
        for label, key, kind in results["summary"]["measures"]
    ]  # fmt: skip
    return ["measure", *methods], rows


def _run_sections(results: Mapping[str, Any]) -> list[str]:
    """HTML of the optional ``summary``, ``completions`` and ``timings`` sections."""
    parts: list[str] = []
    summary = results.get("summary")
    if summary:
        header, rows = summary_rows(results)
        parts += [
            f"<h2 id='summary'>{html.escape(summary.get('title') or 'Summary')}</h2>",
            _html_table(header, rows),
        ]
        if summary.get("note"):
            parts.append(f"<p>{html.escape(summary['note'])}</p>")
    completions = results.get("completions") or []
    if completions:
        keys = [k for k in completions[0] if k not in ("kind", "prompt", "expected")]
        rows = [
            [(str(c.get(k, "")), None, "") for k in ("kind", "prompt", "expected", *keys)]
            for c in completions
        ]
        parts += [
            "<h2 id='completions'>Completions before and after unlearning</h2>",
            _html_table(["record", "prompt", "expected", *keys], rows).replace(
                "<table>", "<table class='text'>"
            ),
        ]
    timings = results.get("timings") or []
    if timings:
        rows = [
            [(t["stage"], None, ""), (f"{t['seconds']:.1f}", t["seconds"], f"timing.{t['stage']}"),
             ("yes" if t["cached"] else "", None, "")]
            for t in timings
        ]  # fmt: skip
        parts += [
            "<h2 id='timings'>Where the time went</h2>",
            _html_table(["stage", "seconds", "cached"], rows),
        ]
    return parts


def render_html(results: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    """The HTML page: tables (with exact ``data-value`` numbers), the paper's numbers, embedded plots."""
    validate_results(results)
    title = f"Unlearning benchmark: {results.get('suite', '?')} ({results.get('size', '?')})"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
        ".note{color:#a33}table.text td{text-align:left;white-space:pre-wrap;max-width:28em}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if results.get("model"):
        parts.append(f"<p>Model: {html.escape(str(results['model']))}</p>")
    sizes = results.get("split_sizes") or {}
    if sizes:
        parts.append(
            "<p>Split sizes: "
            + ", ".join(
                f"{html.escape(str(k))} <span data-size='{html.escape(str(k))}'>{v}</span>"
                for k, v in sizes.items()
            )
            + "</p>"
        )
    parts += _run_sections(results)
    for title_, cols in _tables(results):
        if not cols:
            continue
        rows = []
        for name, row in results["methods"].items():
            ci = row.get("ci") or {}
            cells: list[Cell] = [(name, None, "")]
            for k, _, kind in cols:
                v = lookup(row, k)
                cells.append((fmt(v, kind, ci.get(k)), mean_value(v), f"{name}.{k}"))
            rows.append(cells)
        parts += [f"<h2>{html.escape(title_)}</h2>", _html_table(["method", *[h for _, h, _ in cols]], rows)]
    header, rows = _paper_rows(results)
    parts += [
        "<h2>Beside the paper</h2>",
        f"<p class='note'>The paper's column is {html.escape(PAPER_NOTE)}.</p>",
        _html_table(header, rows),
    ]
    goals = results.get("goals")
    if goals:
        goal_rows = [
            [(c["goal"], None, ""), (c["measured"], None, ""), (GOAL_MARKS[c["met"]].strip("*"), None, "")]
            for c in goals["checks"]
        ]
        parts += [
            f"<h2>Goals ({html.escape(goals['method'])})</h2>",
            _html_table(["goal", "measured", ""], goal_rows),
        ]
    for title_, note, head, body in sections(results):
        parts += [
            f"<h2>{html.escape(title_)}</h2>",
            f"<p>{html.escape(note)}</p>",
            _html_table(head, [[(c, None, "") for c in cells] for cells in body]),
        ]
    captions = {
        "accuracy": "Forget vs retain accuracy per method; the star is the retrained oracle (the target).",
        "curves": "Forget and retain loss (and accuracy, when recorded) over unlearning steps.",
        "roc": "Membership-inference ROC curves, forget (members) vs forget-holdout (non-members); linear axes "
        "above, log-log axes below (the low false-positive region).",
        "per_level": "Change of concept-token log-likelihood per hierarchy level, inside and outside scope.",
    }
    for name, data in pngs.items():
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(
            f"<figure><img alt='{name}' data-figure='{name}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{html.escape(captions.get(name, name))}</figcaption></figure>"
        )
    hashes = results.get("config_hashes") or {}
    if hashes:
        parts.append(
            "<p>Config hashes: "
            + ", ".join(f"{html.escape(k)} <code>{html.escape(str(v))}</code>" for k, v in hashes.items())
            + "</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(results: Mapping[str, Any], outdir: str | Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.md``, ``report.html`` and ``figures/*.png`` (all atomically)."""
    validate_results(results)
    outdir = Path(outdir)
    clean = _clean(results)
    pngs = figures(clean)
    paths = {"json": atomic_write_json(outdir / "results.json", clean)}
    for name, data in pngs.items():
        paths[f"figure_{name}"] = atomic_write_bytes(outdir / "figures" / f"{name}.png", data)
    paths["markdown"] = atomic_write_text(outdir / "results.md", markdown(clean, list(pngs)))
    paths["html"] = atomic_write_text(outdir / "report.html", render_html(clean, pngs))
    return paths
