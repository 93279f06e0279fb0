"""The bundled demo data: a small hand-written ontology, fictitious patient records, probes and QA.

Everything is written by the medunlearn developers and generated from this package by
``python -m unlearn.demo.build`` (see ``data/README.md``). In a source checkout the files are read
from the repository's ``data/`` directory; in an installed package, where there is no ``data/``, they
are generated once, byte-identical to the checkout's, into ``$MEDUNLEARN_HOME/demo-data/<hash>/``.

Examples
--------
>>> from unlearn.demo import DEFAULT_SCOPES, load_records, split_by_scope
>>> forget, retain = split_by_scope(load_records(), "surgery")
>>> 0 < len(forget) < len(forget) + len(retain)
True
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ontology.common.errors import InputError
from ontology.common.hashing import config_hash, sha256_file
from ontology.common.jsonl import iter_jsonl
from ontology.common.paths import home
from unlearn.demo.files import DEFAULT_SCOPES, FILES, REQUIRED_FIELDS
from unlearn.demo.ontology_spec import by_id, subtree_ids

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DATA = _PACKAGE_DIR.parent.parent / "data"


def _complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES.values())


def source_hash() -> str:
    """A short hash of the generator's source files: the cache key of generated demo data."""
    return config_hash({p.name: sha256_file(p) for p in sorted(_PACKAGE_DIR.glob("*.py"))})


def data_dir() -> Path:
    """The directory holding the demo files.

    The repository's ``data/`` when running from a checkout; otherwise
    ``$MEDUNLEARN_HOME/demo-data/<source hash>/``, generated on first use.
    """
    if _complete(_CHECKOUT_DATA):
        return _CHECKOUT_DATA
    cache = home() / "demo-data" / source_hash()
    if not _complete(cache):
        from unlearn.demo.build import build_all

        build_all(cache)
    return cache


def _read_jsonl(path: Path, required: Iterable[str]) -> list[dict]:
    return [row for _, row in iter_jsonl(path, required=list(required))]


def load_records(path: str | Path | None = None) -> list[dict]:
    """The fictitious patient records (``demo_records.jsonl``), one dict per record.

    Raises
    ------
    InputError
        ``file:line: …`` for a missing file, bad JSON or a missing field.
    """
    return _read_jsonl(Path(path) if path else data_dir() / FILES["records"], REQUIRED_FIELDS["records"])


def load_probes(path: str | Path | None = None) -> list[dict]:
    """The memorisation probes (``demo_probes.jsonl``): ``mcq`` and ``completion`` rows."""
    return _read_jsonl(Path(path) if path else data_dir() / FILES["probes"], REQUIRED_FIELDS["probes"])


def load_qa(path: str | Path | None = None) -> list[dict]:
    """The general medical QA items (``demo_qa.jsonl``)."""
    return _read_jsonl(Path(path) if path else data_dir() / FILES["qa"], REQUIRED_FIELDS["qa"])


def ontology_path(fmt: str = "ttl") -> Path:
    """Path of the demo ontology, ``fmt`` ``"ttl"`` (Turtle) or ``"owl"`` (RDF/XML)."""
    return data_dir() / FILES[f"ontology_{fmt}"]


def scope_ids(scope: str) -> set[str]:
    """Concept ids of a scope: a name of :data:`DEFAULT_SCOPES` or a demo concept id, with its subtree.

    Raises
    ------
    InputError
        For a name that is neither.
    """
    root = DEFAULT_SCOPES.get(scope, scope)
    if root not in by_id():
        raise InputError(
            f"unknown demo scope {scope!r}; use one of {sorted(DEFAULT_SCOPES)} or a DEMO: concept id"
        )
    return subtree_ids(root)


def split_by_scope(records: Iterable[dict], scope: str) -> tuple[list[dict], list[dict]]:
    """``(forget, retain)``: records mentioning a concept of the scope, and the others."""
    ids = scope_ids(scope)
    forget: list[dict] = []
    retain: list[dict] = []
    for record in records:
        (forget if ids & set(record["concepts"]) else retain).append(record)
    return forget, retain
