"""memo serve: OpenAI-compatible API over the batching engine; openai client, 64 concurrent clients, auth, limits,
/v1/memo/ask with a scripted executive, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from openai_server import ScriptedServer
from runtime_fixtures import varied_pack

from memo_edge.executives import OpenAIExecutive
from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


@pytest.fixture(scope="module")
def server(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, max_tokens=64, max_body_bytes=50_000)) as srv:
        yield srv


def test_openai_client_chat_models_and_streaming(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == [server.model_id]
    q = "Who founded Lumen Labs?"
    r = client.chat.completions.create(model=server.model_id, messages=[{"role": "user", "content": q}],
                                       max_tokens=12)
    # a single user turn renders exactly as the memory prompt the model was trained on
    ref = server.engine.generate([server.engine.manifest.prompt.render(q)], max_new_tokens=12,
                                 stop=server.engine.manifest.prompt.stop)[0]
    assert r.choices[0].message.content == ref.text and r.usage.completion_tokens == ref.completion_tokens
    stream = client.chat.completions.create(model=server.model_id, messages=[{"role": "user", "content": q}],
                                            max_tokens=12, stream=True, stream_options={"include_usage": True})
    parts, finish, usage = [], None, None
    for ch in stream:
        if ch.choices:
            parts.append(ch.choices[0].delta.content or "")
            finish = ch.choices[0].finish_reason or finish
        if ch.usage:
            usage = ch.usage
    assert "".join(parts) == ref.text and finish == ref.finish_reason
    assert usage.completion_tokens == ref.completion_tokens


def test_64_concurrent_clients_are_batched_without_errors(server):
    n, results, errors = 64, {}, []
    before = server.batcher.batches

    def client(i):
        try:
            with httpx.Client(timeout=120) as c:
                r = c.post(server.url + "/v1/chat/completions", json={
                    "model": "x", "max_tokens": 8, "stream": i % 4 == 0,
                    "messages": [{"role": "user", "content": f"Question number {i % 8}?"}]})
                if r.status_code != 200:
                    errors.append((i, r.status_code, r.text[:200]))
                elif i % 4 == 0:
                    chunks = [json.loads(line[6:]) for line in r.text.splitlines()
                              if line.startswith("data: ") and line != "data: [DONE]"]
                    results[i] = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
                else:
                    results[i] = r.json()["choices"][0]["message"]["content"]
        except Exception as e:  # noqa: BLE001 - any failure counts
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == n
    # same question -> same greedy answer, whichever batch it landed in, streamed or not
    for i in range(n):
        assert results[i] == results[i % 8]
    batches = server.batcher.batches - before
    assert batches < n / 2, f"{batches} batches for {n} requests: not batched"


def test_limits_and_errors(server):
    url = server.url
    with httpx.Client(timeout=30) as c:
        r = c.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}],
                                                       "max_tokens": 10_000})
        assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]
        r = c.post(url + "/v1/chat/completions", content=b"x" * 60_000, headers={"Content-Type": "application/json"})
        assert r.status_code == 413
    with httpx.Client(timeout=30) as c:
        assert c.post(url + "/v1/chat/completions", content=b"{not json").status_code == 400
        assert c.post(url + "/v1/chat/completions", json={"messages": []}).status_code == 400
        assert c.post(url + "/v1/chat/completions", json={"messages": [{"role": "wizard", "content": "x"}]}).status_code == 400
        assert c.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}],
                                                          "temperature": 9}).status_code == 400
        long = "word " * (server.engine.context_length + 50)
        r = c.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": long}]})
        assert r.status_code == 400 and "context" in r.json()["error"]["message"]
        assert c.get(url + "/nope").status_code == 404
        assert c.post(url + "/v1/memo/ask", json={"question": ""}).status_code == 400
        h = c.get(url + "/healthz").json()
        assert h["status"] == "ok" and h["model"] == server.model_id


def test_queue_bound_gives_503_not_a_crash(pack):
    import time

    from memo_edge.runtime.batcher import Job

    cfg = ServerConfig(port=0, max_queue=2, max_batch=1)
    statuses = []
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        gate = threading.Event()
        # occupy the worker: this job's first token blocks until the gate opens
        srv.batcher.submit(Job(srv.chat.render([{"role": "user", "content": "hold"}]), 4,
                               on_token=lambda text, tid: gate.wait(30)))
        deadline = time.time() + 10
        while srv.batcher.pending and time.time() < deadline:
            time.sleep(0.01)

        def hit():
            r = httpx.post(srv.url + "/v1/chat/completions", timeout=60,
                           json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
            statuses.append((r.status_code, r.headers.get("retry-after")))

        ts = [threading.Thread(target=hit) for _ in range(6)]
        for t in ts:
            t.start()
        while len(statuses) < 4 and time.time() < deadline:  # the 4 that do not fit are refused at once
            time.sleep(0.01)
        gate.set()
        for t in ts:
            t.join()
        assert httpx.get(srv.url + "/healthz").status_code == 200
    assert sorted(s for s, _ in statuses) == [200, 200, 503, 503, 503, 503]
    assert all(ra == "1" for s, ra in statuses if s == 503)


def test_api_key_required_when_set(pack):
    cfg = ServerConfig(port=0, api_key="s3cret")
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        for path, method in (("/v1/models", "GET"), ("/healthz", "GET"), ("/v1/chat/completions", "POST")):
            r = httpx.request(method, srv.url + path, json=body if method == "POST" else None)
            assert r.status_code == 401, path
            r = httpx.request(method, srv.url + path, json=body if method == "POST" else None,
                              headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401, path
        ok = httpx.post(srv.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert "access-control-allow-origin" not in ok.headers  # no CORS unless configured


def test_cors_for_configured_origins(pack):
    cfg = ServerConfig(port=0, cors_origins=("tauri://localhost",))
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        pre = httpx.options(srv.url + "/v1/chat/completions", headers={"Origin": "tauri://localhost"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "tauri://localhost"
        assert "Authorization" in pre.headers["access-control-allow-headers"]
        r = httpx.get(srv.url + "/healthz", headers={"Origin": "tauri://localhost"})
        assert r.headers["access-control-allow-origin"] == "tauri://localhost"
        other = httpx.get(srv.url + "/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_memo_ask_endpoint_runs_the_protocol(pack):
    def script(body):
        user = body["messages"][1]["content"]
        if "Stage: GROUNDING" in user:
            return json.dumps({"grounding_questions": [{"question": "Who founded Lumen Labs?"}]})
        return json.dumps({"final_answer": "Ada Vell", "justification": "memory"})

    with ScriptedServer(script) as exe:
        ex = OpenAIExecutive(exe.url, model="scripted", max_retries=0)
        with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, protocol="single-turn"), executive=ex) as srv:
            r = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who founded Lumen Labs?", "trace": True},
                           timeout=60)
            direct = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who?", "protocol": "none"}, timeout=60)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["final_answer"] == "Ada Vell" and d["mode"] == "single-turn" and d["memory_calls"] == 1
    assert d["trace"][0]["kind"] == "start"
    assert direct.json()["mode"] == "none" and direct.json()["executive_calls"] == 0


def test_memo_serve_cli_stops_cleanly_on_sigterm(pack):
    env = {**os.environ, "MEMO_TEST_KEY": "k"}
    p = subprocess.Popen([sys.executable, "-c", "from memo_edge.cli import main; main()", "serve", str(pack),
                          "--port", "0", "--threads", "2", "--api-key-env", "MEMO_TEST_KEY"],
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stderr.readline()
        assert "memo serve:" in line and "API key required" in line, line
        url = line.split(" on ")[1].split(" ")[0]
        r = httpx.post(url + "/chat/completions", headers={"Authorization": "Bearer k"}, timeout=60,
                       json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        assert r.status_code == 200
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        assert "stopped" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
