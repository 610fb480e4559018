"""JSON objects in LLM replies, for every caller (the protocol's executive, the synthesis generator).

Replies wrap their object in code fences, prose, reasoning (<think>...</think>), trailing commas and smart quotes;
those are read as they are. Only when no object parses that way does json-repair mend the reply (unquoted keys,
single quotes, a reply cut off before its closing braces): a reply that holds one good object among broken ones
yields the good one, not a repaired broken one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import json_repair
from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ReplyError(ValueError):
    """A reply that holds no JSON object of the expected shape (the caller re-asks)."""


# Every scan below is linear in the reply: a hostile or broken reply (20,000 `{`, 5,000 `<think>`) costs
# milliseconds, never seconds. Replies nested deeper than this are not JSON anyone meant: json-repair is not run on
# them (it recurses, raises RecursionError/ValueError, and spends ~0.1 ms per level).
MAX_DEPTH = 64
MAX_SPANS = 256  # brace spans tried per reply (each is parsed; a real reply holds a handful)


class _Scan:
    """One string-aware pass over the reply: every balanced {...} span (start, end) and the deepest nesting.
    Quotes count only inside braces, so prose quotes around an object do not hide it."""

    def __init__(self, text: str):
        self.spans: list[tuple[int, int]] = []
        self.max_depth = 0
        opened: list[int] = []  # positions of the `{` still open
        brackets = 0  # `[` open inside the current object, for the depth bound only
        in_str = esc = False
        for j, ch in enumerate(text):
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == "{":
                opened.append(j)
                self.max_depth = max(self.max_depth, len(opened) + brackets)
            elif ch == "[":
                brackets += 1
                self.max_depth = max(self.max_depth, len(opened) + brackets)
            elif ch == "]":
                brackets = max(brackets - 1, 0)
            elif not opened:
                continue
            elif ch == '"':
                in_str = True
            elif ch == "}":
                self.spans.append((opened.pop(), j + 1))
        self.spans.sort()  # outermost first, in the order they start


def _candidates(text: str, scan: _Scan) -> Iterator[str]:
    for m in _FENCE.finditer(text):
        yield m.group(1)
    for start, end in scan.spans[:MAX_SPANS]:
        yield text[start:end]


def _loads(s: str):
    s = s.strip().replace("\u201c", '"').replace("\u201d", '"')
    for attempt in (s, _TRAILING_COMMA.sub(r"\1", s)):
        try:
            return json.loads(attempt)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nesting deeper than the C stack allows
            continue
    return None


def _strip_think(text: str) -> str:
    """Drop <think>...</think> blocks (case-insensitive), in one pass (a regex with .*? is quadratic on a reply
    of many unclosed <think>)."""
    low = text.lower()
    out, i = [], 0
    while (a := low.find("<think>", i)) != -1 and (b := low.find("</think>", a + 7)) != -1:
        out.append(text[i:a])
        i = b + len("</think>")
    out.append(text[i:])
    return "".join(out)


def _objects(text: str) -> Iterator[dict]:
    """Every JSON object in the reply, most likely first: the whole reply, fenced blocks, brace spans, and only
    then what json-repair makes of the reply."""
    text = _strip_think(text)  # reasoning models think out loud before answering
    scan = _Scan(text)
    found = False
    whole = _loads(text)
    if isinstance(whole, dict):
        found = True
        yield whole
    for candidate in _candidates(text, scan):
        obj = _loads(candidate)
        if isinstance(obj, dict):
            found = True
            yield obj
    if not found and scan.max_depth <= MAX_DEPTH:
        try:
            repaired = json_repair.loads(text)
        except (ValueError, RecursionError):  # what it raises on input it cannot mend: no object, not a crash
            return
        yield from (
            obj for obj in (repaired if isinstance(repaired, list) else [repaired]) if isinstance(obj, dict) and obj
        )


def extract_json(text: str) -> dict:
    """The first JSON object found in `text`; raises ReplyError when there is none."""
    if not isinstance(text, str) or not text.strip():
        raise ReplyError("empty reply")
    for obj in _objects(text):
        return obj
    raise ReplyError("no JSON object in the reply")


def parse_reply(text: str, schema: type[BaseModel]) -> BaseModel:
    """The first object in the reply that validates; otherwise ReplyError naming the first bad field."""
    if not isinstance(text, str) or not text.strip():
        raise ReplyError("empty reply")
    first_error = None
    for obj in _objects(text):
        try:
            return schema.model_validate(obj)
        except ValidationError as e:
            if first_error is None:
                err = e.errors()[0]
                loc = ".".join(str(x) for x in err["loc"]) or "<object>"
                first_error = f"field '{loc}': {err['msg']}"
    raise ReplyError(first_error or "no JSON object in the reply")
