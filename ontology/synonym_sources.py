"""Annotated corpora as synonym sources: curated mention text → concept, with counts and provenance.

A synonym source never creates a concept. :func:`add_corpus_synonyms` reads every linked mention of a
PubTator corpus (:mod:`ontology.readers.pubtator`) and, for a mention id that is a node of the graph
(``MESH:`` + id by default),

1. adds the mention text as a ``RELATED`` synonym of that node, unless one of the node's names already
   normalises to it (the most frequent spelling is kept). A composite mention (``D014786|D006311``, "ocular
   and auditory toxicity") is no name of either concept: only its individual parts (the file's seventh field,
   "Ocular toxicity", "auditory toxicity") are added, each to its own id;
2. records *evidence* for each name of each judged node (see below) in the node attribute
   ``corpus_evidence``: ``{corpus file: {normalised name: [linked, occurrences]}}``. ``occurrences`` counts the
   places where the name is written in the corpus texts (whole normalised words) that do not lie inside or
   across another curated mention; ``linked`` counts those that curators annotated as exactly this span with this id. A name
   written 40 times and linked 0 times ("placebo", "protein") is evidence that the curators do not see a
   mention of the concept there; the tagger's learnt stoplist reads it (``docs/hierarchy.md``).

*Judged* nodes are those a curator could have annotated: every node with a linked mention, and every node
with a MeSH tree number in a top-level segment (``C10``, ``D02``, ``F03``) holding at least
``judge_min_mentions`` linked mentions. Names of other nodes (anatomy, procedures, in a corpus of chemicals and
diseases) get no evidence: that the curators did not annotate them says nothing.

Ids that name no node (MeSH supplementary concepts ``C…`` in a descriptor graph, retired descriptors) and
unlinked mentions (``-1``) are counted in the returned summary, which is also appended to the graph's
``synonym_sources`` list; the corpus file is appended to ``sources`` with its sha256.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from ontology.graph import ConceptGraph
from ontology.normalize import abbreviation_case, name_keys, normalize, written_as
from ontology.readers.provenance import source_record
from ontology.readers.pubtator import PubtatorCorpus, PubtatorDoc

CORPUS_SCOPE = "RELATED"
#: pieces of text between separators, each normalised to zero or more words
_PIECE = re.compile(r"[^\s\-‐‑‒–—―−_/,;:()\[\]{}\"“”.!?=+<>%~*]+")
_QUOTES = "'’‘"
#: longest name, in normalised words, whose occurrences are counted
MAX_NAME_WORDS = 8


def add_corpus_synonyms(
    cg: ConceptGraph,
    corpus: PubtatorCorpus,
    *,
    prefix: str = "MESH",
    min_mentions: int = 1,
    judge_min_mentions: int = 20,
    licence: str = "not stated in the file",
) -> dict[str, Any]:
    """Add the linked mention texts of ``corpus`` as synonyms of the nodes they name, with evidence.

    Parameters
    ----------
    cg : ConceptGraph
        Changed in place.
    corpus : PubtatorCorpus
        From :func:`ontology.readers.pubtator.read_pubtator`.
    prefix : str
        CURIE prefix put before a mention id (``D008094`` → ``MESH:D008094``).
    min_mentions : int
        A mention text becomes a synonym when curators wrote it at least this often for the id.
    judge_min_mentions : int
        Linked mentions a MeSH top-level tree segment needs before its nodes' names are judged.
    licence : str
        Licence line recorded with the corpus file in ``graph.graph["sources"]``.

    Returns
    -------
    dict
        ``file, documents, mentions, linked, unlinked, composite, unknown_ids`` (id → mentions, most frequent
        first), ``unknown_mentions``, ``synonyms_added``, ``concepts_with_synonyms``, ``judged_segments``,
        ``judged_concepts``.
    """
    source = corpus.path.name
    texts: dict[str, Counter[str]] = defaultdict(Counter)  # node -> normalised text -> mentions
    spelling: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    unknown: Counter[str] = Counter()
    counts = Counter(mentions=0, linked=0, unlinked=0, composite=0)
    for doc in corpus.docs:
        for m in doc.mentions:
            counts["mentions"] += 1
            if not m.ids:
                counts["unlinked"] += 1
                continue
            counts["linked"] += 1
            pairs = [(m.text, m.ids[0])] if not m.composite else []
            if m.composite:
                counts["composite"] += 1
                if len(m.parts) == len(m.ids):
                    pairs = list(zip(m.parts, m.ids, strict=True))
            for text, ui in pairs:
                node = f"{prefix}:{ui}"
                key = normalize(text)
                if node not in cg.graph:
                    unknown[ui] += 1
                elif key:
                    texts[node][key] += 1
                    spelling[(node, key)][text] += 1
    added = 0
    for node, keys in texts.items():
        attrs = cg.graph.nodes[node]
        known = {
            normalize(n) for n in [attrs.get("label") or "", *(t for t, _ in attrs.get("synonyms") or ())]
        }
        new = []
        for key, n in keys.items():
            if n >= min_mentions and key not in known:
                new.append((spelling[(node, key)].most_common(1)[0][0], CORPUS_SCOPE))
        if new:
            attrs["synonyms"] = [*(attrs.get("synonyms") or []), *new]
            added += len(new)
    segments = _judged_segments(cg, corpus, prefix, judge_min_mentions)
    judged = set(texts) | {
        n
        for n, a in cg.graph.nodes(data=True)
        if any(t.split(".", 1)[0] in segments for t in a.get("tree_numbers") or ())
    }
    evidence = name_evidence(cg, corpus, judged, prefix)
    for node, names in evidence.items():
        attrs = cg.graph.nodes[node]
        attrs["corpus_evidence"] = {**(attrs.get("corpus_evidence") or {}), source: names}
    cg.invalidate()
    summary = {
        "file": source,
        "documents": len(corpus.docs),
        **counts,
        "unknown_ids": dict(unknown.most_common()),
        "unknown_mentions": sum(unknown.values()),
        "synonyms_added": added,
        "concepts_with_synonyms": len(texts),
        "judged_segments": sorted(segments),
        "judged_concepts": len(judged),
    }
    cg.graph.graph["sources"] = [*cg.sources, source_record(corpus.path, "pubtator", licence=licence)]
    cg.graph.graph["skipped"] = [*cg.skipped, *corpus.skipped]
    cg.graph.graph["synonym_sources"] = [*cg.graph.graph.get("synonym_sources", []), summary]
    return summary


def _judged_segments(cg: ConceptGraph, corpus: PubtatorCorpus, prefix: str, minimum: int) -> set[str]:
    per_segment: Counter[str] = Counter()
    for doc in corpus.docs:
        for m in doc.mentions:
            for ui in m.ids:
                node = f"{prefix}:{ui}"
                if node in cg.graph:
                    for seg in {t.split(".", 1)[0] for t in cg.graph.nodes[node].get("tree_numbers") or ()}:
                        per_segment[seg] += 1
    return {seg for seg, n in per_segment.items() if n >= minimum and len(seg) > 1}


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """``(normalised word, start, end)`` for every word of ``text``, in order.

    Examples
    --------
    >>> words_with_offsets("L-dopa induced dyskinesias.")
    [('l', 0, 1), ('dopa', 2, 6), ('induced', 7, 14), ('dyskinesia', 15, 26)]
    """
    out = []
    for m in _PIECE.finditer(text):
        piece = m.group()
        stripped = piece.strip(_QUOTES)
        if not stripped:
            continue
        start = m.start() + piece.index(stripped)
        for w in normalize(stripped).split():
            out.append((w, start, start + len(stripped)))
    return out


def name_evidence(
    cg: ConceptGraph, corpus: PubtatorCorpus, nodes: set[str], prefix: str = "MESH"
) -> dict[str, dict[str, list[int]]]:
    """``{node: {normalised name: [linked, occurrences]}}`` for the names of ``nodes`` written in ``corpus``.

    See the module docstring for what counts as an occurrence and as linked.
    """
    index: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for node in nodes:
        attrs = cg.graph.nodes[node]
        for name in [attrs.get("label") or "", *(t for t, _ in attrs.get("synonyms") or ())]:
            case = abbreviation_case(name)
            for key in name_keys(name):
                if len(key.split()) <= MAX_NAME_WORDS:
                    index[key].add((node, case))
    result: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for doc in corpus.docs:
        for key, start, end in _occurrences(doc, index):
            gold = _gold_at(doc, start, end)
            if gold is False:
                continue  # inside or across another curated mention
            counted = set()
            for node, case in index[key]:
                if node in counted or (case is not None and not written_as(doc.text[start:end], case)):
                    continue  # an abbreviation-like name counts only where it is written in its case
                counted.add(node)
                entry = result[node].setdefault(key, [0, 0])
                entry[1] += 1
                if isinstance(gold, tuple) and node[len(prefix) + 1 :] in gold:
                    entry[0] += 1
    return dict(result)


def _occurrences(doc: PubtatorDoc, index: dict[str, Any]) -> list[tuple[str, int, int]]:
    words = words_with_offsets(doc.text)
    out = []
    for i in range(len(words)):
        if i > 0 and words[i - 1][1] == words[i][1]:
            continue  # a name starts at the start of a piece
        parts: list[str] = []
        for j in range(i, min(i + MAX_NAME_WORDS, len(words))):
            parts.append(words[j][0])
            if j + 1 < len(words) and words[j + 1][1] == words[j][1]:
                continue  # and ends at the end of one
            key = " ".join(parts)
            if key in index:
                out.append((key, words[i][1], words[j][2]))
    return out


def _gold_at(doc: PubtatorDoc, start: int, end: int) -> tuple[str, ...] | None | bool:
    """The ids of the mention with exactly this span, None when no mention has it, False when the span lies
    inside a longer mention or crosses one (the curators annotated something else there).

    A span that *contains* shorter mentions ("calcium" in "calcium channel blockers") is an occurrence the
    curators chose not to annotate as a whole.
    """
    found: tuple[str, ...] | None = None
    for m in doc.mentions:
        if m.start == start and m.end == end:
            found = m.ids
        elif m.start < end and start < m.end and not (start <= m.start and m.end <= end):
            return False
    return found
