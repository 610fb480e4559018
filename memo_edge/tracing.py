"""Run traces and timing spans for the protocol: JSON lines of what happened, spans of how long it took.

Stdlib only: the protocol (core) records into a Tracer; runtime/profile.py turns the spans into reports.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator


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
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            self._file = p.open("a", encoding="utf-8")

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
            self._file.close()
            self._file = None


class NullTracer(Tracer):
    """Keeps spans (cheap, needed for the Answer's timings) but writes nothing."""
