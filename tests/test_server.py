"""memo serve: OpenAI-compatible API over the batching engine; openai client, 64 concurrent clients, auth, limits,
OpenAI-shaped refusals, model name, the trained memory prompt, disconnects and deadlines, /v1/memo/ask with a
scripted executive, clean SIGTERM. Raw-socket attacks on the HTTP layer: test_server_http.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from openai_server import Fault, ScriptedServer
from runtime_fixtures import varied_pack

from memo_edge.executives import OpenAIExecutive
from memo_edge.runtime.batcher import Cancelled, Job
from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig, memory_messages, model_name


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


@pytest.fixture(scope="module")
def server(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, max_tokens=64, max_body_bytes=50_000)) as srv:
        yield srv


def chat(srv, content="hi", **kw) -> dict:
    return {"model": srv.model_id, "messages": [{"role": "user", "content": content}], "max_tokens": 4, **kw}


def wait_until(condition, timeout: float = 10) -> bool:
    """Poll a condition of the server's state (no fixed sleeps: the test goes on as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def hold_worker(srv) -> tuple[threading.Event, Job]:
    """Occupy the batcher's worker until the returned gate is set (its first token waits on the gate)."""
    gate, started = threading.Event(), threading.Event()

    def hold(text, tid):
        started.set()
        gate.wait(30)

    job = srv.batcher.submit(Job(srv.chat.render([{"role": "user", "content": "hold"}]), 4, on_token=hold))
    assert started.wait(10), "the held job never reached its first token"
    return gate, job


def capture_jobs(srv) -> list[Job]:
    jobs: list[Job] = []
    admit = srv.admit
    srv.admit = lambda job: (jobs.append(job), admit(job))[1]
    return jobs


