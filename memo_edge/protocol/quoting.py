"""Text the executive or the memory wrote, placed inside our own text: JSON-quoted, clipped, angle brackets escaped,
so it can neither flood a prompt nor open or close a data block."""

from __future__ import annotations

import json
from typing import Any


def quote(obj: Any) -> str:
    # JSON-escape, then also escape angle brackets so quoted text can never close the <memory_data> block
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def shown(value: Any, n: int = 40) -> str:
    """An executive-written value inside our own text (the repair prompt, warnings, Answer.error): clipped to `n`
    characters and JSON-quoted with angle brackets escaped, so it can neither flood nor open/close a data block."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return quote(clip(text, n))


def clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
