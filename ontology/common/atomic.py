"""Atomic writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ontology.common.errors import MedunlearnError


def _explain_os_error(exc: OSError, target: Path) -> MedunlearnError:
    if exc.errno == errno.ENOSPC:
        return MedunlearnError(f"{target}: no space left on device; nothing already written was lost")
    if exc.errno in (errno.EDQUOT, errno.EFBIG):
        return MedunlearnError(
            f"{target}: {exc.strerror} (disk quota or file-size limit); nothing already written was lost"
        )
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return MedunlearnError(
            f"{target}: cannot write here ({exc.strerror}); choose another output or cache directory"
        )
    return MedunlearnError(f"{target}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_path(target: str | Path, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success rename it over ``target``.

    Works for files and, with ``is_dir=True``, for whole directories (the old directory is
    replaced only after the new one is complete). On error the temporary is removed and
    ``target`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hi")
    >>> (d / "a.txt").read_text()
    'hi'
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_dir:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise _explain_os_error(exc, target) from exc
    try:
        yield tmp
        _set_default_mode(tmp)
        if is_dir:
            replace_directory(tmp, target)
        else:
            os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise _explain_os_error(exc, target) from exc
    except BaseException:
        _remove(tmp)
        raise


def replace_directory(complete: Path, target: Path) -> None:
    """Rename the finished directory ``complete`` to ``target``; an old ``target`` is removed only afterwards.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "new").mkdir(); (d / "t").mkdir(); _ = (d / "new" / "x").write_text("1")
    >>> replace_directory(d / "new", d / "t")
    >>> sorted(p.name for p in d.iterdir()), (d / "t" / "x").read_text()
    (['t'], '1')
    """
    if target.exists() or target.is_symlink():
        # the old target goes into a fresh directory of its own: no other file is ever moved or removed
        holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        old = holder / target.name
        target.rename(old)
        try:
            complete.rename(target)
        except OSError:
            old.rename(target)
            holder.rmdir()
            raise
        shutil.rmtree(holder, ignore_errors=True)
    else:
        complete.rename(target)


def _set_default_mode(path: Path) -> None:
    """mkstemp/mkdtemp create owner-only entries; give outputs the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(target)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically and return the path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | Path, obj: Any, *, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (keys sorted, UTF-8) to ``target`` atomically."""
    return atomic_write_text(
        target, json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    )
