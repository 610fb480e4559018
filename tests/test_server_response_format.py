"""memo serve's /v1/chat/completions with response_format json_schema / json_object: over real HTTP, with the openai
SDK (its pydantic `parse` helper too), streamed and not, batched beside free requests, every reply follows the schema
although the tiny random model behind it writes garbage unconstrained. Refusals: test_server.py's REFUSALS."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel
from runtime_fixtures import varied_pack

from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig

openai = pytest.importorskip("openai")
jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("llguidance")

SEEKING = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["continue", "answer"]},
        "sub_questions": {"type": "array", "items": {"type": "string"}},
        "answer": {"type": "string"},
    },
    "required": ["decision", "sub_questions", "answer"],
    "additionalProperties": False,
}


class Candidate(BaseModel):
    name: str
    evidence: str


class Pinning(BaseModel):
    candidates: list[Candidate]
    entity_confirmed: bool
    confirmed_entity: str | None
    decision: Literal["continue", "exhaust"]


@pytest.fixture(scope="module")
def server(tiny_dir):
    cfg = ServerConfig(port=0, max_tokens=128)
    with MemoServer(Memory.load(varied_pack(tiny_dir)[1], threads=2), cfg) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def ask(server, client, question: str, **kw):
    return client.chat.completions.create(
        model=server.model_id, messages=[{"role": "user", "content": question}], max_tokens=96, **kw
    )


def test_json_schema_reply_validates(server, client):
    for temperature, seed in ((0.0, None), (1.0, 3), (1.5, 4)):
        r = ask(
            server,
            client,
            "Who founded Lumen Labs?",
            temperature=temperature,
            seed=seed,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "seeking", "schema": SEEKING, "strict": True},
            },
        )
        jsonschema.validate(json.loads(r.choices[0].message.content), SEEKING)
        assert r.choices[0].finish_reason == "stop"
        assert r.model_extra["memo"]["timings"]["grammar_s"] > 0


def test_openai_sdk_parses_a_pydantic_model(server, client):
    """The SDK's structured-output helper sends the model's strict schema and parses the reply into it."""
    r = client.chat.completions.parse(
        model=server.model_id,
        messages=[{"role": "user", "content": "Which company makes the Orbit X2?"}],
        max_tokens=96,
        response_format=Pinning,
    )
    assert isinstance(r.choices[0].message.parsed, Pinning)


def test_streamed_json_object_with_schema(server):
    """llama.cpp's form {"type": "json_object", "schema": ...}, streamed: the deltas join into the valid reply."""
    body = {
        "model": server.model_id,
        "messages": [{"role": "user", "content": "Where is Vell?"}],
        "max_tokens": 96,
        "stream": True,
        "response_format": {"type": "json_object", "schema": SEEKING},
    }
    text = ""
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    text += choice["delta"].get("content") or ""
    jsonschema.validate(json.loads(text), SEEKING)


def test_json_object_alone_is_any_object(server, client):
    r = ask(server, client, "What is 2+2?", response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_concurrent_constrained_and_free_requests(server, client):
    """Requests with schemas and without, at once: they share the batch; each constrained reply validates, each
    free one is what it is when asked alone."""
    free_alone = ask(server, client, "Name the river.").choices[0].message.content
    before = server.batcher.batches
    formats = [{"type": "json_object", "schema": SEEKING}, None] * 4

    def one(rf):
        kw = {"response_format": rf} if rf else {}
        return ask(server, client, "Name the river.", **kw).choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(one, formats))
    for rf, text in zip(formats, replies):
        if rf:
            jsonschema.validate(json.loads(text), SEEKING)
        else:
            assert text == free_alone
    assert server.batcher.batches - before < len(formats)  # some shared a batch
