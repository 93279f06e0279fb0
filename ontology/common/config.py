"""YAML configs validated by pydantic models: one-line errors naming the file and the key path.

Every config model derives from :class:`StrictModel` (unknown keys are errors). The
resolved config and its hash are written beside every output with :func:`save_resolved`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ontology.common.atomic import atomic_write_text
from ontology.common.errors import ConfigError
from ontology.common.hashing import config_hash

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config sections: unknown keys, wrong types and non-finite numbers (``.inf``, ``.nan``) fail
    validation."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    def hash(self) -> str:
        """Stable short hash of the resolved values (the cache key of a stage)."""
        return config_hash(self.model_dump(mode="json"))


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<root>"


def validate_config(data: Any, model: type[M], *, source: str = "<config>") -> M:
    """Validate a mapping against ``model``; raise :class:`ConfigError` naming ``source`` and the key.

    Examples
    --------
    >>> from pydantic import Field
    >>> class C(StrictModel):
    ...     steps: int = 1
    >>> validate_config({"steps": 3}, C).steps
    3
    >>> try:
    ...     validate_config({"stepz": 3}, C, source="run.yaml")
    ... except ConfigError as e:
    ...     print(e)
    run.yaml: stepz: unknown key
    """
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key_path(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            msg = f"{key}: unknown key"
        elif err["type"] == "missing":
            msg = f"{key}: required key is missing"
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            msg = f"{key}: {err['msg']} (got {shown})"
        extra = len(exc.errors()) - 1
        if extra:
            msg += f" (and {extra} more problem{'s' if extra > 1 else ''})"
        raise ConfigError(msg, path=source) from None


def load_config(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read a YAML file and validate it against ``model``.

    ``overrides`` are dotted keys (``{"train.steps": 5}``) applied before validation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", path=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line) from None
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping of keys to values", path=path)
    for dotted, value in (overrides or {}).items():
        try:
            set_dotted(data, dotted, value)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path) from None
    return validate_config(data, model, source=str(path))


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``dotted == "a.b"``, creating mappings as needed.

    Raises
    ------
    ConfigError
        When a part of the path holds a value that is not a section (``train: 5`` and ``train.steps``).
    """
    *head, last = dotted.split(".")
    node = data
    for i, key in enumerate(head):
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            where = ".".join(head[: i + 1])
            raise ConfigError(f"--set {dotted}: {where} is not a section (it holds a {type(node).__name__})")
    node[last] = value


def save_resolved(config: BaseModel, outdir: str | Path, name: str = "config.resolved.yaml") -> str:
    """Write the resolved config and its hash beside an output; return the hash."""
    dumped = config.model_dump(mode="json")
    digest = config_hash(dumped)
    text = f"# config hash: {digest}\n" + yaml.safe_dump(dumped, sort_keys=True)
    atomic_write_text(Path(outdir) / name, text)
    return digest
