"""The training progress bar (rich): step, loss, tokens/s, ETA. Silent on non-main processes or progress=False."""

from __future__ import annotations

import contextlib
import time

from rich.console import Console

from memo_edge.progress import bar


class TrainBar(contextlib.AbstractContextManager):
    def __init__(self, total: int, done: int, enabled: bool, console: Console, desc: str = "train"):
        self.enabled = enabled
        # Logs (no terminal): a plain line every ~5% instead of a live bar.
        self.plain = enabled and not console.is_terminal
        self.every, self.total, self.done, self.t0 = max(1, total // 20), total, done, time.time()
        self.start_done = done
        self.progress = bar(
            console,
            fields=("loss {task.fields[loss]}", "{task.fields[tps]} tok/s"),
            enabled=enabled and console.is_terminal,
        )
        self.task = self.progress.add_task(desc, total=total, completed=done, loss="-", tps="-")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, loss: float, tps: float, desc: str | None = None, advance: int = 1) -> None:
        kw = {"description": desc} if desc else {}
        self.progress.update(self.task, advance=advance, loss=f"{loss:.3f}", tps=f"{tps:,.0f}", **kw)
        before, self.done = self.done, self.done + advance
        if self.plain and (self.done // self.every > before // self.every or self.done == self.total):
            rate = (time.time() - self.t0) / max(1, self.done - self.start_done)
            eta = rate * (self.total - self.done)
            self.progress.console.print(
                f"{desc or 'train'} step {self.done}/{self.total} loss {loss:.3f} "
                f"{tps:,.0f} tok/s ETA {eta / 60:.1f} min"
            )

    def note(self, text: str) -> None:
        if self.enabled:
            self.progress.console.print(text)
