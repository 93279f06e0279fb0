"""Plumbing shared by all three packages: errors, atomic writes, configs, progress, hashing.

It lives in ``ontology`` because that package is the root of the one-way flow
(ontology → hierarchy → unlearn): every package may import it, it imports none of them.
"""

from ontology.common.atomic import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text
from ontology.common.errors import ConfigError, InputError, MedunlearnError
from ontology.common.hashing import config_hash, sha256_file
from ontology.common.progress import progress

__all__ = [
    "ConfigError",
    "InputError",
    "MedunlearnError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "config_hash",
    "progress",
    "sha256_file",
]
