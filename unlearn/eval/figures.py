"""The report's figures: matplotlib PNGs (Agg backend) of accuracies, curves, ROC curves and per-level changes.

:func:`figures` draws each plot the results allow (``results`` as :mod:`unlearn.eval.report` describes them).
ROC curves are drawn twice: on linear axes and on log-log axes, where the low false-positive region that
membership-inference work reads (TPR at 1% or 0.1% FPR) is visible.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from unlearn.eval.metrics import mean_value


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _style(name: str) -> dict[str, Any]:
    if name == "oracle":
        return {"marker": "*", "s": 260, "color": "black", "zorder": 5}
    if name == "memorized":
        return {"marker": "X", "s": 120, "color": "grey", "zorder": 4}
    return {"marker": "o", "s": 80, "zorder": 3}


def _accuracy_figure(plt: Any, methods: Mapping[str, Any]) -> bytes:
    """Forget against retain accuracy, one point per model."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, row in methods.items():
        f, r = mean_value(row.get("forget_acc")), mean_value(row.get("retain_acc"))
        if f is None or r is None:
            continue
        ax.scatter([100 * f], [100 * r], label=name, **_style(name))
        ax.annotate(name, (100 * f, 100 * r), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("forget accuracy (%)  — target: the oracle")
    ax.set_ylabel("retain accuracy (%)")
    ax.set_title("Forget vs retain accuracy (★ = retrained oracle)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _curves_figure(plt: Any, results: Mapping[str, Any]) -> bytes | None:
    """Losses (and accuracies, when a run recorded them) over the unlearning steps."""
    import numpy as np

    methods = results["methods"]
    curves = results.get("curves") or {}
    if not any(curves.values()):
        return None
    # the accuracy panel only when some run recorded accuracies over its steps (suite runs log losses)
    with_acc = any(
        p.get(k) is not None for pts in curves.values() for p in pts for k in ("forget_acc", "retain_acc")
    )
    fig, axes = plt.subplots(1, 2 if with_acc else 1, figsize=(10 if with_acc else 5.5, 4), squeeze=False)
    ax2 = axes[0][-1]
    panels = [(ax2, "forget_loss", "-", 1), (ax2, "retain_loss", "--", 1)]
    if with_acc:
        ax1 = axes[0][0]
        panels = [(ax1, "forget_acc", "-", 100), (ax1, "retain_acc", "--", 100), *panels]
    for i, (name, points) in enumerate(curves.items()):
        steps = [p["step"] for p in points]
        for ax, key, ls, scale in panels:
            ys = [scale * p[key] if p.get(key) is not None else np.nan for p in points]
            ax.plot(steps, ys, ls, color=f"C{i % 10}", marker=".", label=f"{name} {key.split('_')[0]}")
    if with_acc:
        oracle_f = mean_value(methods["oracle"].get("forget_acc"))
        if oracle_f is not None:
            ax1.axhline(100 * oracle_f, color="black", lw=1, ls=":", label="oracle forget")
        ax1.set(xlabel="unlearning step", ylabel="accuracy (%)", title="Accuracy over steps")
    ax2.set(xlabel="unlearning step", ylabel="loss", title="Loss over steps")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def _roc_figure(plt: Any, results: Mapping[str, Any]) -> bytes | None:
    """ROC curves of each membership-inference attack, one column per attack: linear axes above, log-log axes
    below (the low false-positive region; points at FPR or TPR 0 cannot be drawn there)."""
    methods = results["methods"]
    roc = results.get("roc") or {}
    attacks = sorted({a for per in roc.values() for a in per})
    if not attacks:
        return None
    fig, axes = plt.subplots(2, len(attacks), figsize=(4.2 * len(attacks), 8.2), squeeze=False)
    for col, attack in enumerate(attacks):
        lowest = 1.0
        for name, per in roc.items():
            if attack not in per:
                continue
            ls = ":" if name == "oracle" else "-"
            value = mean_value((methods.get(name, {}).get("mia_auc") or {}).get(attack))
            label = name if value is None else f"{name} (AUC {value:.3f})"
            fpr, tpr = per[attack]["fpr"], per[attack]["tpr"]
            for ax in (axes[0][col], axes[1][col]):
                ax.plot(fpr, tpr, ls, label=label)
            lowest = min([lowest, *(f for f in fpr if f > 0), *(t for t in tpr if t > 0)])
        lin, log = axes[0][col], axes[1][col]
        lin.plot([0, 1], [0, 1], color="grey", lw=0.8)
        lin.set(title=f"ROC: {attack}", xlabel="false positive rate", ylabel="true positive rate")
        lin.set_aspect("equal")
        lin.legend(fontsize=7, loc="lower right")
        low = max(lowest / 2, 1e-5)
        log.plot([low, 1], [low, 1], color="grey", lw=0.8)
        log.set(xscale="log", yscale="log", xlim=(low, 1), ylim=(low, 1.05))
        log.set(title=f"ROC (log axes): {attack}", xlabel="false positive rate", ylabel="true positive rate")
        log.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return _png(fig)


def _per_level_figure(plt: Any, results: Mapping[str, Any]) -> bytes | None:
    """Change of the concept tokens' log-likelihood per level, inside and outside the scope."""
    import numpy as np

    per_level = results.get("per_level") or {}
    if not per_level:
        return None
    names = list(per_level)
    cols = [(lv, side) for lv in ("L1", "L2", "L3", "L4") for side in ("inside", "outside")]
    data = np.array(
        [[mean_value((per_level[n].get(lv) or {}).get(side)) or np.nan for lv, side in cols] for n in names],
        dtype=float,
    )
    lim = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.0 * len(cols) + 2, 0.5 * len(names) + 1.8))
    im = ax.imshow(data, cmap="RdBu", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{lv}\n{side}" for lv, side in cols], fontsize=8)
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(cols)):
            if np.isfinite(data[i, j]):
                dark = abs(data[i, j]) > 0.6 * lim
                ax.text(
                    j,
                    i,
                    f"{data[i, j]:+.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    ax.set_title("Δ log-likelihood of concept tokens after unlearning (inside / outside scope)")
    fig.colorbar(im, ax=ax, label="Δ mean log p (nats/token)")
    return _png(fig)


def figures(results: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes of each plot the data allows: ``accuracy``, ``curves``, ``roc``, ``per_level``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {"accuracy": _accuracy_figure(plt, results["methods"])}
    for name, draw in (("curves", _curves_figure), ("roc", _roc_figure), ("per_level", _per_level_figure)):
        png = draw(plt, results)
        if png is not None:
            out[name] = png
    return out
