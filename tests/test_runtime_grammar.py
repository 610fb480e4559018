"""Grammar-constrained decoding: a tiny random model, which writes garbage unconstrained, returns JSON that parses and
validates against the response_format's schema, alone and batched beside unconstrained rows, within tight budgets."""

from __future__ import annotations

import json
import sys
from typing import Literal

import pytest
from pydantic import BaseModel
from runtime_fixtures import varied_pack

from memo_edge.errors import MemoError
from memo_edge.runtime.engine import Engine
from memo_edge.runtime.grammar import response_schema

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("llguidance")

# shaped like a protocol stage reply: an enum, a list of objects of strings, a nullable string, a boolean, a number
STAGE = {
    "type": "object",
    "properties": {
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "evidence": {"type": "string"}},
                "required": ["name", "evidence"],
                "additionalProperties": False,
            },
        },
        "confirmed": {"type": "boolean"},
        "entity": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "score": {"type": "integer"},
        "decision": {"type": "string", "enum": ["continue", "exhaust"]},
        "answer": {"type": "string"},
    },
    "required": ["candidates", "confirmed", "entity", "score", "decision", "answer"],
    "additionalProperties": False,
}
SEEKING = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["continue", "answer"]},
        "sub_questions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["decision", "sub_questions"],
    "additionalProperties": False,
}


def as_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}


@pytest.fixture(scope="module")
def engine(tiny_dir):
    return Engine(varied_pack(tiny_dir)[1], threads=2)


def prompt(engine, q="Who founded Lumen Labs?"):
    return engine.manifest.prompt.render(q)


def valid(text: str, schema: dict) -> dict:
    obj = json.loads(text)
    jsonschema.validate(obj, schema)
    return obj


def test_response_format_forms():
    assert response_schema(None) is None
    assert response_schema({"type": "text"}) is None
    assert response_schema({"type": "json_object"}) == {"type": "object"}
    assert response_schema({"type": "json_object", "schema": SEEKING}) == SEEKING  # llama.cpp's form
    assert response_schema(as_format(SEEKING)) == SEEKING
    for bad, where in [
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, "response_format.json_schema.schema"),
        ({"type": "json_object", "schema": "{}"}, "response_format.schema"),
        ("json", "response_format"),
    ]:
        with pytest.raises(MemoError, match=f"^{where}"):
            response_schema(bad)


def test_unconstrained_tiny_model_writes_no_json(engine):
    """What the constraint is up against: the same rows without it are not JSON."""
    outs = engine.generate([prompt(engine)] * 3, max_new_tokens=60, temperature=[0.0, 1.0, 1.0], seed=[0, 1, 2])
    for c in outs:
        with pytest.raises(ValueError):
            json.loads(c.text)


@pytest.mark.parametrize("schema", [STAGE, SEEKING], ids=["stage", "seeking"])
def test_every_constrained_reply_parses_and_validates(engine, schema):
    """Greedy and sampled, at budgets from just above the schema's closing length to generous: always valid JSON
    (the random model never closes a string by itself: the wrap-up does) and the row ends there."""
    rf = as_format(schema)
    n = 6
    for budget in (40, 90):
        outs = engine.generate(
            [prompt(engine, q) for q in ("Who?", "Where is Vell?", "Name the river.", "When?", "Why?", "How?")],
            max_new_tokens=budget,
            temperature=[0.0, 0.7, 1.0, 1.0, 1.5, 2.0],
            seed=list(range(n)),
            response_format=rf,
        )
        for c in outs:
            valid(c.text, schema)
            assert c.finish_reason == "stop" and c.completion_tokens <= budget
            assert c.grammar_s > 0


def test_constrained_rows_beside_free_rows(engine):
    """One batch, rows with different schemas and none: each constrained row is valid, and the free rows' tokens are
    exactly what they are without any constrained row beside them."""
    ps = [prompt(engine, q) for q in ("Who founded Lumen Labs?", "What is 2+2?", "When?", "Name the river.")]
    formats = [as_format(STAGE), None, {"type": "json_object", "schema": SEEKING}, None]
    mixed = engine.generate(ps, max_new_tokens=70, response_format=formats)
    alone = engine.generate([ps[1], ps[3]], max_new_tokens=70)
    valid(mixed[0].text, STAGE)
    valid(mixed[2].text, SEEKING)
    assert [mixed[1].token_ids, mixed[3].token_ids] == [c.token_ids for c in alone]
    assert mixed[1].grammar_s == 0


def test_json_object_without_schema_is_any_object(engine):
    c = engine.generate([prompt(engine)], max_new_tokens=50, response_format={"type": "json_object"})[0]
    assert isinstance(valid(c.text, {"type": "object"}), dict)


def test_streamed_text_is_the_reply(engine):
    pieces = []
    c = engine.generate(
        [prompt(engine)],
        max_new_tokens=50,
        response_format=as_format(SEEKING),
        on_token=lambda i, text, tid: pieces.append(text),
    )[0]
    assert "".join(pieces) == c.text
    valid(c.text, SEEKING)


def test_a_schema_the_grammar_cannot_use_is_a_named_error(engine):
    with pytest.raises(MemoError, match="^response_format"):
        engine.generate(
            [prompt(engine)], response_format=as_format({"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}})
        )


def test_without_llguidance_the_error_names_the_extra(tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "llguidance", None)  # import llguidance -> ImportError
    e = Engine(varied_pack(tiny_dir)[1], threads=1)
    assert e.generate([prompt(e)], max_new_tokens=3)[0].completion_tokens == 3  # unconstrained needs no llguidance
    with pytest.raises(MemoError, match=r"memo-edge\[grammar\]"):
        e.generate([prompt(e)], response_format={"type": "json_object"})


class Candidate(BaseModel):
    name: str
    evidence: str


class PinningReply(BaseModel):
    """A protocol stage reply as a pydantic model (the protocol's own models are made the same way)."""

    known_facts: list[str]
    candidates: list[Candidate]
    entity_confirmed: bool
    confirmed_entity: str | None
    decision: Literal["continue", "exhaust"]


def test_local_executive_decodes_under_the_stage_schema(tiny_dir):
    """Executive.complete(..., response_format): both forms the protocol sends give replies that the stage's pydantic
    model accepts, from a random model whose free replies are not JSON."""
    from memo_edge.runtime.executives import make_executive

    schema = PinningReply.model_json_schema()
    messages = [
        {"role": "system", "content": "You are the executive. Reply with ONE JSON object."},
        {"role": "user", "content": "Question: who founded Lumen Labs? Stage: ENTITY PINNING."},
    ]
    forms = [
        {"type": "json_schema", "json_schema": {"name": "pinning", "schema": schema, "strict": True}},
        {"type": "json_object", "schema": schema},
    ]
    for seed in range(2):
        local = make_executive(f"local:{varied_pack(tiny_dir)[1]}", seed=seed)
        with pytest.raises(ValueError):
            json.loads(local.complete(messages, 1.0, 120))
        for rf in forms:
            for temperature in (0.0, 1.0):
                PinningReply.model_validate_json(local.complete(messages, temperature, 120, response_format=rf))
                assert local.accepted_format == rf["type"]
        free = make_executive(f"local:{varied_pack(tiny_dir)[1]}", seed=seed, schema=False)  # --no-executive-schema
        with pytest.raises(ValueError):
            json.loads(free.complete(messages, 1.0, 120, response_format=forms[0]))
        assert free.accepted_format == "text"
