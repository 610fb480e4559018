"""Atomic writes: a crash never leaves a complete-looking but broken file or directory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import MemoError


def ensure_dir(path: str | os.PathLike) -> Path:
    """mkdir -p that fails with a one-line MemoError naming the directory."""
    d = Path(path).resolve()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MemoError(f"{d}: cannot create the output directory ({e.strerror})") from None
    if not os.access(d, os.W_OK):
        raise MemoError(f"{d}: output location is not writable")
    return d


def _check_parent_writable(target: Path) -> Path:
    return ensure_dir(target.resolve().parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file via a temp file in the same directory + rename (atomic on POSIX)."""
    target = Path(path)
    parent = _check_parent_writable(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp directory beside `path`; on success it replaces `path` in one rename.

    On any exception the temp directory is removed and `path` is left as it was.
    """
    target = Path(path)
    parent = _check_parent_writable(target)
    if target.exists() and not overwrite:
        raise MemoError(f"{target}: already exists (pass --overwrite to replace it)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the result should look like a normal mkdir
    try:
        yield tmp
        if target.exists():
            old = parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
