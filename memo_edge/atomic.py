"""Atomic writes: a crash never leaves a complete-looking but broken file or directory.

Every file the CLI writes goes through `AtomicFile` (or `write_text`/`write_json`/`write_jsonl`/`write_bytes` on
top of it), which never replaces what is not a regular file: a device (`-o /dev/null`), FIFO, socket or directory
at the target is refused with one line naming it. A symlinked target is written through: the new file is made
beside the link's real target and renamed over that, so the link stays a link and its target gets the content.
(`atomicwrites`, the library for this, is archived and renames over whatever is there, so it is not used.)

Temp names carry the writer's pid (`.NAME.<pid>-<random>.partial|.tmp`), so a later run can tell a leftover of a
killed writer (pid gone, or reused by a process started after the leftover was made) from a concurrent writer's
work in progress, and removes only the former.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
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


def _process_start(pid: int) -> float | None:
    """Start time of a live process, None if there is none with that pid."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:
        return 0.0  # exists but unreadable (another user): treat as alive since forever


_RUN_START = _process_start(os.getpid()) or time.time()


def sweep_stale(parent: Path, name: str) -> list[Path]:
    """Remove temp files/dirs of earlier, dead writers of `name` in `parent` (see the module doc). Returns them."""
    rnd = "[a-z0-9_]{8}"  # tempfile's random part
    pat = re.compile(
        rf"^\.{re.escape(name)}\.(?:(\d+)-(?:{rnd}|zip)|{rnd})\.(?:partial|tmp)$"
        rf"|^\.{re.escape(name)}\.old-(\d+)$"
    )
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = pat.match(p.name)
        if not m:
            continue
        pid = m.group(1) or m.group(2)
        try:
            mtime = p.lstat().st_mtime
        except FileNotFoundError:
            continue
        if pid is not None:
            if int(pid) == os.getpid():
                continue
            started = _process_start(int(pid))
            stale = started is None or mtime < started  # dead, or the pid now belongs to a newer process
        else:
            stale = mtime < _RUN_START  # an older version's name without a pid: older than this run
        if stale:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            removed.append(p)
    return removed


def umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def regular_target(path: str | os.PathLike) -> Path:
    """Where a write to `path` lands: symlinks followed; refused (MemoError) when that is not a regular file."""
    given = Path(path).expanduser()
    target = Path(os.path.realpath(given))  # a dangling link: its target, created by the write
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return target  # nothing there yet (a missing or unusable parent is named by ensure_dir next)
    except OSError as e:
        raise MemoError(f"{given}: cannot write ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        real = f" (a link to {target})" if target != given.absolute() else ""
        raise MemoError(f"{given}{real}: is not a regular file (refusing to replace it; name a file to write)")
    return target


class AtomicFile:
    """A file written to a temp file beside its target and renamed over it by `commit()`; `discard()` (or an
    exception inside `with`) leaves the target as it was. See the module doc for what targets are refused."""

    def __init__(self, path: str | os.PathLike, binary: bool = False):
        self.target = regular_target(path)
        parent = _check_parent_writable(self.target)
        sweep_stale(parent, self.target.name)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.target.name}.{os.getpid()}-", suffix=".tmp", dir=parent)
        try:
            os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600
            self._f = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"}))
        except BaseException:
            os.close(fd)
            os.unlink(self._tmp)
            raise

    def _named(self, e: OSError) -> OSError:
        if e.filename is None:
            e.filename = str(self.target)  # the CLI's error line names the file, not the temp
        return e

    def write(self, data) -> None:
        try:
            self._f.write(data)
        except OSError as e:
            raise self._named(e) from None

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            raise self._named(e) from None

    def commit(self) -> Path:
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            regular_target(self.target)  # still a regular file (or nothing) right before the rename
            os.replace(self._tmp, self.target)
        except BaseException as e:
            self.discard()
            if isinstance(e, OSError):
                raise self._named(e) from None
            raise
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file via a temp file in the same directory + rename (atomic on POSIX)."""
    with AtomicFile(path) as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with AtomicFile(path, binary=True) as f:
        f.write(data)


def create_new(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> Path:
    """Create `path` with `data`, never replacing anything: written and fsynced under a temp name, then hard-linked
    into place (which fails if the name exists), so `path` is complete or absent, even after a full disk or a kill.
    An OSError names `path` (its `filename`), not the temp."""
    target = Path(path).expanduser()
    if os.path.lexists(target):
        raise MemoError(f"{target}: already exists (refusing to overwrite it)")
    parent = _check_parent_writable(target)
    sweep_stale(parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=parent)
    try:
        os.fchmod(fd, mode & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, target)
    except FileExistsError:
        raise MemoError(f"{target}: already exists (refusing to overwrite it)") from None
    except OSError as e:
        e.filename = str(target)  # the CLI's one error line names the key, not the temp (a full disk included)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp directory beside `path`; on success it replaces `path` in one rename.

    On any exception the temp directory is removed and `path` is left as it was. Like `AtomicFile`, a symlink is
    written through (its real target is replaced) and anything there that is not a directory is refused.
    """
    given = Path(path).expanduser()
    target = Path(os.path.realpath(given))
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.stat(target).st_mode):
            real = f" (a link to {target})" if target != given.absolute() else ""
            raise MemoError(f"{given}{real}: is not a directory (refusing to replace it; name a directory to write)")
    parent = _check_parent_writable(target)
    if target.exists() and not overwrite:
        raise MemoError(f"{target}: already exists (pass --overwrite to replace it)")
    sweep_stale(parent, target.name)  # what killed runs left behind (SIGKILL skips the cleanup below)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".partial", dir=parent))
    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; the result should look like a normal mkdir
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
