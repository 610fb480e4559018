"""memo mcp: the MCP SDK's own client starts `memo mcp PACK` as a subprocess and talks to it over stdio, as a
desktop assistant does: tools listed, ask_memory in mode none (the memory's own answer) and structured (a scripted
executive on a real OpenAI-compatible HTTP server, configured through the environment), memory_info."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import anyio
import httpx
import pytest
from openai_server import ScriptedServer
from runtime_fixtures import varied_pack

from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import model_name

mcp = pytest.importorskip("mcp")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


def memo_mcp(pack, env: dict | None = None, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-c", "from memo_edge.cli import main; main()", "mcp", str(pack), "--threads", "2", *args],
        env={**os.environ, **(env or {})},
    )


def run(coro_fn):
    return anyio.run(coro_fn)


@pytest.mark.slow
def test_mcp_stdio_tools_with_the_sdk_client(pack):
    mem = Memory.load(pack, threads=2)
    q = "Who founded Lumen Labs?"
    direct = mem.answer([q], max_new_tokens=mem.defaults.max_new_tokens)[0] or "I don't know."

    async def main():
        async with Client(memo_mcp(pack, {"MEMO_EXECUTIVE": "none"}), read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"ask_memory", "memory_info"}
            assert tools["ask_memory"].input_schema["required"] == ["question"]
            assert tools["ask_memory"].annotations.read_only_hint is True
            r = await client.call_tool("ask_memory", {"question": q, "mode": "none"})
            assert not r.is_error, r.content
            assert r.structured_content["answer"] == direct and r.structured_content["mode"] == "none"
            assert direct in r.content[0].text
            info = await client.call_tool("memory_info", {})
            assert info.structured_content["name"] == model_name(mem.engine.pack)
            assert info.structured_content["modes"] == ["none"]
            assert info.structured_content["context_length"] == mem.engine.context_length
            # structured without an executive: a clear tool error, not a crash or a silent fallback
            bad = await client.call_tool("ask_memory", {"question": q, "mode": "structured"})
            assert bad.is_error and "--executive" in bad.content[0].text
            bad = await client.call_tool("ask_memory", {"question": ""})
            assert bad.is_error

    run(main)


@pytest.mark.slow
def test_mcp_structured_mode_uses_the_executive_from_the_environment(pack):
    def script(body):
        user = body["messages"][1]["content"]
        if "Stage: GROUNDING" in user:
            return json.dumps({"grounding_questions": [{"question": "Who founded Lumen Labs?"}]})
        if "Stage: ENTITY PINNING" in user:
            return json.dumps(
                {"entity_confirmed": True, "confirmed_entity": "Lumen Labs", "sub_questions": [], "decision": "exhaust"}
            )
        if "Stage: ANSWER SEEKING" in user:
            return json.dumps({"decision": "answer", "answer": "Ada Vell"})
        return json.dumps({"final_answer": "Ada Vell", "justification": "memory"})

    with ScriptedServer(script) as exe:
        env = {"MEMO_EXECUTIVE": exe.url, "MEMO_EXECUTIVE_MODEL": "scripted"}

        async def main():
            async with Client(memo_mcp(pack, env), read_timeout_seconds=120) as client:
                r = await client.call_tool("ask_memory", {"question": "Who founded Lumen Labs?"})
                assert not r.is_error, r.content
                d = r.structured_content
                assert d["answer"] == "Ada Vell" and d["mode"] == "structured" and d["status"] == "ok"
                assert d["executive_calls"] >= 3
                info = await client.call_tool("memory_info", {})
                assert info.structured_content["modes"] == ["none", "structured"]
                assert "scripted" in info.structured_content["executive"]

        run(main)
    assert any(req.get("model") == "scripted" for req in exe.requests)


@pytest.mark.slow
def test_mcp_streamable_http_on_loopback(pack):
    with socket.socket() as s:  # a free port (the SDK's runner takes a number, not a socket)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from memo_edge.cli import main; main()",
            "mcp",
            str(pack),
            "--threads",
            "2",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}/mcp" in p.stderr.readline()
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        async def main():
            async with Client(url, read_timeout_seconds=120) as client:
                r = await client.call_tool("ask_memory", {"question": "Who founded Lumen Labs?"})
                assert not r.is_error and r.structured_content["mode"] == "none"

        run(main)
        # DNS rebinding: the SDK refuses a foreign Host on loopback
        r = httpx.post(
            url,
            headers={
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            content=b"{}",
        )
        assert r.status_code in (400, 403, 421), r.status_code
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_serve_and_mcp_modules_stay_torch_free():
    code = (
        "import sys, memo_edge.runtime.server, memo_edge.runtime.mcp_server, memo_edge.cli.mcp\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'onnx')\n"
        "             or m.startswith(('memo_edge.training', 'memo_edge.export')))\n"
        "print(bad)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


@pytest.mark.slow
def test_mcp_stdio_answers_every_unreadable_message_with_a_json_rpc_error(pack):
    """The SDK drops what it cannot read: the client would wait forever for that id."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    lines = [
        json.dumps(init),
        '{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        '{"jsonrpc": "1.0", "id": 5, "method": "tools/list"}',  # wrong version
        '{"jsonrpc": "2.0", "id": 6}',  # no method
        '{"jsonrpc": "2.0", "id": 8, "method": "tools/list", "params": {"x": "\\ud800"}}',  # lone surrogate
        '{"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"x": ' + "[" * 50_000 + "]" * 50_000 + "}}",
        "not json at all",
        '{"jsonrpc": "2.0", "id": 7, "method": "tools/list"}',  # still served after all that
    ]
    p = subprocess.Popen(
        [sys.executable, "-c", "from memo_edge.cli import main; main()", "mcp", str(pack), "--threads", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        p.stdin.write("\n".join(lines) + "\n")
        p.stdin.flush()
        replies = []
        deadline = time.time() + 60
        while time.time() < deadline and not any(r.get("id") == 7 for r in replies):
            replies.append(json.loads(p.stdout.readline()))
    finally:
        p.kill()
        p.wait()
    errors = {r["id"]: r["error"]["code"] for r in replies if "error" in r}
    assert errors == {5: -32600, 6: -32600, 8: -32600, 9: -32600, None: -32700}, replies
    assert next(r for r in replies if r.get("id") == 7)["result"]["tools"]


def _described_pack(pack, root):
    """A copy of `pack` whose manifest records a corpus (as training's provenance does) and export metrics with a
    recall figure; the files the manifest hashes are unchanged, so it opens verified."""
    shutil.copytree(pack, root)
    doc = json.loads((root / "manifest.json").read_text())
    titles = [f"Document {i}" for i in range(14)]
    doc["provenance"] |= {
        "corpus": {"documents": 14, "titles": titles},
        "counts": {"reflections": 321, "by_type": {"fact": 321}},
    }
    doc["metrics"] |= {
        "recall": {"n": 32, "fp32": {"exact": 0.9}},
        "parity": {"rows": [{"prompt": f"p{i}", "equal": True} for i in range(40)]},
    }
    doc["created_at"] = "2026-12-06T10:00:00+00:00"
    (root / "manifest.json").write_text(json.dumps(doc, indent=2))
    return root


def test_corpus_summary_is_one_short_line():
    from memo_edge.runtime.mcp_server import corpus_summary

    class M:
        provenance = {"corpus": {"documents": 40, "titles": ["T" * 200] * 40}, "counts": {"reflections": 9}}
        created_at = "2026-12-06T10:00:00+00:00"

    line = corpus_summary(M)
    assert line.startswith("Memory of 40 documents (titles: ") and len(line) <= 300 and "\n" not in line
    M.provenance, M.created_at = {}, ""
    assert corpus_summary(M) == "Memory of an unrecorded corpus"


@pytest.mark.slow
def test_mcp_tools_say_what_the_memory_covers(pack, tmp_path):
    """An assistant decides when to call ask_memory from its description: it names the corpus. memory_info is a
    summary, the export-metrics block only on request."""
    described = _described_pack(pack, tmp_path / "pack")

    async def main():
        async with Client(memo_mcp(described, {"MEMO_EXECUTIVE": "none"}), read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            desc = tools["ask_memory"].description
            assert "Memory of 14 documents (titles: Document 0, Document 1," in desc, desc
            assert "Document 9, ..." in desc and "Document 10" not in desc and "built 2026-12-06" in desc
            info = (await client.call_tool("memory_info", {})).structured_content
            assert info["corpus"] in desc and info["reflections"] == 321
            assert info["recall"] == {"n": 32, "fp32": {"exact": 0.9}}
            assert info["pack_id"].startswith("sha256:") and info["precision"]
            assert info.get("metrics") is None and len(json.dumps(info)) < 2000
            full = (await client.call_tool("memory_info", {"full": True})).structured_content
            assert len(full["metrics"]["parity"]["rows"]) == 40

    run(main)
