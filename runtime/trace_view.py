"""Readable rendering of a protocol trace (JSON lines written by `memo ask --trace`)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from memo_edge.errors import MemoError
from memo_edge.records import json_lines


# What a model's text must not send to a terminal: OSC (window title, hyperlinks, clipboard), CSI (cursor, erase),
# other ESC sequences, C0 controls but tab and newline (a carriage return overwrites the line), DEL and C1 controls.
_TERMINAL_CONTROL = re.compile(
    r"(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, to its terminator (or the end)
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[ -/]*[0-~]"  # other ESC sequences
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # the controls left, a lone ESC included
)


def terminal_safe(text: str) -> str:
    """`text` without escape sequences or control characters (memory and executive text printed by memo ask)."""
    return _TERMINAL_CONTROL.sub("", text)


def read_trace(path: str | Path) -> list[dict]:
    if not Path(path).is_file():
        raise MemoError(f"{path}: trace file not found")
    return [event for _, event in json_lines(path, expected="a trace written by memo ask --trace")]


def _short(x, n=160) -> str:
    s = x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def format_event(ev: dict) -> list[str]:
    t, stage, kind = ev.get("t", 0.0), ev.get("stage", "?"), ev.get("kind", "?")
    head = f"[{t:7.3f}s] {stage:<15}"
    if kind == "start":
        return [f"{head} QUESTION {ev.get('question')!r} (mode {ev.get('mode')})"]
    if kind == "executive":
        p = ev.get("parsed") or {}
        fields = {k: v for k, v in p.items() if v not in (None, [], "", False)}
        how = ", ".join(x for x in (_PATHS.get(ev.get("path"), ""), _repair(ev), _format(ev)) if x)
        return [
            f"{head} executive ({ev.get('latency_s', 0):.2f} s{', ' + how if how else ''}) -> {_short(fields, 300)}"
        ]
    if kind == "executive_invalid":
        nxt = {"repair": " -> repair round", "fallback": " -> fallback"}.get(ev.get("next"), "")
        return [f"{head} executive reply INVALID ({ev.get('error')}){nxt}: {_short(ev.get('reply'), 120)}"]
    if kind == "response_format":
        return [f"{head} endpoint {_short(ev.get('refused'), 200)}"]
    if kind == "executive_error":
        return [f"{head} executive call FAILED: {_short(ev.get('error'), 200)}"]
    if kind == "memory":
        lines = [f"{head} memory answered {len(ev.get('replies', []))}:"]
        for r in ev.get("replies", []):
            tag = f" [{r['candidate']}]" if r.get("candidate") else ""
            lines.append(f"{'':27}Q{tag}: {_short(r['question'], 100)}")
            lines.append(f"{'':27}A: {_short(r['answer'], 100)}")
        return lines
    if kind == "transition":
        extra = {k: v for k, v in ev.items() if k not in ("t", "stage", "kind", "to", "reason")}
        return [f"{head} -> {ev.get('to')} ({ev.get('reason')}) {_short(extra) if extra else ''}".rstrip()]
    if kind == "dead_end":
        return [f"{head} DEAD END after {ev.get('idks')} IDKs: {_short(ev.get('question'))}"]
    if kind == "pivot":
        return [f"{head} PIVOT away from {ev.get('away_from')!r} to {ev.get('to')!r}"]
    if kind in ("fallback", "skipped"):
        return [f"{head} {kind}: {_short({k: v for k, v in ev.items() if k not in ('t', 'stage', 'kind')})}"]
    if kind == "answer":
        lines = [
            f"{head} FINAL {ev.get('final_answer')!r} ({ev.get('status')}; {ev.get('wall_s')} s)",
            f"{'':27}why: {_short(ev.get('justification'), 200)}",
        ]
        if "executive_replies" in ev:
            lines.append(f"{'':27}executive: {replies_line(ev.get('executive_format'), ev['executive_replies'])}")
        return lines
    return [f"{head} {kind}: {_short(ev)}"]


_PATHS = {"schema": "schema-parsed", "lenient": "lenient reader"}


def _repair(ev: dict) -> str:
    return f"after repair round {ev['attempt']}" if ev.get("attempt") else ""


def _format(ev: dict) -> str:
    return f"sent {ev['response_format']}" if ev.get("response_format") else ""


def replies_line(fmt: str | None, counts: dict) -> str:
    """How the executive's replies were read in a run, and what its endpoint accepted as response_format."""
    c = counts or {}
    return (
        f"{c.get('first_try', 0)} of {c.get('decisions', 0)} decisions usable on the first reply; "
        f"{c.get('schema', 0)} schema-parsed, {c.get('lenient', 0)} lenient, {c.get('unparsed', 0)} unparsed, "
        f"{c.get('repairs', 0)} repair round(s), {c.get('fallbacks', 0)} fallback(s); "
        f"response_format accepted: {fmt or 'not reported'}"
    )


def print_trace(path: str | Path, file=None) -> None:
    file = file or sys.stdout
    for ev in read_trace(path):
        for line in format_event(ev):
            print(terminal_safe(line), file=file)