def test_openai_client_chat_models_and_streaming(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == [server.model_id]
    q = "Who founded Lumen Labs?"
    r = client.chat.completions.create(model=server.model_id, messages=[{"role": "user", "content": q}], max_tokens=12)
    # a single user turn renders exactly as the memory prompt the model was trained on
    ref = server.engine.generate(
        [server.engine.manifest.prompt.render(q)], max_new_tokens=12, stop=server.engine.manifest.prompt.stop
    )[0]
    assert r.choices[0].message.content == ref.text and r.usage.completion_tokens == ref.completion_tokens
    stream = client.chat.completions.create(
        model=server.model_id,
        messages=[{"role": "user", "content": q}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, finish, usage = [], None, None
    for ch in stream:
        if ch.choices:
            parts.append(ch.choices[0].delta.content or "")
            finish = ch.choices[0].finish_reason or finish
        if ch.usage:
            usage = ch.usage
    assert "".join(parts) == ref.text and finish == ref.finish_reason
    assert usage.completion_tokens == ref.completion_tokens
    with pytest.raises(openai.NotFoundError) as e:  # an unknown model is refused, not silently served
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    assert e.value.body["code"] == "model_not_found"


def test_64_concurrent_clients_are_batched_without_errors(server):
    n, results, errors = 64, {}, []
    before = server.batcher.batches

    def client(i):
        try:
            with httpx.Client(timeout=120) as c:
                r = c.post(
                    server.url + "/v1/chat/completions",
                    json={
                        "model": server.model_id,
                        "max_tokens": 8,
                        "stream": i % 4 == 0,
                        "messages": [{"role": "user", "content": f"Question number {i % 8}?"}],
                    },
                )
                if r.status_code != 200:
                    errors.append((i, r.status_code, r.text[:200]))
                elif i % 4 == 0:
                    chunks = [
                        json.loads(line[6:])
                        for line in r.text.splitlines()
                        if line.startswith("data: ") and line != "data: [DONE]"
                    ]
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


# (body changes, status, param or None): every malformed or unsupported request gets an OpenAI-shaped 4xx
REFUSALS = [
    ({"max_tokens": 10_000}, 400, "max_tokens"),
    ({"max_tokens": 0}, 400, "max_tokens"),
    ({"max_tokens": "12"}, 400, "max_tokens"),
    ({"messages": []}, 400, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, 400, "messages[0].content[0].text"),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        422,
        "messages[0].content[0].type",
    ),
    ({"messages": [{"role": "system", "content": "only a system turn"}]}, 400, "messages"),
    ({"temperature": 9}, 400, "temperature"),
    ({"top_p": 0}, 400, "top_p"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ({"seed": 1.5}, 400, "seed"),
    ({"seed": -1, "temperature": 0.7}, 400, "seed"),
    ({"stop": ["x" * 10_000] * 4}, 400, "stop"),
    ({"stop": "x" * 257, "stream": True}, 400, "stop"),
    ({"seed": -1, "temperature": 0.7, "stream": True}, 400, "seed"),
    ({"stream_options": "x", "stream": True}, 400, "stream_options"),
    ({"stream_options": {"include_usage": True}}, 422, "stream_options"),
    ({"model": "gpt-4o"}, 404, "model"),
    ({"model": None}, 400, "model"),
    ({"n": 2}, 422, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, 422, "tools"),
    ({"tool_choice": "required"}, 422, "tool_choice"),
    ({"response_format": {"type": "xml"}}, 400, "response_format"),
    ({"response_format": {"type": "json_schema"}}, 400, "response_format"),
    ({"response_format": {"type": "json_object", "schema": {"$ref": "#/nowhere"}}}, 400, "response_format"),
    ({"response_format": "json"}, 400, "response_format"),
    ({"logprobs": True}, 422, "logprobs"),
    ({"frequency_penalty": 0.5}, 422, "frequency_penalty"),
    ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, 422, "messages[0]"),
    ({"bogus_argument": 1}, 400, "bogus_argument"),
]


@pytest.mark.parametrize("change,status,param", REFUSALS, ids=[str(r[0])[:40] for r in REFUSALS])
def test_malformed_and_unsupported_requests_get_openai_errors(server, change, status, param):
    body = {**chat(server), **change}
    before = server.batcher.rows
    r = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param, err
    assert server.batcher.rows == before  # nothing was generated for it


def test_limits_and_errors(server):
    url = server.url
    with httpx.Client(timeout=30) as c:
        r = c.post(url + "/v1/chat/completions", content=b"x" * 60_000, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
        assert c.post(url + "/v1/chat/completions", content=b"{not json").status_code == 400
        assert c.post(url + "/v1/chat/completions", content=b"").status_code == 400
        assert c.post(url + "/v1/chat/completions", json=[1, 2]).status_code == 400
        r = c.post(
            url + "/v1/chat/completions", content=json.dumps(chat(server)), headers={"Content-Type": "text/plain"}
        )
        assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]
        long = "word " * (server.engine.context_length + 50)
        r = c.post(url + "/v1/chat/completions", json=chat(server, long))
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
        r = c.get(url + "/nope")
        assert r.status_code == 404 and r.json()["error"]["message"] == "no route GET /nope"
        assert c.get(url + "/v1/chat/completions").status_code == 405
        assert c.get(url + f"/v1/models/{server.model_id}").json()["id"] == server.model_id
        assert c.get(url + "/v1/models/gpt-4o").status_code == 404
        assert c.post(url + "/v1/memo/ask", json={"question": ""}).status_code == 400
        assert c.post(url + "/v1/memo/ask", json={"question": "x", "protocol": "telepathy"}).status_code == 400
        h = c.get(url + "/healthz").json()
        assert h["status"] == "ok" and h["model"] == server.model_id


def test_max_prompt_tokens_refuses_long_prompts(pack):
    cfg = ServerConfig(port=0, max_prompt_tokens=64)
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        ok = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, "short"), timeout=30)
        assert ok.status_code == 200
        r = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, "word " * 200), timeout=30)
        assert r.status_code == 400 and "--max-prompt-tokens" in r.json()["error"]["message"]
        assert srv.batcher.rows == 1


