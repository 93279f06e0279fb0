"""Cached, resumable pipeline stages keyed by config hash.

A stage named ``memorize`` with config ``c`` lives in ``ROOT/memorize-<hash(c)>/``. While it runs it
works in ``ROOT/memorize-<hash>.partial/`` (which it may checkpoint into, so an interrupted stage
resumes); when it finishes, ``stage.json`` is written and the directory is renamed into place. A
finished stage is never recomputed. One whose ``stage.json`` is unreadable (truncated, edited, not a stage
record) is refused with one line naming the file: its outputs may be hours of training, so they are neither
trusted nor replaced; deleting the stage directory runs the stage again.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontology.common.atomic import atomic_write_json, replace_directory
from ontology.common.errors import InputError, MedunlearnError
from ontology.common.hashing import config_hash
from ontology.common.outputs import OutputKind

STAGE_FILE = "stage.json"
STAGES = "stages"

#: ``eval suite -o OUT`` and ``demo --out OUT`` (its MODEL-SCOPE directory): an earlier run's directory (with
#: its cached ``stages/``) is continued, anything else refused
STAGES_OUTPUT = OutputKind(
    "a directory of cached stages", True, f"{STAGES}/ directory", lambda p: (p / STAGES).is_dir()
)


def _read_record(path: Path) -> dict[str, Any] | None:
    """A finished stage's ``stage.json``; None when there is none (the stage has not finished).

    Raises
    ------
    InputError
        When it is unreadable, truncated or not a stage record.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None
    try:
        record = json.loads(data)
        float(record["seconds"])
        if isinstance(record["info"], dict):
            return record
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
        pass
    raise InputError(
        f"not a finished stage's record (truncated or edited); delete {path.parent} to run the stage again",
        path,
    )


@dataclass
class StageResult:
    """Where a stage's outputs are, what it returned, and whether it came from the cache."""

    name: str
    path: Path
    info: dict[str, Any]
    cached: bool
    seconds: float


@dataclass
class StageRunner:
    """Runs named stages under ``root``, printing one line per stage.

    Examples
    --------
    >>> import tempfile
    >>> r = StageRunner(Path(tempfile.mkdtemp()), echo=False)
    >>> first = r.run("square", {"x": 3}, lambda out: {"y": 9})
    >>> again = r.run("square", {"x": 3}, lambda out: {"y": -1})
    >>> (first.info["y"], again.info["y"], again.cached)
    (9, 9, True)
    """

    root: Path
    echo: bool = True
    results: list[StageResult] = field(default_factory=list)

    def stage_dir(self, name: str, config: dict[str, Any]) -> Path:
        """The directory of a stage with this config (whether or not it has run)."""
        return self.root / f"{name}-{config_hash(config)}"

    def run(
        self,
        name: str,
        config: dict[str, Any],
        fn: Callable[[Path], dict[str, Any]],
        *,
        label: str | None = None,
    ) -> StageResult:
        """Return the cached result of ``name`` with ``config``, or run ``fn(workdir)`` and cache it."""
        final = self.stage_dir(name, config)
        shown = label or name
        record = _read_record(final / STAGE_FILE)
        if record is not None:
            result = StageResult(name, final, record["info"], True, float(record["seconds"]))
            self._say(f"{shown:<22} cached   ({result.seconds:7.1f} s when it ran)  {final}")
            self.results.append(result)
            return result
        partial = final.with_name(final.name + ".partial")
        try:
            partial.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MedunlearnError(f"{partial}: cannot create the stage directory ({exc.strerror})") from exc
        resumed = any(partial.iterdir())
        self._say(f"{shown:<22} running{' (resuming)' if resumed else ''} …")
        start = time.perf_counter()
        info = fn(partial)
        seconds = time.perf_counter() - start
        atomic_write_json(
            partial / STAGE_FILE, {"name": name, "config": config, "info": info, "seconds": seconds}
        )
        replace_directory(partial, final)
        result = StageResult(name, final, info, False, seconds)
        self._say(f"{shown:<22} done     ({seconds:7.1f} s)  {final}")
        self.results.append(result)
        return result

    def timings(self) -> list[dict[str, Any]]:
        """One row per stage run so far: name, seconds, cached."""
        return [{"stage": r.name, "seconds": round(r.seconds, 1), "cached": r.cached} for r in self.results]

    def _say(self, line: str) -> None:
        if self.echo:
            print(line, file=sys.stderr, flush=True)
