"""Hostile values are one refusal each (an `error:` line with exit 2, a 400, an MCP error), never a traceback:
negative seeds, malformed signature.json, a structured protocol with no executive; terminal escapes from model
text never reach the terminal; a failed `memo keygen` leaves no empty key. Real packs, real `memo` processes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import anyio
import httpx
import pytest
from openai_server import ScriptedServer
from runtime_fixtures import varied_pack
from test_cli_errors import assert_one_error, cli
from test_executive_failures import memo as memo_process

from memo_edge.errors import MemoError, PackError
from memo_edge.runtime import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


def test_a_negative_seed_is_one_refusal(pack):
    m = Memory.load(pack, threads=2)
    with pytest.raises(MemoError, match="seed: -1"):
        m.engine.generate(["Who founded Lumen Labs?"], max_new_tokens=4, temperature=0.7, seed=-1)
    p = cli("ask", str(pack), "Who founded Lumen Labs?", "--executive", "none", "--seed", "-1")
    assert_one_error(p, "seed")


@pytest.mark.parametrize("doc", ["[]", "null", '"x"', "7", '{"format": "memo-pack-signature", "algorithm": "ed25519"}'])
def test_a_malformed_signature_json_is_one_refusal(pack, tmp_path, doc):
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    (copy / "signature.json").write_text(doc)
    with pytest.raises(PackError, match="signature.json: unreadable"):
        Memory.load(copy, threads=2)
    assert_one_error(cli("ask", str(copy), "Who founded Lumen Labs?", "--executive", "none"), "signature.json")


def test_a_named_protocol_without_an_executive_is_refused_the_same_everywhere(pack):
    """`memo ask --protocol structured`, `/v1/memo/ask` {"protocol": "structured"} and MCP mode structured, with no
    executive: one refusal with the same words, never a quiet answer in mode none."""
    expected = "protocol 'structured': needs an executive LLM"
    p = cli("ask", str(pack), "Who founded Lumen Labs?", "--executive", "none", "--protocol", "structured")
    assert_one_error(p, expected)
    p = cli("ask", str(pack), "Who founded Lumen Labs?", "--executive", "none", "--protocol", "single-turn")
    assert_one_error(p, "protocol 'single-turn': needs an executive LLM")
    ok = cli("ask", str(pack), "Who founded Lumen Labs?", "--executive", "none")  # the default needs none
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr

    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, protocol="structured")) as srv:
        r = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who?", "protocol": "structured"}, timeout=60)
        plain = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who?"}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "protocol", r.text
    assert expected in r.json()["error"]["message"]
    assert plain.status_code == 200 and plain.json()["mode"] == "none"

    pytest.importorskip("mcp")  # the [mcp] extra; the CLI and HTTP checks above run without it
    from memo_edge.runtime.mcp_server import build_server  # here: needs the optional mcp package

    mcp_server = build_server(Memory.load(pack, threads=2))

    async def call():
        return await mcp_server.call_tool("ask_memory", {"question": "Who?", "mode": "structured"})

    with pytest.raises(Exception, match=re.escape(expected)):
        anyio.run(call)


ESCAPES = "\x1b]0;pwned\x07\x1b[2K\x1b[31m\r\x9b1m"


def test_terminal_escapes_from_model_text_never_reach_the_terminal(pack, tmp_path):
    def script(body):
        user = body["messages"][1]["content"]
        if "Stage: GROUNDING" in user:
            return json.dumps({"grounding_questions": [{"question": f"Who founded{ESCAPES} Lumen Labs?"}]})
        return json.dumps({"final_answer": f"Ada{ESCAPES} Vell", "justification": f"memory{ESCAPES}"})

    trace = tmp_path / "t.jsonl"
    with ScriptedServer(script) as exe:
        p = memo_process(
            "ask", pack, "Who founded Lumen Labs?", "--executive", exe.url, "--protocol", "single-turn",
            "--threads", "2", "--trace", trace,
        )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Ada Vell" in p.stdout and "FINAL" in p.stderr  # the answer and the trace were printed, cleaned
    for out in (p.stdout, p.stderr):
        assert not any(c in out for c in "\x1b\x07\r\x9b"), repr(out[-500:])
    assert "\\u001b" in trace.read_text()  # the file keeps what the executive wrote (JSON-escaped)
    shown = memo_process("ask", "--show-trace", trace)
    assert shown.returncode == 0 and "FINAL" in shown.stdout, shown.stderr
    assert not any(c in shown.stdout for c in "\x1b\x07\r\x9b"), repr(shown.stdout[-500:])


def test_a_long_stop_string_is_refused_by_the_engine(pack):
    m = Memory.load(pack, threads=2)
    with pytest.raises(MemoError, match="stop: a stop string of 120000 characters"):
        m.engine.generate(["Who founded Lumen Labs?"], max_new_tokens=4, stop=["x" * 120_000])
    assert m.engine.generate(["Who founded Lumen Labs?"], max_new_tokens=4, stop=["x" * 256])[0].text is not None


def _edited_pack(pack: Path, tmp_path: Path, model: dict | None = None, tokenizer: bytes | None = None) -> Path:
    """A copy of `pack` with manifest model fields changed and/or another tokenizer.json (its hash updated: this
    is a pack built wrong, not a damaged one)."""
    copy = Path(shutil.copytree(pack, tmp_path / "edited"))
    m = json.loads((copy / "manifest.json").read_text())
    m["model"].update(model or {})
    if tokenizer is not None:
        (copy / "tokenizer.json").write_bytes(tokenizer)
        m["sha256"]["tokenizer.json"] = hashlib.sha256(tokenizer).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(m, indent=2))
    return copy


FOREIGN_TOKENIZER = json.dumps(
    {
        "version": "1.0",
        "model": {"type": "WordLevel", "vocab": {f"w{i}": i for i in range(60_000)}, "unk_token": "w0"},
        "pre_tokenizer": {"type": "Whitespace"},
    }
).encode()
BAD_PACKS = {
    "num_layers 0": ({"num_layers": 0}, None, "num_layers"),
    "num_layers 1": ({"num_layers": 1}, None, "num_layers"),
    "kv heads": ({"num_key_value_heads": 5}, None, "num_key_value_heads"),
    "head_dim": ({"head_dim": 7}, None, "head_dim"),
    "vocab_size": ({"vocab_size": 100}, None, "vocab_size"),
    "context 10**12": ({"context_length": 10**12}, None, "context_length"),
    "context 10**9": ({"context_length": 10**9}, None, "context_length"),
    "empty tokenizer": ({}, b"", "tokenizer.json"),
    "foreign tokenizer": ({}, FOREIGN_TOKENIZER, "tokenizer.json"),
}


@pytest.mark.parametrize("model,tokenizer,named", BAD_PACKS.values(), ids=BAD_PACKS.keys())
def test_a_manifest_that_disagrees_with_the_model_is_one_refusal(pack, tmp_path, model, tokenizer, named):
    bad = _edited_pack(pack, tmp_path, model, tokenizer)
    with pytest.raises(PackError, match=named):
        Memory.load(bad, threads=2)
    assert_one_error(cli("ask", str(bad), "Who founded Lumen Labs?", "--executive", "none"), named)
