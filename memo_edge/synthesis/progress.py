"""One rich progress bar per synthesis step (counts and ETA); silent when progress is off."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator


class Steps:
    def __init__(self, progress):
        self._p = progress

    def task(self, name: str, total: int | None) -> Callable[[int], None]:
        if self._p is None:
            return lambda n=1: None
        tid = self._p.add_task(name, total=total)
        return lambda n=1: self._p.advance(tid, n)

    def log(self, msg: str) -> None:
        if self._p is not None:
            self._p.console.print(msg)


@contextlib.contextmanager
def steps(enabled: bool) -> Iterator[Steps]:
    if not enabled:
        yield Steps(None)
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=Console(file=sys.stderr)) as p:
        yield Steps(p)
