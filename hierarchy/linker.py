"""Fuzzy fallback of the tagger: link runs of content words that no exact span covers to their nearest concept
name (scispaCy's TF-IDF character 3-gram candidate generator over the graph's own names; nothing downloaded).

The spaCy component ``concept_linker`` keeps the names it links to (id, label, synonyms, level, role) and
saves them with the pipeline (``to_disk``/``to_bytes``); the nmslib index is rebuilt from them on first use
after loading (seconds for a 30k-concept graph).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import srsly
from spacy.language import Language
from spacy.tokens import Doc

from hierarchy.spans import SPANS_KEY, make_span
from ontology.common.errors import InputError, MedunlearnError
from ontology.graph import ConceptGraph

#: one linkable concept: id, label, synonym texts, level, role
Name = tuple[str, str, list[str], int, int]


def graph_names(
    cg: ConceptGraph, levels: Mapping[str, int], roles: Mapping[str, int] | None = None
) -> list[Name]:
    """The linkable names of ``cg``: every labelled, live concept with its synonyms, level and role."""
    roles = roles or {}
    return [
        (
            cid,
            a["label"],
            [t for t, _ in a.get("synonyms") or ()],
            int(levels.get(cid, 0)),
            int(roles.get(cid, 0)),
        )
        for cid, a in cg.graph.nodes(data=True)
        if (a.get("label") or "").strip() and not a.get("obsolete")
    ]


def candidate_generator(names: Sequence[Name], *, hnsw_m: int = 16, ef_construction: int = 100) -> Any:
    """A scispaCy ``CandidateGenerator`` over ``names`` (labels and synonyms).

    Same recipe as scispaCy's ``create_tfidf_ann_index`` (TF-IDF of character 3-grams, nmslib HNSW,
    cosine), with lighter HNSW settings so that a 30k-concept graph indexes in seconds, not minutes.
    """
    import nmslib
    import numpy as np
    from scispacy.candidate_generation import CandidateGenerator
    from scispacy.linking_utils import Entity, KnowledgeBase
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not names:
        raise InputError("no concept has a label to link to")
    kb = KnowledgeBase([Entity(cid, label, list(syns), [], None) for cid, label, syns, _, _ in names])
    aliases = list(kb.alias_to_cuis)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)
    vectors = vectorizer.fit_transform(aliases)
    keep = np.asarray(vectors.sum(axis=1)).reshape(-1) != 0
    aliases = [a for a, k in zip(aliases, keep, strict=True) if k]
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(vectors[keep])
    index.createIndex({"M": hnsw_m, "efConstruction": ef_construction, "post": 0}, print_progress=False)
    return CandidateGenerator(index, vectorizer, aliases, kb, ef_search=100)


def graph_candidate_generator(cg: ConceptGraph, **options: Any) -> Any:
    """:func:`candidate_generator` over the labels and synonyms of ``cg``."""
    return candidate_generator(graph_names(cg, {}), **options)


@Language.factory(
    "concept_linker", default_config={"threshold": 0.85, "max_words": 5, "spans_key": SPANS_KEY}
)
def make_concept_linker(
    nlp: Language, name: str, threshold: float, max_words: int, spans_key: str
) -> ConceptLinker:
    """spaCy factory; the names to link to are attached with :meth:`ConceptLinker.set_names` (or loaded)."""
    return ConceptLinker(threshold=threshold, max_words=max_words, spans_key=spans_key)


class ConceptLinker:
    """Fuzzy fallback: link runs of content words that no exact span covers to their nearest concept name.

    A run is up to ``max_words`` consecutive alphabetic tokens that are not stop words; it becomes a span
    when its best candidate's cosine similarity (TF-IDF character 3-grams) reaches ``threshold``.
    """

    def __init__(self, *, threshold: float = 0.85, max_words: int = 5, spans_key: str = SPANS_KEY) -> None:
        self.threshold = threshold
        self.max_words = max_words
        self.spans_key = spans_key
        self.names: list[Name] = []
        self._generator: Any = None
        self._levels: dict[str, tuple[int, int]] = {}

    def set_names(self, names: Iterable[Name]) -> None:
        """The concepts to link to (:func:`graph_names`); the index is built on first use."""
        self.names = [(c, lb, list(s), int(lv), int(r)) for c, lb, s, lv, r in names]
        self._generator = None
        self._levels = {c: (lv, r) for c, _, _, lv, r in self.names}

    @property
    def generator(self) -> Any:
        if self._generator is None:
            if not self.names:
                raise MedunlearnError(
                    "concept_linker has no names to link to: build the pipeline with build_nlp()"
                )
            self._generator = candidate_generator(self.names)
        return self._generator

    def __call__(self, doc: Doc) -> Doc:
        from spacy.lang.en.stop_words import STOP_WORDS

        existing = list(doc.spans.get(self.spans_key, []))
        covered = bytearray(len(doc))
        for sp in existing:
            covered[sp.start : sp.end] = b"\x01" * (sp.end - sp.start)
        runs: list[tuple[int, int]] = []
        start = None
        for tok in doc:
            ok = not covered[tok.i] and tok.is_alpha and tok.lower_ not in STOP_WORDS
            if ok and start is None:
                start = tok.i
            if start is not None and (not ok or tok.i + 1 - start >= self.max_words):
                runs.append((start, tok.i + 1 if ok else tok.i))
                start = None
        if start is not None:
            runs.append((start, len(doc)))
        if not runs:
            return doc
        found = []
        for (s, e), cands in zip(runs, self.generator([doc[s:e].text for s, e in runs], 5), strict=True):
            best = max(cands, key=lambda c: max(c.similarities), default=None)
            if best is not None and max(best.similarities) >= self.threshold:
                level, role = self._levels.get(best.concept_id, (0, 0))
                found.append(make_span(doc, s, e, best.concept_id, level, role))
        if found:
            doc.spans[self.spans_key] = sorted(existing + found, key=lambda sp: sp.start)
        return doc

    # -- serialisation: the names travel with the pipeline, the index is rebuilt from them
    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return srsly.msgpack_dumps({"names": self.names})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> ConceptLinker:
        self.set_names(srsly.msgpack_loads(data)["names"])
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_msgpack(path / "names.msgpack", {"names": self.names})

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> ConceptLinker:
        self.set_names(srsly.read_msgpack(Path(path) / "names.msgpack")["names"])
        return self
