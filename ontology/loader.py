"""``load``: one entry point for every source format, with format detection.

The format comes from ``format=`` or, with ``"auto"``, from the file: its extension first,
then its first bytes (an XML root element, a TSV header, an OBO stanza) when the extension
says nothing certain. Several paths are read one by one and merged with
:func:`ontology.merge.merge_graphs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ontology.common.errors import InputError
from ontology.graph import ConceptGraph

#: format names accepted by ``load`` and ``medunlearn ontology build --format``
FORMATS = (
    "auto",
    "owl",
    "ttl",
    "nt",
    "jsonld",
    "obo",
    "obographs",
    "mesh-tree",
    "mesh-xml",
    "mesh-csv",
    "umls",
    "tsv",
    "icd10cm",
    "pubtator",
)
#: formats that add synonyms to a graph instead of making one (applied after every graph source is merged)
SYNONYM_FORMATS = ("pubtator",)
_ALIASES = {
    "turtle": "ttl",
    "json-ld": "jsonld",
    "obograph": "obographs",
    "ntriples": "nt",
    "rdfxml": "owl",
    "owlxml": "owl",
    "csv": "tsv",
}
_BY_SUFFIX = {
    ".obo": "obo",
    ".owl": "owl",
    ".rdf": "owl",
    ".owx": "owl",
    ".ttl": "ttl",
    ".nt": "nt",
    ".jsonld": "jsonld",
    ".json-ld": "jsonld",
    ".rrf": "umls",
    ".bin": "mesh-tree",
}
_TREE_LINE = re.compile(rb"^[A-Z]\d\d(\.\d{3})*\t[DCQ]\d{6,9}\t|^[^;\n]+;[A-Z]\d\d(\.\d{3})*\r?$", re.M)
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
_MESH_URI_ROW = re.compile(rb"\A[^\n]*\n\"?https?://id\.nlm\.nih\.gov/mesh/")
_PUBTATOR = re.compile(rb"\A\d+\|[ta]\|")
_OBOGRAPHS = re.compile(rb'\A\{\s*"graphs"\s*:')
_SNIFF_BYTES = 1 << 14


def _lazy(module: str, function: str, **fixed: Any) -> Callable[..., ConceptGraph]:
    def call(path: Path, **options: Any) -> ConceptGraph:
        mod = __import__(f"ontology.readers.{module}", fromlist=[function])
        return getattr(mod, function)(path, **fixed, **options)

    return call


READERS: dict[str, Callable[..., ConceptGraph]] = {
    "owl": _lazy("owl", "read_owl"),
    "ttl": _lazy("rdf", "read_rdf", format="turtle"),
    "nt": _lazy("rdf", "read_rdf", format="nt"),
    "jsonld": _lazy("rdf", "read_rdf", format="json-ld"),
    "obo": _lazy("obo", "read_obo"),
    "obographs": _lazy("obographs", "read_obographs"),
    "mesh-tree": _lazy("mesh_tree", "read_mesh_tree"),
    "mesh-csv": _lazy("mesh_tree", "read_mesh_descriptor_csv"),
    "mesh-xml": _lazy("mesh_xml", "read_mesh_xml"),
    "umls": _lazy("umls", "read_umls"),
    "tsv": _lazy("tabular", "read_tabular"),
    "icd10cm": _lazy("icd10cm", "read_icd10cm"),
}


def _xml_root(head: bytes) -> str:
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", b"", head, flags=re.S)
    m = _XML_ROOT.search(body)
    return m.group(2).decode("ascii", "replace") if m else ""


def detect_format(path: str | Path) -> str:
    """The format name of a source file or UMLS directory, from its extension and first bytes.

    Raises
    ------
    InputError
        For a missing or empty file, or one whose format cannot be told.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("format-version: 1.4\\n\\n[Term]\\nid: X:1\\n")
    >>> detect_format(p)
    'obo'
    """
    path = Path(path)
    if path.is_dir():
        if (path / "MRCONSO.RRF").is_file():
            return "umls"
        raise InputError("a directory without MRCONSO.RRF: cannot tell its format", path)
    if not path.is_file():
        raise InputError("file not found", path)
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputError("empty file", path)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    xml_roots = {
        "DescriptorRecordSet": "mesh-xml",
        "ICD10CM.tabular": "icd10cm",
        "RDF": "owl",
        "Ontology": "owl",
    }
    first_line = text.split(b"\n", 1)[0]
    root = _xml_root(text) if text.startswith(b"<") else ""
    checks: list[tuple[bool, str]] = [
        (root in xml_roots, xml_roots.get(root, "")),
        (_PUBTATOR.match(text) is not None, "pubtator"),
        (text.startswith(b"{") and _OBOGRAPHS.search(text) is not None, "obographs"),
        (re.match(rb"<[^>\s]+>\s+<[^>\s]+>\s+", text) is not None, "nt"),
        (text.startswith((b"{", b"[")) and b'"@' in text, "jsonld"),
        (text.startswith(b"Tree Number\tDesc Ui") or _TREE_LINE.match(text) is not None, "mesh-tree"),
        (
            first_line.startswith(b"id,scheme,subject") or re.search(_MESH_URI_ROW, text) is not None,
            "mesh-csv",
        ),
        (re.search(rb"^\[Term\]\s*$|^format-version:", text, re.M) is not None, "obo"),
        (re.match(rb"@prefix|@base|PREFIX|BASE", text) is not None, "ttl"),
        (suffix in (".tsv", ".csv", ".tab", ".txt") and (b"\t" in first_line or b"," in first_line), "tsv"),
    ]
    for matched, fmt in checks:
        if matched:
            return fmt
    raise InputError(
        "unknown format: cannot tell it from the extension or the first bytes; "
        f"pass format= one of {', '.join(FORMATS[1:])}",
        path,
    )


def load(
    path_or_paths: str | Path | Sequence[str | Path],
    format: str = "auto",
    strict: bool = False,
    synonyms: Sequence[str | Path] = (),
    synonym_options: dict[str, Any] | None = None,
    **reader_options: Any,
) -> ConceptGraph:
    """Read one or several ontology sources into a concept graph.

    Parameters
    ----------
    path_or_paths : path or sequence of paths
        Source files (or a UMLS ``META`` directory). Several are merged, aligned by xrefs. Annotated corpora
        (PubTator) are synonym sources: they add synonyms to the merged graph
        (:func:`ontology.synonym_sources.add_corpus_synonyms`) and create no concept.
    format : str
        One of :data:`FORMATS`; ``"auto"`` detects each file's format.
    strict : bool
        Raise at the first unreadable line or item instead of skipping and reporting it.
    synonyms : sequence of paths
        Synonym sources applied after the merge: first ontologies whose concepts lend their labels and
        synonyms to the concepts they xref, with honest scopes (:func:`ontology.merge.join_synonyms`: MeSH +
        ``MESHinDO.tsv`` puts DO's names on MeSH descriptors), then annotated corpora (as above), so that their
        evidence covers every name.
    synonym_options : dict, optional
        Keyword arguments of :func:`~ontology.synonym_sources.add_corpus_synonyms` (``min_mentions=`` …).
    **reader_options
        Passed to the reader (e.g. ``languages=`` for UMLS, ``labels=`` for a MeSH tree).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.obo"
    >>> _ = p.write_text("[Term]\\nid: X:1\\nname: root\\n")
    >>> load(p).label("X:1")
    'root'
    """
    fmt = _ALIASES.get(format, format)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    paths = [path_or_paths] if isinstance(path_or_paths, str | Path) else list(path_or_paths)
    if not paths:
        raise InputError("no source given")
    graphs = []
    joins: list[tuple[Path, str]] = []
    for p, is_synonym_source in [*((Path(p), False) for p in paths), *((Path(p), True) for p in synonyms)]:
        chosen = detect_format(p) if fmt == "auto" or is_synonym_source else fmt
        if not p.exists():
            raise InputError("file not found", p)
        if is_synonym_source or chosen in SYNONYM_FORMATS:
            joins.append((p, chosen))
        else:
            graphs.append(READERS[chosen](p, strict=strict, **reader_options))
    if not graphs:
        raise InputError(
            "an annotated corpus is a synonym source: give an ontology to add its synonyms to", joins[0][0]
        )
    from ontology.merge import join_synonyms, merge_graphs

    cg = graphs[0] if len(graphs) == 1 else merge_graphs(graphs)
    # ontologies first: a corpus's evidence then covers every name the joins added
    for p, chosen in sorted(joins, key=lambda j: j[1] in SYNONYM_FORMATS):
        if chosen == "pubtator":
            from ontology.readers.pubtator import read_pubtator
            from ontology.synonym_sources import add_corpus_synonyms

            add_corpus_synonyms(cg, read_pubtator(p, strict=strict), **(synonym_options or {}))
        else:
            join_synonyms(cg, READERS[chosen](p, strict=strict))
    return cg


def open_graph(path: str | Path) -> ConceptGraph:
    """A concept graph from a graph directory (``nodes.parquet`` …, :func:`ontology.store.read_graph`) or any
    ontology file :func:`load` reads: the one opener for a ``GRAPH`` argument.

    Raises
    ------
    InputError
        When ``path`` is neither.
    """
    path = Path(path)
    if path.is_dir() and (path / "nodes.parquet").is_file():
        from ontology.store import read_graph

        return read_graph(path)
    if not path.exists():
        raise InputError("no such graph directory or ontology file", path=path)
    return load(path)
