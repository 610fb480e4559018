"""The GENERATOR prompts of the five steps, versioned, and the schemas their replies must satisfy.

Change a prompt's wording -> bump its version: the call cache is keyed by (step, version, model, input), so a new
version is asked again while unchanged steps are served from the cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PIPELINE_VERSION = "memo-synth-v1"

SYSTEM = (
    "You write question-answer pairs that teach a small model the facts of a private document collection. "
    "You reply with one JSON object and nothing else."
)

_RULES = """Rules:
- Every question must stand alone: name people, places, organisations and things in full; no pronouns without a
  name in the same question, no "the document", "the text", "the passage", "the author", "this article".
- Resolve relative time against the document date: "this year" -> the year, "last year" -> the year before,
  "currently"/"today"/"now" -> "as of <year>".
- Answers are short and factual (a name, number, date or short phrase), taken from the text.
- Never mention document ids, file names, chunk numbers or any source marker in a question or answer."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class QAItem(_Out):
    question: str = Field(min_length=3)
    answer: str = Field(min_length=1)

    @field_validator("question", "answer", mode="before")
    @classmethod
    def _text(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        return v.strip() if isinstance(v, str) else v


class FactsOut(_Out):
    qa_pairs: list[QAItem]


class ConsolidatedItem(QAItem):
    combined_from: list[int] = Field(min_length=2)
    commonality: str = ""
    combination_size: int = Field(ge=2)

    @field_validator("answer")
    @classmethod
    def _short(cls, v):
        if len(v.split()) > 150:
            raise ValueError("answer longer than 150 words")
        return v


class ConsolidatedOut(_Out):
    consolidated_qa_pairs: list[ConsolidatedItem]


class CheckOut(_Out):
    is_self_contained: bool


class FixOut(QAItem):
    pass


class EntityItem(QAItem):
    entity: str = Field(min_length=1)
    complexity: str = ""
    facts_used: list[str] | int = []

    @field_validator("facts_used", mode="before")
    @classmethod
    def _facts(cls, v):
        if isinstance(v, list):
            return [str(x) for x in v]
        return v


class EntityOut(_Out):
    entity_surfacing_qa_pairs: list[EntityItem]


class CrossItem(QAItem):
    type: str = ""
    source_doc_ids: list[str] = Field(min_length=2)

    @field_validator("source_doc_ids", mode="before")
    @classmethod
    def _ids(cls, v):
        return [str(x) for x in v] if isinstance(v, list) else v


class CrossOut(_Out):
    crossdoc_qa_pairs: list[CrossItem]


@dataclass(frozen=True)
class Prompt:
    step: str  # facts | consolidate | selfcontain | entity | crossdoc
    name: str  # facts_direct, facts_indirect, consolidate, check, fix, entity, crossdoc
    version: str
    schema: type[BaseModel]
    template: str

    def messages(self, **kw: Any) -> list[dict]:
        return [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": self.template.format(rules=_RULES, **kw)},
        ]


def doc_header(title: str, date: str | None) -> str:
    return f"Document title: {title}\nDocument date: {date or 'unknown'}"


FACTS_DIRECT = Prompt(
    "facts",
    "facts_direct",
    "1a-v1",
    FactsOut,
    """{header}
Text:
\"\"\"
{text}
\"\"\"

Task (direct facts): write one question-answer pair for every fact the text states: who did what, when, where,
how many, how much, what something is. Cover every sentence.
{rules}
Reply with exactly this JSON shape: {{"qa_pairs": [{{"question": "...", "answer": "..."}}]}}""",
)

FACTS_INDIRECT = Prompt(
    "facts",
    "facts_indirect",
    "1b-v1",
    FactsOut,
    """{header}
Text:
\"\"\"
{text}
\"\"\"

Task (indirect facts): write question-answer pairs for facts that follow from the text without being stated in
one sentence: both directions of every relation ("Who founded X?" and "What did Y found?"), pronouns resolved to
names, dates computed from the document date, computed attributes (ages, durations, differences), and chains of
actions (what happened after what).
{rules}
Reply with exactly this JSON shape: {{"qa_pairs": [{{"question": "...", "answer": "..."}}]}}""",
)

CONSOLIDATE = Prompt(
    "consolidate",
    "consolidate",
    "2-v1",
    ConsolidatedOut,
    """{header}
Question-answer pairs from this document, numbered:
{pairs}

Task (consolidation): combine pairs that share an entity, a time, a relation, or a cause and effect into
questions whose answers join several facts. Each answer at most 150 words.
{rules}
Reply with exactly this JSON shape: {{"consolidated_qa_pairs": [{{"question": "...", "answer": "...",
"combined_from": [1, 2], "commonality": "what the combined pairs share", "combination_size": 2}}]}}""",
)

CHECK = Prompt(
    "selfcontain",
    "check",
    "3c-v1",
    CheckOut,
    """{header}
Question: {question}
Answer: {answer}

Task (self-containment check): is this pair understandable without the document? It fails if it has a pronoun
or vague reference with no name ("he", "the company", "this product"), relative time ("this year", "currently",
"recently"), mentions "the document"/"the text"/"the passage", or the answer is incomplete.
Reply with exactly this JSON shape: {{"is_self_contained": true}} or {{"is_self_contained": false}}""",
)

FIX = Prompt(
    "selfcontain",
    "fix",
    "3f-v1",
    FixOut,
    """{header}
Source text:
\"\"\"
{text}
\"\"\"
This question-answer pair is not self-contained:
Question: {question}
Answer: {answer}

Task (repair): rewrite it from the source text so it stands alone: full names instead of pronouns and vague
references, years instead of relative time, a complete short answer.
{rules}
Reply with exactly this JSON shape: {{"question": "...", "answer": "..."}}""",
)

ENTITY = Prompt(
    "entity",
    "entity",
    "4-v1",
    EntityOut,
    """{header}
Text:
\"\"\"
{text}
\"\"\"

Task (entity surfacing): for the people, organisations, places and things in the text, write questions that
describe the entity without naming it, whose answer is its name: from one fact, from two facts, from three or
more facts, and relationship-traversal questions ("the sister of the founder of X").
{rules}
Reply with exactly this JSON shape: {{"entity_surfacing_qa_pairs": [{{"entity": "...", "question": "...",
"answer": "...", "complexity": "single|two|multi|traversal", "facts_used": ["fact 1", "fact 2"]}}]}}""",
)

CROSSDOC = Prompt(
    "crossdoc",
    "crossdoc",
    "5-v1",
    CrossOut,
    """Documents (ids are for your reply only):
{documents}

Task (cross-document synthesis): write questions that need facts from at least two of these documents:
"converging" questions describe one entity with clues from different documents; "parallel" questions ask which
different entities share one specific property. List in source_doc_ids the ids of the documents each pair uses.
{rules}
Reply with exactly this JSON shape: {{"crossdoc_qa_pairs": [{{"type": "converging|parallel", "question": "...",
"answer": "...", "source_doc_ids": ["D1", "D2"]}}]}}""",
)

ALL = (FACTS_DIRECT, FACTS_INDIRECT, CONSOLIDATE, CHECK, FIX, ENTITY, CROSSDOC)


def prompt_version() -> str:
    return PIPELINE_VERSION + "+" + ",".join(p.version for p in ALL)


def numbered_pairs(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"{i}. Q: {q} A: {a}" for i, (q, a) in enumerate(pairs, 1))


def retry_message(error: str) -> dict:
    return {
        "role": "user",
        "content": f"Your reply could not be used ({error}). Reply again with only the JSON "
        "object in the exact shape asked for, no other text.",
    }


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
