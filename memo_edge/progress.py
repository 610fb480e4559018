"""The one rich progress bar of the package: a description, the bar, done/total, any extra fields, elapsed time and
the ETA, on stderr. Training (loss, tok/s), export (a bar per long loop) and evaluation use it, so every bar reads
the same; `enabled=False` is silent. Synthesis (memo_edge/synthesis/progress.py) keeps its step and grow logic and
takes its bar from here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def bar(
    console: Console | None = None,
    fields: Iterable[str] = (),
    enabled: bool = True,
    transient: bool = False,
    eta: bool = True,
    width: int | None = None,
) -> Progress:
    """A Progress with the package's columns; `fields` are task fields shown after done/total (`loss {x}`)."""
    description = "{task.description}" if width is None else f"{{task.description:<{width}}}"
    columns = [TextColumn(description), BarColumn(), MofNCompleteColumn(), *(TextColumn(f) for f in fields)]
    columns.append(TimeElapsedColumn())
    if eta:
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(
        *columns,
        console=console or Console(file=sys.stderr),
        disable=not enabled,
        transient=transient,
    )


def track(items, what: str, enabled: bool = True) -> Iterator:
    """Iterate `items` under a transient bar named `what` (a plain iteration when disabled)."""
    if not enabled:
        yield from items
        return
    with bar(transient=True) as p:
        yield from p.track(items, description=what)