def test_a_megabyte_prompt_is_refused_before_tokenizing(pack):
    import gc

    import psutil

    cfg = ServerConfig(port=0, max_body_bytes=4 << 20)
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        seen: list[int] = []  # lengths of the texts the tokenizer was given
        encode = srv.engine.encode
        srv.engine.encode = lambda text: seen.append(len(text)) or encode(text)
        assert httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, "short"), timeout=30).status_code == 200
        gc.collect()
        before = psutil.Process().memory_info().rss
        big = "Lumen Labs was founded by Ada Vell. " * 28_000  # ~1 MB
        for _ in range(3):
            r = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, big), timeout=60)
            assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded", r.text
            assert r.json()["error"]["param"] == "messages"
            a = httpx.post(srv.url + "/v1/memo/ask", json={"question": big, "protocol": "none"}, timeout=60)
            assert a.status_code == 400 and a.json()["error"]["param"] == "question", a.text
        gc.collect()
        after = psutil.Process().memory_info().rss
    assert max(seen) < 100_000, seen  # the megabyte never reached the tokenizer
    assert after < before * 1.10, (before >> 20, after >> 20)


def test_model_name_comes_from_the_manifest_not_the_folder(pack, tmp_path):
    import shutil

    from memo_edge.pack import Pack

    copy = tmp_path / "pack"  # the folder name every `memo export -o pack` had
    shutil.copytree(pack, copy)
    name = model_name(Pack.open(copy))
    assert name == model_name(Pack.open(pack)) and name != "pack" and name.startswith("memo-")
    with MemoServer(Memory.load(copy, threads=2), ServerConfig(port=0, model_id="my-notes")) as srv:
        card = httpx.get(srv.url + "/v1/models").json()["data"][0]
        assert card["id"] == "my-notes"
        assert card["pack_id"] == Pack.open(pack).pack_id  # the manifest's hash: the same for a copy of the pack
        assert httpx.post(srv.url + "/v1/chat/completions", json=chat(srv)).status_code == 200


def test_the_trained_memory_prompt_is_always_used(server):
    mp = server.engine.manifest.prompt
    client_system = "You are a helpful desktop assistant. Answer briefly."
    msgs = memory_messages(
        server.chat,
        [{"role": "system", "content": client_system}, {"role": "user", "content": "Who founded Lumen Labs?"}],
    )
    prompt = server.chat.render(msgs)
    # the system turn the model was trained on comes first, verbatim; the client's text is context after it
    assert prompt.startswith(mp.prefix[: mp.prefix.index(mp.system) + len(mp.system)])
    assert prompt.index(mp.system) < prompt.index(client_system)
    assert prompt.endswith("Who founded Lumen Labs?" + mp.suffix)
    jobs = capture_jobs(server)
    try:
        body = {
            **chat(server, "Who founded Lumen Labs?"),
            "messages": [
                {"role": "developer", "content": client_system},
                {"role": "user", "content": "Who founded Lumen Labs?"},
            ],
        }
        assert httpx.post(server.url + "/v1/chat/completions", json=body, timeout=30).status_code == 200
    finally:
        del server.admit
    assert jobs[0].prompt == prompt and jobs[0].prefix.endswith(server.chat.user_open)


def test_queue_bound_gives_503_not_a_crash(pack):
    cfg = ServerConfig(port=0, max_queue=2)
    statuses = []
    with MemoServer(Memory.load(pack, threads=2, max_batch=1), cfg) as srv:
        gate, _ = hold_worker(srv)

        def hit():
            r = httpx.post(srv.url + "/v1/chat/completions", timeout=60, json=chat(srv))
            statuses.append((r.status_code, r.headers.get("retry-after")))

        ts = [threading.Thread(target=hit) for _ in range(6)]
        for t in ts:
            t.start()
        assert wait_until(lambda: len(statuses) >= 4)  # the 4 that do not fit are refused at once
        gate.set()
        for t in ts:
            t.join()
        assert httpx.get(srv.url + "/healthz").status_code == 200
    assert sorted(s for s, _ in statuses) == [200, 200, 503, 503, 503, 503]
    assert all(ra == "1" for s, ra in statuses if s == 503)


def test_deadline_answers_504_and_the_queued_job_is_dropped(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, request_timeout_s=0.3)) as srv:
        jobs = capture_jobs(srv)
        gate, _ = hold_worker(srv)
        t = time.perf_counter()
        r = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv), timeout=30)
        waited = time.perf_counter() - t
        gate.set()
        assert jobs[0].done.wait(10)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout", r.text
        assert waited < 5
        # it joined the batch beside the held job but expired before its first step: answered Cancelled, never decoded
        assert jobs[0].expired() and jobs[0].result is None and isinstance(jobs[0].error, Cancelled)


