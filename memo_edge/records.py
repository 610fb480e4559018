"""Record types that flow between stages, each stored as JSON lines on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import MemoError, field_error

ReflectionType = Literal["direct", "indirect", "consolidated", "entity", "crossdoc", "idk"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(Record):
    doc_id: str
    title: str
    text: str
    date: str | None = None
    source: str = ""
    meta: dict[str, str | list[str]] = {}   # front-matter keys other than title and date (tags, author, ...)


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


def read_jsonl(path: str | Path, model: type[Record]) -> Iterator[Record]:
    """Yield validated records; a bad line raises a one-line MemoError naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise MemoError(f"{path}: file not found (expected a .jsonl file)")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise MemoError(f"{path}:{lineno}: not UTF-8 text (expected a .jsonl file of JSON objects; "
                                "is this a binary file?)") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise MemoError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
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
