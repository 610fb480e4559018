"""The shared progress bar (memo_edge/progress.py): its columns, extra fields, and a silent mode."""

from __future__ import annotations

import io

from rich.console import Console

from memo_edge.progress import bar, track


def test_the_bar_shows_done_total_and_fields():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with bar(console, fields=("loss {task.fields[loss]}",)) as p:
        task = p.add_task("train", total=4, loss="-")
        p.update(task, advance=3, loss="0.125")
    text = out.getvalue()
    assert "train" in text and "3/4" in text and "loss 0.125" in text and "ETA" in text


def test_track_yields_every_item_and_is_silent_when_off(capsys):
    assert list(track(range(5), "x", enabled=False)) == [0, 1, 2, 3, 4]
    assert capsys.readouterr().err == ""
    assert list(track(iter("abc"), "x")) == ["a", "b", "c"]
