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


def _candidates(text: str) -> Iterator[str]:
    for m in _FENCE.finditer(text):
        yield m.group(1)
    # every balanced {...} span, outermost first, scanning with a string-aware brace counter
    for start in [i for i, ch in enumerate(text) if ch == "{"]:
        depth, in_str, esc = 0, False, False
        for j in range(start, len(text)):
            ch = text[j]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : j + 1]
                    break


def _loads(s: str):
    s = s.strip().replace("\u201c", '"').replace("\u201d", '"')
    for attempt in (s, _TRAILING_COMMA.sub(r"\1", s)):
        try:
            return json.loads(attempt)
        except json.JSONDecodeError:
            continue
    return None


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def _objects(text: str) -> Iterator[dict]:
    """Every JSON object in the reply, most likely first: the whole reply, fenced blocks, brace spans, and only
    then what json-repair makes of the reply."""
    text = _THINK.sub("", text)  # reasoning models think out loud before answering
    found = False
    whole = _loads(text)
    if isinstance(whole, dict):
        found = True
        yield whole
    for candidate in _candidates(text):
        obj = _loads(candidate)
        if isinstance(obj, dict):
            found = True
            yield obj
    if not found:
        repaired = json_repair.loads(text)
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
