"""One progress bar per synthesis step (memo_edge.progress's columns: counts and ETA); silent when progress is off."""

from __future__ import annotations

import contextlib
from typing import Iterator


class Bar:
    """Call it to advance; grow() when a step discovers more work (step 3 learns its size as pairs arrive)."""

    def __init__(self, progress=None, task_id=None):
        self._p, self._id = progress, task_id
        self.total = 0

    def __call__(self, n: int = 1) -> None:
        if self._p is not None:
            self._p.advance(self._id, n)

    def grow(self, n: int) -> None:
        self.total += n
        if self._p is not None:
            self._p.update(self._id, total=self.total)


class Steps:
    def __init__(self, progress):
        self._p = progress

    def task(self, name: str, total: int | None) -> Bar:
        if self._p is None:
            bar = Bar()
        else:
            bar = Bar(self._p, self._p.add_task(name, total=total))
        bar.total = total or 0
        return bar

    def log(self, msg: str) -> None:
        if self._p is not None:
            self._p.console.print(msg)


@contextlib.contextmanager
def steps(enabled: bool) -> Iterator[Steps]:
    if not enabled:
        yield Steps(None)
        return
    from ..progress import bar  # rich is imported only when a bar is shown

    with bar(width=30) as p:
        yield Steps(p)
