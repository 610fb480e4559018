"""A malformed LLM reply never ends a run: `jsonreply` reads any reply in linear time and never raises past
ReplyError, so the executive falls back (`memo ask` exit 3, `/v1/memo/ask` a JSON answer) and the generator counts
the item failed. Real 127.0.0.1 OpenAI-compatible server (tests/openai_server.py), real pack, real `memo`."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import BaseModel
from openai_server import ScriptedServer
from runtime_fixtures import varied_pack
from test_executive_failures import memo
from test_synthesis_failures import corpus, is_drossel_entity, synth  # noqa: F401 (corpus is a fixture)

from memo_edge.executives import OpenAIExecutive
from memo_edge.jsonreply import ReplyError, extract_json, parse_reply
from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig
from memo_edge.synthesis.scripted import scripted_reply

HOSTILE = {
    "400 open braces": "{" * 400,
    "20,000 open braces": "{" * 20_000,
    "nested 10,000 deep": "{" * 10_000 + "}" * 10_000,
    "20,000 open brackets": "[" * 20_000,
    "deep arrays closed": "[" * 20_000 + "]" * 20_000,
    "5,000 unclosed think": "<think>" * 5_000,
    "keys nested 5,000 deep": '{"a":' * 5_000,
}


class FinalAnswer(BaseModel):
    final_answer: str


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


@pytest.mark.parametrize("reply", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_replies_are_a_reply_error_in_linear_time(reply):
    t = time.process_time()
    with pytest.raises(ReplyError):
        extract_json(reply)
    with pytest.raises(ReplyError):
        parse_reply(reply, FinalAnswer)
    # the old scan was quadratic: 8,000 characters cost 12.7 s of CPU; linear work here is a few milliseconds
    assert time.process_time() - t < 0.5


def test_an_object_after_hostile_noise_is_still_found():
    assert extract_json("{" * 5_000 + ' {"a": 1}') == {"a": 1}
    assert extract_json("<think>" * 3_000 + '{"a": 2}') == {"a": 2}
    assert extract_json('He said "hi {"a": 3} and left') == {"a": 3}


@pytest.mark.slow
def test_cli_ask_with_a_hostile_executive_reply_exits_3(pack):
    with ScriptedServer(lambda body: "{" * 400) as exe:
        p = memo("ask", pack, "Who founded Lumen Labs?", "--executive", exe.url, "--threads", "2")
    assert p.returncode == 3, p.stderr[-2000:]
    assert p.stdout.strip() and "Traceback" not in p.stderr
    assert any(ln.startswith("warning:") and "fallback" in ln for ln in p.stderr.splitlines())


def test_memo_ask_endpoint_with_a_hostile_executive_reply_answers_json(pack):
    with ScriptedServer(lambda body: "{" * 400) as exe:
        ex = OpenAIExecutive(exe.url, model="scripted", max_retries=0)
        with MemoServer(
            Memory.load(pack, threads=2), ServerConfig(port=0, protocol="single-turn"), executive=ex
        ) as srv:
            r = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who founded Lumen Labs?"}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "fallback"


@pytest.mark.slow
def test_synthesize_counts_a_hostile_generator_reply_as_a_failed_item(tmp_path, corpus):  # noqa: F811
    out = tmp_path / "r.jsonl"

    def hostile(body):
        return "{" * 400 if is_drossel_entity(body) else scripted_reply(body)

    with ScriptedServer(hostile) as srv:
        p = synth(corpus, out, srv.url, "--max-retries", "0")
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert p.returncode == 2 and len(errors) == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert "lost after retries" in errors[0]
    card = json.loads((tmp_path / "r.card.json").read_text())
    assert card["failed_items"] and all(f["step"] == "entity" for f in card["failed_items"])
    assert out.is_file()
