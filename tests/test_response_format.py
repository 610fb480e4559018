"""Each stage's reply schema goes out as `response_format`; endpoints that refuse it are stepped down once each
(json_schema -> llama.cpp's json_object + schema -> none), and every reply's path is traced and counted.
Real OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from openai_server import Fault, ScriptedServer
from test_protocol import ScriptedMemory, ex, stage_of

from memo_edge.executives import CallableExecutive, bounded_schema
from memo_edge.protocol import REPLIES, STAGES, response_format, run_protocol, strict_schema

# Replies that obey each stage's schema to the letter (every property present, values on the enum lists).
OBEYING = {
    "grounding": {
        "grounding_questions": [
            {"question": "Which company built the Orbit X2?", "clue": "Orbit X2"},
            {"question": "Where was the Orbit X2 launched?", "clue": "launch"},
        ]
    },
    "entity_pinning": {
        "known_facts": ["Lumen Labs built the Orbit X2"],
        "candidates": [{"name": "Lumen Labs", "evidence": "built it"}],
        "entity_confirmed": True,
        "confirmed_entity": "Lumen Labs",
        "sub_questions": [],
        "decision": "continue",
    },
    "answer_seeking": {"decision": "answer", "sub_questions": [], "answer": "1998"},
    "final": {"final_answer": "1998", "justification": "the memory said so"},
}
# llama-cpp-python 0.3.36's server on a json_schema response_format: HTTP 500, pydantic's complaint in the message
LLAMA_CPP_REFUSAL = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or "
    "'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}]"
)


def obeying(body: dict):
    """A schema-obeying executive: the stage's reply, checked against the schema the request carried."""
    reply = OBEYING[stage_of(body)]
    rf = body.get("response_format")
    if rf is not None:
        schema = rf["json_schema"]["schema"] if rf["type"] == "json_schema" else rf["schema"]
        jsonschema.validate(reply, schema)
    return json.dumps(reply)


def formats(bodies: list[dict]) -> list[str | None]:
    return [(b.get("response_format") or {}).get("type") for b in bodies]


def test_schemas_are_strict_structured_output_schemas():
    allowed = {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "anyOf",
        "minItems",
        "maxItems",
    }

    def walk(node):
        assert set(node) <= allowed, set(node) - allowed
        if node.get("type") == "object":
            assert node["additionalProperties"] is False and node["required"] == list(node["properties"])
        if node.get("type") == "array":
            assert node["maxItems"] <= 6  # every list bounded: a grammar-constrained small model never stops one
        for sub in [*node.get("properties", {}).values(), *node.get("anyOf", []), node.get("items") or {}]:
            if sub:
                walk(sub)

    assert set(REPLIES) == set(STAGES)
    for stage in STAGES:
        rf = response_format(stage, 6)
        assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
        assert rf["json_schema"]["name"] == f"{stage}_reply"
        walk(rf["json_schema"]["schema"])
        jsonschema.validate(OBEYING[stage], strict_schema(REPLIES[stage]))  # the schema says what the models say
    decision = strict_schema(REPLIES["answer_seeking"])["properties"]["decision"]
    assert decision["enum"] == ["continue", "answer"]


def test_a_schema_obeying_executive_needs_no_lenient_reading_and_no_repair():
    with ScriptedServer(obeying) as srv:
        ans = run_protocol("When was the maker of the Orbit X2 founded?", ScriptedMemory({}), ex(srv))
        bodies = srv.requests
    assert ans.status == "ok" and ans.final_answer == "1998" and ans.entity == "Lumen Labs"
    assert [stage_of(b) for b in bodies] == list(STAGES)
    # every request carried its stage's schema, as OpenAI's structured-output form
    assert [b["response_format"] for b in bodies] == [response_format(s, 6) for s in STAGES]
    assert ans.executive_format == "json_schema"
    assert ans.executive_replies == dict(
        decisions=4, first_try=4, schema=4, lenient=0, unparsed=0, repairs=0, fallbacks=0
    )
    paths = [e["path"] for e in ans.trace if e["kind"] == "executive"]
    assert paths == ["schema"] * 4
    assert not [e for e in ans.trace if e["kind"] in ("executive_invalid", "response_format")]


