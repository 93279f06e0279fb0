"""The HTML report opened in headless Chromium (Debian's package, driven by Playwright): no console error, no
failed request, every image decoded; the run sections (summary, completions, timings) and both ROC views are
there. Skipped, with the reason, where chromium is not installed or does not start (apt may be unavailable)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unlearn.eval.test_report import ATTACKS, _row
from unlearn.eval.report import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: switches for a headless run in a container: no sandbox (root), no GPU, nothing fetched in the background
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
MEASURES = [
    ["forget records recalled (greedy)", "forget_recall", "pct"],
    ["forget target log-lik per token", "forget_target_logp", "f2"],
    ["degenerate forget completions (repeats)", "fluency.degenerate_rate", "pct"],
    ["MIA AUC, LOSS attack (oracle ≈ ideal)", "mia_auc.loss", "auc"],
]


def demo_like_results() -> dict[str, Any]:
    methods = {
        "memorized": _row(0.95, 0.97, 0.81, forget_recall=1.0, forget_target_logp=-0.01),
        "oracle": _row(0.30, 0.96, 0.50, forget_recall=0.0, forget_target_logp=-6.86),
        "dual": _row(0.25, 0.95, 0.6, forget_recall=0.05, forget_target_logp=-14.67),
    }
    for row in methods.values():
        row["fluency"] = {"degenerate_rate": 0.1, "distinct2": 0.8}
    return {
        "suite": "demo (surgery)",
        "size": "demo",
        "model": "tiny-llama",
        "methods": methods,
        "summary": {"title": "medunlearn demo — tiny-llama", "measures": MEASURES, "note": "recalled: …"},
        "completions": [
            {"kind": "forgotten record", "prompt": "… Patient A, MRN 1, underwent", "expected": "appendectomy",
             "memorized": "appendectomy on 1 May", "dual": "spinal on 1 May"},
        ],
        "timings": [{"stage": "memorize", "seconds": 12.3, "cached": False}],
        "roc": {
            name: {a: {"fpr": [0, 0.01, 0.05, 0.5, 1], "tpr": [0, 0.2, 0.4, 0.8, 1]} for a in ATTACKS}
            for name in ("dual", "oracle")
        },
        "curves": {"dual": [{"step": s, "forget_loss": 1 + s, "retain_loss": 0.5} for s in range(4)]},
    }  # fmt: skip


#: a page that has not loaded in this time is a failure, not a hang (the report is one self-contained file)
PAGE_TIMEOUT_MS = 30_000
LAUNCH_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; skipped, saying why, where Playwright or Debian's chromium is
    missing or the browser does not start here (``.ci/run`` installs chromium when apt can)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (make test)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) to run it"
        )
    with sync_api.sync_playwright() as p:
        try:
            launched = p.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS
            )
        except sync_api.Error as exc:
            pytest.skip(f"{CHROMIUM} did not start headless here: {str(exc).splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()


def open_report(browser: Any, path: Path) -> dict[str, Any]:
    """Load a page in ``browser``; return console errors, failed requests and what the page shows."""
    problems: list[str] = []
    page = browser.new_page()
    try:
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
        page.goto(path.as_uri(), wait_until="load", timeout=PAGE_TIMEOUT_MS)
        shown = page.evaluate(
            """() => ({
              images: Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                                              width: i.naturalWidth, height: i.naturalHeight})),
              headings: Array.from(document.querySelectorAll('h2')).map(h => h.id || h.textContent),
              summary: Array.from(document.querySelectorAll('#summary + table tbody tr'))
                            .map(tr => Array.from(tr.cells).map(td => td.textContent)),
            })"""
        )
        page.screenshot(path=str(path.with_suffix(".png")), full_page=True)
    finally:
        page.close()
    return {"problems": problems, **shown}


@pytest.mark.slow  # starts a browser
def test_report_renders_in_chromium_without_errors(browser: Any, tmp_path: Path) -> None:
    paths = write_report(demo_like_results(), tmp_path)
    page = open_report(browser, paths["html"])
    assert page["problems"] == []
    assert {i["alt"] for i in page["images"]} == {"accuracy", "curves", "roc"}
    assert all(i["ok"] for i in page["images"]), page["images"]
    roc = next(i for i in page["images"] if i["alt"] == "roc")
    assert roc["height"] > roc["width"] / len(ATTACKS)  # two rows: linear and log-log axes
    assert page["headings"][:3] == ["summary", "completions", "timings"]
    assert [r[0] for r in page["summary"]] == [m[0] for m in MEASURES]
    assert page["summary"][0] == ["forget records recalled (greedy)", "100.0%", "0.0%", "5.0%"]


@pytest.mark.slow
def test_a_broken_image_is_caught(browser: Any, tmp_path: Path) -> None:
    """The check can fail: a page with an undecodable image and a script error is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><html><body><img alt='x' src='data:image/png;base64,AAAA'>"
        "<script>undefinedFunction()</script></body></html>"
    )
    page = open_report(browser, bad)
    assert not page["images"][0]["ok"]
    assert any("undefinedFunction" in p for p in page["problems"])
