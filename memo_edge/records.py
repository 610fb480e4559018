"""Record types that flow between stages, each stored as JSON lines on disk."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import MemoError, field_error

ReflectionType = Literal["direct", "indirect", "consolidated", "entity", "crossdoc", "statement", "cloze", "idk"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(Record):
    doc_id: str
    title: str
    text: str
    date: str | None = None
    source: str = ""
    meta: dict[str, str | list[str]] = {}  # front-matter keys other than title and date (tags, author, ...)


class Chunk(Record):
    doc_id: str
    chunk_id: str
    title: str
    text: str
    date: str | None = None
    index: int = 0


class Reflection(Record):
    """One question-answer pair the MEMORY model is trained on."""

    model_config = ConfigDict(extra="ignore")
    id: str
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    type: ReflectionType = "direct"
    source_doc_ids: list[str] = []
    source_chunk_ids: list[str] = []
    prompt_version: str = ""
    generator: str = ""


class DecompositionStep(Record):
    model_config = ConfigDict(extra="ignore")
    question: str
    answer: str = ""


class EvalItem(Record):
    """A gold question (the demo questions' format; MuSiQue-like)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    question: str
    answer: str
    answer_aliases: list[str] = []
    hops: int = 1
    decomposition: list[DecompositionStep] = []


def json_lines(
    path: str | Path, lines: Iterable[str | bytes] | None = None, expected: str = "a .jsonl file of JSON objects"
) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSON-lines file (or of `lines` read from it): the one
    JSONL reader. A line that is not UTF-8 or not JSON is a one-line MemoError naming the file and line."""
    path = Path(path)
    if lines is None:
        if not path.is_file():
            raise MemoError(f"{path}: file not found (expected {expected})")
        with path.open("rb") as f:
            yield from json_lines(path, f, expected)
        return
    for lineno, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise MemoError(f"{path}:{lineno}: not UTF-8 text (expected {expected}; is this a binary file?)") from None
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise MemoError(f"{path}:{lineno}: not valid JSON ({e.msg}; expected {expected})") from None


def read_jsonl(path: str | Path, model: type[Record]) -> Iterator[Record]:
    """Yield validated records; a bad line raises a one-line MemoError naming file, line and field."""
    for lineno, obj in json_lines(path):
        try:
            yield model.model_validate(obj)
        except ValidationError as e:
            field, msg = field_error(e)
            raise MemoError(f"{path}:{lineno}: field '{field}': {msg}") from None


def load_reflections(path: str | Path) -> list[Reflection]:
    rows = list(read_jsonl(path, Reflection))
    if not rows:
        raise MemoError(f"{path}: no reflections (expected one JSON object per line with question and answer)")
    return rows


def load_eval_items(path: str | Path) -> list[EvalItem]:
    rows = list(read_jsonl(path, EvalItem))
    if not rows:
        raise MemoError(f"{path}: no questions (expected one JSON object per line with id, question, answer)")
    return rows
