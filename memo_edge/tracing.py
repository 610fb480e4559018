"""Run traces and timing spans for the protocol: JSON lines of what happened, spans of how long it took.

The protocol (core) records into a Tracer; runtime/profile.py turns the spans into reports. A trace file is written
through `atomic.AtomicFile`: it appears whole at `close()` and never replaces what is not a regular file.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from .atomic import AtomicFile


class Tracer:
    """Collects events (stage, kind, prompt, reply, parsed fields, timings) and spans (name, cat, start, end)."""

    def __init__(self, path: str | Path | None = None):
        self.t0 = time.perf_counter()
        self.wall_t0 = time.time()
        self.events: list[dict] = []
        self.spans: list[dict] = []
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            self._file = AtomicFile(Path(path))

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def event(self, stage: str, kind: str, **fields: Any) -> dict:
        ev = {"t": round(self.now(), 4), "stage": stage, "kind": kind, **fields}
        with self._lock:
            self.events.append(ev)
            if self._file:
                self._file.write(json.dumps(ev, ensure_ascii=False, default=str) + "\n")
                self._file.flush()
        return ev

    @contextlib.contextmanager
    def span(self, name: str, cat: str, **args: Any) -> Iterator[dict]:
        """Time a block; the yielded dict can be filled with details (tokens, ttft) before the block ends."""
        start = self.now()
        try:
            yield args
        finally:
            sp = {
                "name": name,
                "cat": cat,
                "start": start,
                "end": self.now(),
                "thread": threading.get_ident(),
                "args": args,
            }
            with self._lock:
                self.spans.append(sp)

    def close(self) -> None:
        if self._file:
            f, self._file = self._file, None
            f.commit()


class NullTracer(Tracer):
    """Keeps spans (cheap, needed for the Answer's timings) but writes nothing."""
