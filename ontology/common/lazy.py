"""Public names of a package imported on first use (PEP 562), so that importing the package stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``name`` from the module ``table[name]`` on first
    use and keeps it in the package's ``namespace`` (its ``globals()``).

    Examples
    --------
    >>> ns: dict[str, Any] = {}
    >>> get = lazy_getattr("pkg", {"dumps": "json"}, ns)
    >>> get("dumps") is ns["dumps"]
    True
    >>> get("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'loads'
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
