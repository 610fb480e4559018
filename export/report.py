"""Progress output for the export: one line per step and a bar for long loops (rich, on stderr)."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from memo_edge import progress


class Reporter:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._console = None
        if enabled:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)

    def log(self, msg: str) -> None:
        if self._console:
            self._console.print(msg)

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        t = time.perf_counter()
        if self._console:
            with self._console.status(f"{what}..."):
                yield
            self._console.print(f"[green]ok[/] {what} ({time.perf_counter() - t:.1f}s)")
        else:
            yield

    @contextlib.contextmanager
    def bar(self, what: str, total: int) -> Iterator:
        """Yields advance(n=1)."""
        if not self._console:
            yield lambda n=1: None
            return
        with progress.bar(self._console, transient=True, eta=False) as p:
            task = p.add_task(what, total=total)
            yield lambda n=1: p.advance(task, n)
        self._console.print(f"[green]ok[/] {what}")
