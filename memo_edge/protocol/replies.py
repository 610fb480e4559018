"""The executive's reply at each stage, as pydantic models, and their JSON schemas for `response_format`.

The schemas are sent to every executive (memo_edge.executives.Executive.complete): an OpenAI-compatible endpoint
gets them as `{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}` and constrains decoding
to them; a local executive can compile them into a grammar. They keep to the subset that strict structured output
accepts everywhere: every object closed (`additionalProperties: false`) with all its properties required (a value
that may be missing is nullable instead), types, `enum`, `items`, `anyOf` for null, `minItems`/`maxItems`; no
`$ref`, titles, defaults, formats or string lengths (OpenAI's strict mode refuses some, llama.cpp's grammar
converter and others ignore some; llama.cpp's own form adds lengths and a character pattern to every string:
memo_edge.executives.bounded_schema). Every list is bounded: a small model decoding under a grammar otherwise writes
list items until its token budget runs out, and the cut reply no longer parses (seen with SmolLM2-135M on
llama.cpp: 1,600 characters of sub-questions and no `decision`). What the schema cannot say (an answer to go with
"decision": "answer") the stage readers in memo_edge.protocol.reading check, as they do for replies read
leniently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NOTES = 4  # known_facts and candidates an executive may list per reply (the state keeps 20 notes)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GroundingQuestion(_Closed):
    question: str
    clue: str


class GroundingReply(_Closed):
    grounding_questions: list[GroundingQuestion] = Field(min_length=1)


class Candidate(_Closed):
    name: str
    evidence: str


class TaggedQuestion(_Closed):
    question: str
    candidate: str | None


class PinningReply(_Closed):
    known_facts: list[str] = Field(max_length=NOTES)
    candidates: list[Candidate] = Field(max_length=NOTES)
    entity_confirmed: bool
    confirmed_entity: str | None
    sub_questions: list[TaggedQuestion]
    decision: Literal["continue", "exhaust"]


class SeekingReply(_Closed):
    decision: Literal["continue", "answer"]
    sub_questions: list[str]
    answer: str | None


class FinalReply(_Closed):
    final_answer: str
    justification: str


REPLIES: dict[str, type[BaseModel]] = {
    "grounding": GroundingReply,
    "entity_pinning": PinningReply,
    "answer_seeking": SeekingReply,
    "final": FinalReply,
}


QUESTION_LISTS = ("grounding_questions", "sub_questions")  # bounded by the run's max_sub_questions


def strict_schema(model: type[BaseModel], max_questions: int | None = None) -> dict:
    """The model's JSON schema in the strict subset: $refs inlined, titles dropped, every object closed with all its
    properties required; question lists hold at most `max_questions` items when it is given."""
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})

    def walk(node):
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
        out = {k: walk(v) for k, v in node.items() if k not in ("title", "default")}
        if out.get("type") == "object":
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
            for name in QUESTION_LISTS:
                if name in out["properties"] and max_questions:
                    out["properties"][name]["maxItems"] = max_questions
        return out

    return walk(raw)


def response_format(stage: str, max_questions: int | None = None) -> dict:
    """The `response_format` a stage's request carries (OpenAI's structured-output form)."""
    schema = strict_schema(REPLIES[stage], max_questions)
    return {"type": "json_schema", "json_schema": {"name": f"{stage}_reply", "schema": schema, "strict": True}}


def schema_reply(stage: str, text: str) -> dict | None:
    """The reply as a plain dict when it is exactly one schema-valid JSON object (what a constrained executive
    writes), else None (the caller reads it leniently)."""
    try:
        return REPLIES[stage].model_validate_json(text.strip()).model_dump()
    except (ValidationError, ValueError):
        return None