def _post_and_vanish(url: str, body: dict, received) -> None:
    """Send a complete request, wait until the server has it (`received()`), then close the socket without reading
    the answer."""
    u = httpx.URL(url)
    data = json.dumps(body).encode()
    with socket.create_connection((u.host, u.port)) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(data) + data
        )
        assert wait_until(received)


def test_a_client_that_leaves_cancels_its_job(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0)) as srv:
        jobs = capture_jobs(srv)
        gate, held = hold_worker(srv)
        _post_and_vanish(srv.url, chat(srv), lambda: len(jobs) == 1)  # non-streaming, queued behind the held job
        with httpx.stream("POST", srv.url + "/v1/chat/completions", json=chat(srv, stream=True), timeout=30) as r:
            assert r.status_code == 200
        assert wait_until(lambda: all(j.cancelled.is_set() for j in jobs))
        assert len(jobs) == 2
        rows = srv.batcher.rows
        gate.set()
        for j in jobs:
            assert j.done.wait(10) and j.result is None  # dropped from the queue, never decoded
        assert held.done.wait(10)  # the batcher counts a row before it answers it
        assert srv.batcher.rows == rows + 1 and held.result.completion_tokens == 4


@pytest.fixture(scope="module")
def long_server(pack):
    cfg = ServerConfig(port=0, max_tokens=4000, max_prompt_tokens=4000)
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        yield srv


def test_a_stream_cut_midway_stops_decoding(long_server):
    srv = long_server
    full = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, "tell", max_tokens=800), timeout=120).json()
    n_full = full["usage"]["completion_tokens"]
    assert n_full > 200, "the tiny model stopped early; pick another prompt"
    jobs = capture_jobs(srv)
    try:
        with httpx.stream(
            "POST", srv.url + "/v1/chat/completions", timeout=120, json=chat(srv, "tell", max_tokens=800, stream=True)
        ) as r:
            lines = r.iter_lines()
            for _ in range(4):
                next(lines)
        assert jobs[0].done.wait(60)
    finally:
        del srv.admit
    assert jobs[0].cancelled.is_set()
    c = jobs[0].result
    assert c is None or (c.finish_reason == "cancelled" and c.completion_tokens < n_full / 2), (
        f"cut stream decoded {c.completion_tokens}/{n_full} tokens ({c.finish_reason})"
    )


def test_a_short_request_does_not_wait_for_a_long_one(long_server):
    short_passes_long(long_server)


def short_passes_long(srv) -> None:
    """Against a first-in-first-out server (`MemoServer` over an engine with `max_batch=1`) this fails: the short
    request is answered only after the long one's 800 tokens (test_a_fifo_server_fails_the_short_behind_long_check)."""
    done: dict[str, float] = {}
    jobs = capture_jobs(srv)

    def ask(name, max_tokens):
        r = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv, "tell", max_tokens=max_tokens), timeout=120)
        assert r.status_code == 200
        done[name] = time.perf_counter()

    long = threading.Thread(target=ask, args=("long", 800))
    try:
        long.start()
        assert wait_until(
            lambda: jobs and jobs[0].request is not None and jobs[0].request.out
        )  # the long one is decoding
        ask("short", 4)
        long.join()
    finally:
        del srv.admit
    # shared decode steps first: on a fast host a FIFO server can finish 800 tiny-model tokens before the short
    # request's thread records its time, so the order of the two done times alone does not tell them apart
    assert jobs[1].result.batch_size == 2, "the short request waited for the long one (it shared no decode step)"
    assert done["short"] < done["long"], "the short request waited for the long one to finish"


def test_a_fifo_server_fails_the_short_behind_long_check(pack):
    cfg = ServerConfig(port=0, max_tokens=4000, max_prompt_tokens=4000)
    with MemoServer(Memory.load(pack, threads=2, max_batch=1), cfg) as srv:
        with pytest.raises(AssertionError, match="waited for the long one"):
            short_passes_long(srv)


