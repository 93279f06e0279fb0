"""Copy a suite run's report into ``docs/results/`` and print its Markdown with the figure links rewritten.

Usage::

    python benchmarks/publish_results.py RUN_DIR NAME   # e.g. runs/eval/medmcqa-surgery-small medmcqa-surgery-small

writes ``docs/results/NAME.json`` (the run's ``results.json``) and ``docs/results/NAME/*.png`` (its figures)
and prints ``results.md`` with links pointing there, for pasting into ``docs/results.md``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    run, name = Path(sys.argv[1]), sys.argv[2]
    report = run / "report"
    if not (report / "results.json").is_file():
        sys.exit(f"{report}: no results.json (has the suite run finished?)")
    out = DOCS / "results"
    (out / name).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report / "results.json", out / f"{name}.json")
    for png in sorted((report / "figures").glob("*.png")):
        shutil.copyfile(png, out / name / png.name)
    text = (report / "results.md").read_text(encoding="utf-8")
    print(text.replace("](figures/", f"](results/{name}/"))


if __name__ == "__main__":
    main()