def test_a_prose_reply_takes_the_lenient_reader_and_a_broken_one_a_repair_round():
    replies = {
        "grounding": ["Sure! " + json.dumps(OBEYING["grounding"])],  # valid JSON inside prose: lenient
        "entity_pinning": ["no json here", json.dumps(OBEYING["entity_pinning"])],  # unparsed, repaired
        "answer_seeking": [json.dumps(OBEYING["answer_seeking"])],
        "final": ["nothing", "still nothing"],  # unparsed twice: fallback
    }

    def reply(body):
        q = replies[stage_of(body)]
        return q.pop(0) if len(q) > 1 else q[0]

    with ScriptedServer(reply) as srv:
        ans = run_protocol("Q?", ScriptedMemory({}), ex(srv))
    assert ans.executive_replies == dict(
        decisions=4, first_try=2, schema=2, lenient=1, unparsed=3, repairs=2, fallbacks=1
    )
    trail = [(e["stage"], e.get("path") or e.get("next")) for e in ans.trace if e["kind"].startswith("executive")]
    assert trail == [
        ("grounding", "lenient"),
        ("entity_pinning", "repair"),
        ("entity_pinning", "schema"),
        ("answer_seeking", "schema"),
        ("final", "repair"),
        ("final", "fallback"),
    ]
    assert ans.status == "fallback"


def test_an_endpoint_refusing_json_schema_gets_llama_cpps_form_once_and_keeps_it():
    """llama-cpp-python's server refuses json_schema with a 500 naming response_format: that is a refusal (not a
    server error to retry), it is met once per executive, and every later request (in this run and the next one
    with the same executive) is sent in json_object + schema form."""

    def llama_cpp_like(body):
        rf = body.get("response_format") or {}
        if rf.get("type") == "json_schema":
            return Fault(status=500, message=LLAMA_CPP_REFUSAL)
        return obeying(body)

    executive = ex_retrying = None
    with ScriptedServer(llama_cpp_like) as srv:
        executive = ex_retrying = ex(srv, max_retries=2)
        first = run_protocol("When was the maker of the Orbit X2 founded?", ScriptedMemory({}), executive)
        n_first = len(srv.requests)
        second = run_protocol("And again?", ScriptedMemory({}), ex_retrying)
        bodies = srv.requests
    # one refused json_schema request (no retries of it), then the four stages in llama.cpp's form, twice
    assert formats(bodies) == ["json_schema"] + ["json_object"] * 4 + ["json_object"] * 4
    assert n_first == 5
    llama_form = bodies[1]["response_format"]
    assert llama_form["type"] == "json_object" and set(llama_form) == {"type", "schema"}
    # the grounding schema, every string 1-100 characters that JSON takes unescaped (a grammar closes them; strict
    # mode refuses lengths)
    item = llama_form["schema"]["properties"]["grounding_questions"]["items"]
    bounds = {"minLength": 1, "maxLength": 100, "pattern": r'^[^"\\\x00-\x1F]{1,100}$'}
    assert item["properties"]["question"] == {"type": "string", **bounds}
    assert _without(llama_form["schema"], bounds) == strict_schema(REPLIES["grounding"], 6)
    assert bodies[1]["messages"] == bodies[0]["messages"]  # the same request, in the other form
    assert first.executive_format == second.executive_format == "json_object"
    assert first.status == second.status == "ok" and first.final_answer == "1998"
    assert first.executive_replies["schema"] == 4 and first.executive_replies["repairs"] == 0
    refusals = [e for e in first.trace if e["kind"] == "response_format"]
    assert len(refusals) == 1 and "json_schema refused, next json_object" in refusals[0]["refused"]
    assert "HTTP 500" in refusals[0]["refused"] and "Input should be" in refusals[0]["refused"]
    assert not [e for e in second.trace if e["kind"] == "response_format"]
    assert executive.format_refusals == [refusals[0]["refused"]]


def _without(node, keys):
    if isinstance(node, list):
        return [_without(x, keys) for x in node]
    if not isinstance(node, dict):
        return node
    return {k: _without(v, keys) for k, v in node.items() if k not in keys}


def test_llama_cpps_form_keeps_strings_to_what_json_takes_unescaped():
    """llama-cpp-python's schema converter (0.3.36) lets raw control characters into a string, which no JSON
    parser takes (SmolLM2-135M wrote a newline into a known fact: an unparsed reply and a repair round); the
    llama.cpp form's pattern keeps them out, and means the same read as JSON Schema (the value) or as llama.cpp
    reads it (the text between the quotes)."""
    schema = bounded_schema(
        {"type": "object", "properties": {"s": {"type": "string"}, "short": {"type": "string", "maxLength": 5}}}
    )
    for ok in ("Lumen Labs", "Zoë founded it in 1998; see 'Orbit X2' (p. 3)", "x" * 100):
        jsonschema.validate({"s": ok}, schema)
    for bad in ("", "x" * 101, "line one\nline two", "tab\there", 'a "quote"', "back\\slash"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"s": bad}, schema)
    assert schema["properties"]["short"]["pattern"].endswith("{1,5}$")  # its own length, carried by the pattern
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert r'[^"\\\x00-\x1F]' in gbnf and "char ::=" not in gbnf  # the pattern's class, not the converter's char


