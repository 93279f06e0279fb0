"""How far graph-driven scopes reach on the benchmark suites: answer fallbacks and retain items with a target.

Run ``python benchmarks/bench_scope_coverage.py [--json OUT] [--top 0,5,10,20] [--prior 10]``.

For each suite (``medmcqa-surgery`` scope MeSH E04, ``mhqa`` Trauma scope F03.950) the items are split as the
suite splits them (:func:`unlearn.eval.datasets.split_items`, size ``small``, seed 0). The *tuning* items are the
forget and retain items in none of the four reported splits; :func:`hierarchy.suggest.suggest_scope` ranks
subtrees on them only, starting from the suite's named subtree. Each scope (the named subtree alone, then with
the first N suggested subtrees) is measured on the *reported* memorised splits (100 forget, 300 retain items):

- ``answer_fallback``: forget items with no target concept span (the suite marks their answer instead);
- ``retain_with_target``: retain items with a target concept span.

An item is the text the suites train on without the chat template: question, lettered options and
``Answer: X. option``. Two lexicons: ``mesh`` (2017 tree with 2026 names, what the suites use today) and
``mesh+synonyms`` (plus DO names joined through MESHinDO.tsv and the BC5CDR training set's curated mentions).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
LETTERS = "ABCDEFGH"


def item_text(item: dict[str, Any]) -> str:
    """Question, lettered options and the answer line."""
    options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(item["options"]))
    answer = item["answer"]
    return f"{item['question']}\n{options}\nAnswer: {LETTERS[answer]}. {item['options'][answer]}"


def lexicon(name: str) -> Any:
    from hierarchy.levels import build_hierarchy
    from ontology.loader import load
    from unlearn.eval.suite import MESH_LABELS, MESH_TREE

    synonyms = []
    if name == "mesh+synonyms":
        synonyms = [SHARED / "disease_ontology/MESHinDO.tsv", SHARED / "bc5cdr/CDR_TrainingSet.PubTator.txt"]
    return build_hierarchy(load(SHARED / MESH_TREE, labels=SHARED / MESH_LABELS, synonyms=synonyms))


def coverage(hier: Any, items: list[str], forget: list[str], retain: list[str]) -> tuple[int, int]:
    """(forget texts without a target span, retain texts with one) for the scope ``items``."""
    from hierarchy.roles import TARGET, assign_roles
    from hierarchy.scope import Scope
    from hierarchy.tagger import build_nlp, tag_texts

    roles = assign_roles(hier, Scope.parse(items, hier))
    targets = {cid for cid, r in roles.items() if r.role == TARGET}
    nlp = build_nlp(hier, scope=items)

    def has_target(spans: list[dict[str, Any]]) -> bool:
        return any(s["concept_id"] in targets for s in spans)

    fallback = sum(1 for spans in tag_texts(nlp, forget) if not has_target(spans))
    touched = sum(1 for spans in tag_texts(nlp, retain) if has_target(spans))
    return fallback, touched


def suite_rows(name: str, hiers: dict[str, Any], tops: list[int], prior: float) -> dict[str, Any]:
    from hierarchy.suggest import suggest_scope
    from unlearn.eval.datasets import SPLITS, split_items
    from unlearn.eval.suite import load_suite

    cfg = load_suite(name)
    forget, retain = cfg.load_items(SHARED)
    parts = split_items(forget, retain, "small", 0)
    reported = {it["id"] for split in SPLITS for it in parts[split]}
    tune_f = [item_text(it) for it in forget.items if it["id"] not in reported]
    tune_r = [item_text(it) for it in retain.items if it["id"] not in reported]
    rep_f = [item_text(it) for it in parts["forget"]]
    rep_r = [item_text(it) for it in parts["retain"]]
    base = cfg.scope_items()
    out: dict[str, Any] = {
        "scope": base,
        "tuning": {"forget": len(tune_f), "retain": len(tune_r)},
        "reported": {"forget": len(rep_f), "retain": len(rep_r)},
        "lexicons": {},
    }
    for lex, hier in hiers.items():
        t0 = time.perf_counter()
        sug = suggest_scope(hier, tune_f, tune_r, top=max(tops), base=base, prior=prior)
        rows = []
        for n in tops:
            items = [*base, *(s.id for s in sug.chosen[:n])]
            fallback, touched = coverage(hier, items, rep_f, rep_r)
            k = min(n, len(sug.chosen))
            tf, tr = sug.coverage[k]
            rows.append(
                {
                    "suggested": k,
                    "answer_fallback": fallback,
                    "retain_with_target": touched,
                    "retain_share": round(touched / len(rep_r), 4),
                    "tuning_forget_share": round(tf, 4),
                    "tuning_retain_share": round(tr, 4),
                }
            )
        out["lexicons"][lex] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "suggested": [
                {
                    "id": s.id,
                    "label": s.label,
                    "tree_number": s.tree_number,
                    "level": s.level,
                    "forget_docs": s.forget_docs,
                    "retain_docs": s.retain_docs,
                    "log_odds": round(s.log_odds, 3),
                    "z": round(s.z, 2),
                }
                for s in sug.chosen
            ],  # fmt: skip
            "rows": rows,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="Write the results here.")
    ap.add_argument("--top", default="0,5,10,20", help="Numbers of suggested subtrees to measure.")
    ap.add_argument(
        "--prior", type=float, default=10.0, help="Prior strength of the suggestion, in documents."
    )
    ap.add_argument("--suites", default="medmcqa-surgery,mhqa")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("MEDUNLEARN_QUIET", "1")
    tops = [int(x) for x in args.top.split(",")]
    hiers = {name: lexicon(name) for name in ("mesh", "mesh+synonyms")}
    results = {"prior": args.prior, "suites": {}}
    for name in args.suites.split(","):
        print(f"running {name} …", file=sys.stderr)
        res = results["suites"][name] = suite_rows(name, hiers, tops, args.prior)
        print(
            f"\n{name}: scope {', '.join(res['scope'])}; tuning {res['tuning']}, reported {res['reported']}"
        )
        print(
            "| lexicon | suggested subtrees | forget items with answer fallback | retain items with a target |"
        )
        print("|---|---|---|---|")
        for lex, entry in res["lexicons"].items():
            for row in entry["rows"]:
                print(
                    f"| {lex} | {row['suggested']} | {row['answer_fallback']} / {res['reported']['forget']} | "
                    f"{row['retain_with_target']} / {res['reported']['retain']} ({row['retain_share']:.1%}) |"
                )
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