def test_api_key_required_when_set(pack):
    cfg = ServerConfig(port=0, api_key="s3cret")
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        body = chat(srv)
        for path, method in (("/v1/models", "GET"), ("/healthz", "GET"), ("/v1/chat/completions", "POST")):
            r = httpx.request(method, srv.url + path, json=body if method == "POST" else None)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
            r = httpx.request(
                method,
                srv.url + path,
                json=body if method == "POST" else None,
                headers={"Authorization": "Bearer wrong"},
            )
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", path
        ok = httpx.post(srv.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert "access-control-allow-origin" not in ok.headers  # no CORS unless configured


def test_cors_for_configured_origins_and_403_for_others(pack):
    cfg = ServerConfig(port=0, cors_origins=("tauri://localhost",))
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        preflight = {"Origin": "tauri://localhost", "Access-Control-Request-Method": "POST"}  # what a browser sends
        pre = httpx.options(srv.url + "/v1/chat/completions", headers=preflight)
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "tauri://localhost"
        assert "Authorization" in pre.headers["access-control-allow-headers"]
        r = httpx.get(srv.url + "/healthz", headers={"Origin": "tauri://localhost"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "tauri://localhost"
        r = httpx.post(srv.url + "/v1/chat/completions", json=chat(srv), headers={"Origin": "tauri://localhost"})
        assert r.status_code == 200
        for h in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            other = httpx.get(srv.url + "/healthz", headers=h)
            assert other.status_code == 403 and "access-control-allow-origin" not in other.headers, h
        pre = httpx.options(srv.url + "/v1/chat/completions", headers={**preflight, "Origin": "https://evil.example"})
        assert pre.status_code == 403 and pre.json()["error"]["code"] == "bad_origin"


def test_host_allowlist(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, allow_hosts=("memo.lan",))) as srv:
        port = srv.sock.getsockname()[1]
        for host, status in (
            (f"127.0.0.1:{port}", 200),
            (f"localhost:{port}", 200),
            (f"[::1]:{port}", 200),
            ("LOCALHOST", 200),
            (f"memo.lan:{port}", 200),
            ("evil.example", 403),
            (f"evil.example:{port}", 403),
            ("127.0.0.1.evil.example", 403),
            ("", 403),
        ):
            r = httpx.get(srv.url + "/healthz", headers={"Host": host})
            assert r.status_code == status, host
            if status == 403:
                assert r.json()["error"]["code"] == "bad_host"


def test_memo_ask_endpoint_runs_the_protocol(pack):
    def script(body):
        user = body["messages"][1]["content"]
        if "Stage: GROUNDING" in user:
            return json.dumps({"grounding_questions": [{"question": "Who founded Lumen Labs?"}]})
        return json.dumps({"final_answer": "Ada Vell", "justification": "memory"})

    with ScriptedServer(script) as exe:
        ex = OpenAIExecutive(exe.url, model="scripted", max_retries=0)
        with MemoServer(
            Memory.load(pack, threads=2), ServerConfig(port=0, protocol="single-turn"), executive=ex
        ) as srv:
            r = httpx.post(
                srv.url + "/v1/memo/ask", json={"question": "Who founded Lumen Labs?", "trace": True}, timeout=60
            )
            direct = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who?", "protocol": "none"}, timeout=60)
            extra = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who?", "tools": []}, timeout=60)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["final_answer"] == "Ada Vell" and d["mode"] == "single-turn" and d["memory_calls"] == 1
    assert d["trace"][0]["kind"] == "start"
    assert direct.json()["mode"] == "none" and direct.json()["executive_calls"] == 0
    assert extra.status_code == 400 and extra.json()["error"]["param"] == "tools"


def test_memo_ask_has_a_deadline(pack):
    # the executive answers after 10 s; the 0.5 s deadline answers 504 long before (slack for a loaded machine)
    with ScriptedServer(lambda body: Fault(delay_s=10, then=json.dumps({"final_answer": "late"}))) as exe:
        ex = OpenAIExecutive(exe.url, model="scripted", max_retries=0)
        cfg = ServerConfig(port=0, protocol="single-turn", request_timeout_s=0.5)
        with MemoServer(Memory.load(pack, threads=2), cfg, executive=ex) as srv:
            t = time.perf_counter()
            r = httpx.post(srv.url + "/v1/memo/ask", json={"question": "Who founded Lumen Labs?"}, timeout=60)
            assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
            assert time.perf_counter() - t < 8


def _slow_executive(calls: list[float]):
    """A structured-protocol executive that takes 1 s a call and always asks one more new question."""

    def script(body):
        calls.append(time.perf_counter())
        time.sleep(1.0)
        q = {"question": f"What is fact {len(calls)} of Lumen Labs?"}
        return json.dumps({"grounding_questions": [q], "decision": "continue", "sub_questions": [q]})

    return script


@pytest.mark.slow
@pytest.mark.parametrize("gives_up", ["client leaves", "deadline"])
def test_an_abandoned_memo_ask_stops_calling_the_executive(pack, gives_up):
    calls: list[float] = []
    with ScriptedServer(_slow_executive(calls)) as exe:
        ex = OpenAIExecutive(exe.url, model="scripted", max_retries=0)
        cfg = ServerConfig(port=0, protocol="structured", request_timeout_s=2.5 if gives_up == "deadline" else 300)
        with MemoServer(Memory.load(pack, threads=2), cfg, executive=ex) as srv:
            body = {"question": "Who founded Lumen Labs?"}
            if gives_up == "deadline":
                r = httpx.post(srv.url + "/v1/memo/ask", json=body, timeout=60)
                assert r.status_code == 504
            else:
                with pytest.raises(httpx.TimeoutException):
                    httpx.post(srv.url + "/v1/memo/ask", json=body, timeout=2.5)
            gave_up, n = time.perf_counter(), len(calls)
            assert n >= 1
            time.sleep(5)  # an unchecked run would make ~4 more calls meanwhile (17 in its budgets)
            later = [t for t in calls if t > gave_up]
            assert len(later) <= 1, (n, len(calls))


def test_a_stream_still_running_at_shutdown_ends_with_an_error_event_and_done(pack):
    srv = MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, shutdown_timeout_s=2)).start()
    gate, _ = hold_worker(srv)  # the stream below waits for its first token through the whole shutdown
    lines: list[str] = []
    started = threading.Event()

    def client():
        body = chat(srv, max_tokens=64, stream=True)
        with httpx.stream("POST", srv.url + "/v1/chat/completions", json=body, timeout=30) as r:
            for line in r.iter_lines():
                started.set()
                if line:
                    lines.append(line)

    reader = threading.Thread(target=client)
    reader.start()
    assert started.wait(30)
    stopper = threading.Thread(target=srv.stop)
    t = time.perf_counter()
    stopper.start()
    reader.join(30)
    gate.set()
    stopper.join(30)
    assert time.perf_counter() - t < 10
    assert lines[-1] == "data: [DONE]", lines
    err = json.loads(lines[-2].removeprefix("data: "))["error"]
    assert err["code"] == "shutdown" and "shutting down" in err["message"]


@pytest.mark.slow
def test_memo_serve_cli_stops_cleanly_on_sigterm(pack):
    env = {**os.environ, "MEMO_TEST_KEY": "k"}
    p = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from memo_edge.cli import main; main()",
            "serve",
            str(pack),
            "--port",
            "0",
            "--threads",
            "2",
            "--api-key-env",
            "MEMO_TEST_KEY",
            "--model-name",
            "notes",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = p.stderr.readline()
        assert "memo serve: notes on" in line and "API key required" in line, line
        url = line.split(" on ")[1].split(" ")[0]
        r = httpx.post(
            url + "/chat/completions",
            headers={"Authorization": "Bearer k"},
            timeout=60,
            json={"model": "notes", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
        )
        assert r.status_code == 200
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        err = p.stderr.read()
        assert "SIGTERM: finishing in-flight requests" in err and "stopped" in err and "Traceback" not in err
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.slow
def test_memo_serve_cli_refuses_bad_values(pack):
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from memo_edge.cli import main; main()",
            "serve",
            str(pack),
            "--port",
            "0",
            "--max-prompt-tokens",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --max-prompt-tokens"), r.stderr