def test_an_endpoint_refusing_response_format_is_asked_without_it():
    def plain_only(body):
        if "response_format" in body:
            return Fault(status=400, message="Unrecognized request argument supplied: response_format")
        return "Here you go: " + obeying(body)  # JSON in prose: the lenient reader still reads it

    with ScriptedServer(plain_only) as srv:
        ans = run_protocol("When was the maker of the Orbit X2 founded?", ScriptedMemory({}), ex(srv))
        bodies = srv.requests
    assert formats(bodies) == ["json_schema", "json_object", None, None, None, None]
    assert ans.executive_format == "text" and ans.status == "ok" and ans.final_answer == "1998"
    assert ans.executive_replies["lenient"] == 4 and ans.executive_replies["repairs"] == 0
    refused = [e["refused"] for e in ans.trace if e["kind"] == "response_format"]
    assert [r.split(":")[0] for r in refused] == [
        "json_schema refused, next json_object",
        "json_object refused, next text",
    ]


def test_no_executive_schema_sends_no_response_format():
    """--no-executive-schema (ExecutiveConfig.executive_schema False): the endpoint is never sent a schema, the
    replies are read leniently, and the run reports the text form without any refusal."""
    from memo_edge.runtime.config import ExecutiveConfig
    from memo_edge.runtime.executives import from_config

    with ScriptedServer(lambda body: "Sure: " + obeying(body)) as srv:
        cfg = ExecutiveConfig(executive=srv.url, executive_schema=False, executive_retries=0)
        ans = run_protocol("When was the maker of the Orbit X2 founded?", ScriptedMemory({}), from_config(cfg))
        bodies = srv.requests
    assert formats(bodies) == [None] * 4
    assert ans.executive_format == "text" and ans.status == "ok" and ans.final_answer == "1998"
    assert ans.executive_replies["lenient"] == 4 and ans.executive_replies["schema"] == 0
    assert not [e for e in ans.trace if e["kind"] == "response_format"]


def test_a_server_error_that_does_not_name_response_format_is_retried_not_a_refusal():
    seen = []

    def flaky(body):
        seen.append(body)
        if len(seen) == 1:
            return Fault(status=500, message="CUDA out of memory")  # a server error, whatever the request asked
        return obeying(body)

    with ScriptedServer(flaky) as srv:
        ans = run_protocol("Q?", ScriptedMemory({}), ex(srv, max_retries=1))
    assert formats(seen)[:2] == ["json_schema", "json_schema"]  # retried as sent
    assert ans.executive_format == "json_schema" and ans.status == "ok"


@pytest.mark.parametrize("takes_format", [True, False])
def test_callables_get_the_schema_when_they_ask_for_it(takes_format):
    got = []

    def with_format(messages, temperature, max_tokens, response_format=None):
        got.append(response_format)
        return json.dumps(OBEYING["grounding"] if "GROUNDING" in messages[1]["content"] else OBEYING["final"])

    def without(messages, temperature, max_tokens):
        got.append(None)
        return json.dumps(OBEYING["grounding"] if "GROUNDING" in messages[1]["content"] else OBEYING["final"])

    fn = with_format if takes_format else without
    ans = run_protocol("Q?", ScriptedMemory({}), CallableExecutive(fn), mode="single-turn")
    assert ans.status == "ok" and ans.executive_format is None  # a callable does not say what it honoured
    expected = [response_format("grounding", 6), response_format("final", 6)] if takes_format else [None, None]
    assert got == expected


def test_an_executive_object_without_the_parameter_still_works():
    class OldExecutive:
        def complete(self, messages, temperature, max_tokens):
            return json.dumps(OBEYING["grounding"] if "GROUNDING" in messages[1]["content"] else OBEYING["final"])

    ans = run_protocol("Q?", ScriptedMemory({}), OldExecutive(), mode="single-turn")
    assert ans.status == "ok" and ans.executive_replies["schema"] == 2
