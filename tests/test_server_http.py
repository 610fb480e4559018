"""memo serve's HTTP layer from a raw socket, as an attacker or a broken client talks to it: garbage request lines,
huge headers, lying Content-Lengths, stalled and dripping connections, a wrong key on a keep-alive connection,
foreign Host and Origin headers, deep JSON; and SIGTERM with idle keep-alive clients and a stream in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
from runtime_fixtures import varied_pack

from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


@pytest.fixture(scope="module")
def server(pack):
    cfg = ServerConfig(port=0, max_tokens=64, header_timeout_s=1.0, body_timeout_s=1.0, keep_alive_s=5)
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        yield srv


def connect(srv) -> socket.socket:
    s = socket.create_connection(srv.sock.getsockname()[:2], timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(srv, method: str, path: str, body: bytes | dict | None = None, headers: dict | None = None) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    h = {
        "Host": "127.0.0.1",
        **({"Content-Type": "application/json", "Content-Length": str(len(body))} if body is not None else {}),
        **(headers or {}),
    }
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + (body or b"")


class Reply:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def read_reply(s: socket.socket, timeout: float = 10) -> Reply | None:
    """One HTTP response (Content-Length or chunked), or None if the server closed without one."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            got = s.recv(65536)
            if not got:
                return None
            buf += got
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(rest) < n:
                got = s.recv(65536)
                if not got:
                    break
                rest += got
            return Reply(status, headers, rest[:n])
        if headers.get("transfer-encoding") == "chunked":
            while not rest.endswith(b"0\r\n\r\n"):
                got = s.recv(65536)
                if not got:
                    break
                rest += got
            body, data = b"", rest
            while data:
                size, _, data = data.partition(b"\r\n")
                n = int(size, 16)
                if n == 0:
                    break
                body, data = body + data[:n], data[n + 2 :]
            return Reply(status, headers, body)
        return Reply(status, headers, rest)
    except ConnectionResetError:
        return None


def closed_within(s: socket.socket, seconds: float) -> bool:
    """True if the server closes the connection (EOF or reset) within `seconds`."""
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def send_quietly(s: socket.socket, data: bytes) -> None:
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed before taking it all: what we test


def chat(srv, **kw) -> dict:
    return {"model": srv.model_id, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **kw}


def assert_openai_error(r: Reply | None, status: int) -> dict:
    assert r is not None, "no response at all"
    assert r.status == status, (r.status, r.body[:300])
    err = r.json()["error"]
    assert {"message", "type", "param", "code"} <= set(err)
    return err


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),
        b"G\x00T / HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
    ],
)
def test_garbage_request_line_gets_400_and_the_connection_closes(server, garbage):
    with connect(server) as s:
        s.sendall(garbage)
        err = assert_openai_error(read_reply(s), 400)
        assert err["code"] == "bad_http_request"
        assert closed_within(s, 5)


def test_100kb_header_gets_431_or_400(server):
    with connect(server) as s:  # in one piece: parsed, then refused
        send_quietly(s, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        assert assert_openai_error(read_reply(s), 431)["code"] == "headers_too_large"
        assert closed_within(s, 5)
    with connect(server) as s:  # in pieces: h11 stops buffering at 16 KB
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        for _ in range(10):
            time.sleep(0.02)
            send_quietly(s, b"a" * 10_000)
        assert assert_openai_error(read_reply(s), 400)["code"] == "bad_http_request"
        assert closed_within(s, 5)
    with connect(server) as s:  # the server is still fine
        s.sendall(request(server, "GET", "/healthz"))
        assert read_reply(s).status == 200


def test_content_length_minus_one_with_a_big_body_does_not_grow_memory(server):
    rss0 = psutil.Process().memory_info().rss
    with connect(server) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: -1\r\n\r\n"
        )
        chunk = b"x" * (1 << 20)
        for _ in range(50):  # 50 MB offered; the server stops reading at the bad header
            send_quietly(s, chunk)
        assert_openai_error(read_reply(s), 400)
    grew = (psutil.Process().memory_info().rss - rss0) / 2**20
    assert grew < 40, f"RSS grew {grew:.0f} MB"


def test_chunked_body_over_the_limit_gets_413_without_buffering_it(server):
    rss0 = psutil.Process().memory_info().rss
    with connect(server) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * (1 << 20)
        for _ in range(5):  # 5 MB against a 1 MB limit
            send_quietly(s, b"%x\r\n" % len(piece) + piece + b"\r\n")
        send_quietly(s, b"0\r\n\r\n")
        err = assert_openai_error(read_reply(s), 413)
        assert err["code"] == "request_too_large"
    with connect(server) as s:  # a declared Content-Length far over the limit is refused before reading
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n" + b"x" * 1000
        )
        assert_openai_error(read_reply(s), 413)
        assert closed_within(s, 5)
    grew = (psutil.Process().memory_info().rss - rss0) / 2**20
    assert grew < 40, f"RSS grew {grew:.0f} MB"


def test_wrong_api_key_on_a_keep_alive_connection_is_401_every_time(pack):
    with MemoServer(Memory.load(pack, threads=2), ServerConfig(port=0, api_key="k")) as srv:
        with connect(srv) as s:
            for _ in range(3):  # the unread body of a refused request is never parsed as the next request
                s.sendall(request(srv, "POST", "/v1/chat/completions", chat(srv), {"Authorization": "Bearer wrong"}))
                err = assert_openai_error(read_reply(s), 401)
                assert err["type"] == "authentication_error"
            s.sendall(request(srv, "POST", "/v1/chat/completions", chat(srv), {"Authorization": "Bearer k"}))
            r = read_reply(s)
            assert r.status == 200 and r.json()["choices"][0]["message"]["content"] is not None


def test_foreign_host_is_refused(server):
    with connect(server) as s:
        s.sendall(request(server, "GET", "/v1/models", headers={"Host": "evil.example"}))
        assert assert_openai_error(read_reply(s), 403)["code"] == "bad_host"


def test_cross_origin_text_plain_post_is_not_executed(server):
    rows = server.batcher.rows
    body = json.dumps(chat(server)).encode()
    with connect(server) as s:  # what a web page's fetch(..., {mode: "no-cors"}) sends: a CORS "simple" request
        s.sendall(
            request(
                server,
                "POST",
                "/v1/chat/completions",
                body,
                {
                    "Content-Type": "text/plain;charset=UTF-8",
                    "Origin": "https://evil.example",
                    "Sec-Fetch-Site": "cross-site",
                },
            )
        )
        assert assert_openai_error(read_reply(s), 403)["code"] == "bad_origin"
        s.sendall(request(server, "POST", "/v1/chat/completions", body, {"Content-Type": "text/plain"}))
        assert assert_openai_error(read_reply(s), 415)["code"] == "unsupported_media_type"
    assert server.batcher.rows == rows


@pytest.mark.parametrize(
    "body,param",
    [
        (
            lambda srv: json.dumps(
                {**chat(srv), "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}
            ),
            "messages[0].content[0].text",
        ),
        (lambda srv: json.dumps({**chat(srv), "stream": True, "stream_options": "x"}), "stream_options"),
        (lambda srv: '{"model": "m", "messages": ' + "[" * 100_000 + "]" * 100_000 + "}", None),
        (lambda srv: "[" * 100_000, None),
        (lambda srv: b'{"model": "\xff\xfe"}', None),
    ],
)
def test_malformed_bodies_get_400_not_500(server, body, param):
    raw = body(server)
    with connect(server) as s:
        s.sendall(request(server, "POST", "/v1/chat/completions", raw if isinstance(raw, bytes) else raw.encode()))
        err = assert_openai_error(read_reply(s), 400)
        assert err["param"] == param
        s.sendall(request(server, "GET", "/healthz"))  # and the connection is still usable
        assert read_reply(s).status == 200


def test_a_silent_or_dripping_client_is_dropped_at_the_header_deadline(server):
    with connect(server) as silent, connect(server) as drip:
        t = time.perf_counter()
        stop = threading.Event()

        def dripping():
            for b in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    drip.send(bytes([b]))
                except OSError:
                    return
                time.sleep(0.2)

        th = threading.Thread(target=dripping)
        th.start()
        assert closed_within(silent, 5)
        assert closed_within(drip, 5)
        stop.set()
        th.join()
        assert time.perf_counter() - t < 4  # header_timeout_s=1


def test_a_stalled_body_gets_408(server):
    with connect(server) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"model"'
        )
        t = time.perf_counter()
        err = assert_openai_error(read_reply(s), 408)
        assert err["code"] == "request_timeout" and time.perf_counter() - t < 4  # body_timeout_s=1
        assert closed_within(s, 5)


def test_idle_connections_hold_no_threads(server):
    threads = threading.active_count()
    socks = [connect(server) for _ in range(200)]
    try:
        for s in socks[:100]:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers started, never finished
        time.sleep(0.3)
        assert threading.active_count() - threads < 10
        with connect(server) as s:  # others are still served
            s.sendall(request(server, "GET", "/healthz"))
            assert read_reply(s).status == 200
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow
def test_sigterm_with_idle_keep_alive_clients_and_a_stream_in_flight(pack):
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
            "--max-tokens",
            "300",
            "--shutdown-timeout",
            "120",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    socks = []
    try:
        line = p.stderr.readline()
        host, port = line.split(" on http://")[1].split("/v1")[0].rsplit(":", 1)
        model = line.split("memo serve: ")[1].split(" on ")[0]
        srv = type("S", (), {"model_id": model})()

        def conn():
            s = socket.create_connection((host, int(port)), timeout=30)
            socks.append(s)
            return s

        for _ in range(50):  # keep-alive clients that made a request and now sit idle, as pooled clients do
            s = conn()
            s.sendall(request(srv, "GET", "/healthz"))
            assert read_reply(s).status == 200
        stream = conn()
        stream.sendall(request(srv, "POST", "/v1/chat/completions", chat(srv, max_tokens=300, stream=True)))
        stream.settimeout(30)
        first = stream.recv(65536)
        assert b"200" in first.split(b"\r\n")[0]
        t = time.perf_counter()
        p.send_signal(signal.SIGTERM)
        assert all(closed_within(s, 5) for s in socks[:50])  # idle ones are closed at once, not waited for
        idle_closed = time.perf_counter() - t
        rest = b""
        while b"data: [DONE]" not in rest:  # the stream in flight is finished, not cut
            got = stream.recv(65536)
            assert got, "the stream in flight was cut by the shutdown"
            rest += got
        assert rest.count(b'"content": "') > 10, "the stream was not in flight at SIGTERM"
        assert p.wait(timeout=150) == 0
        assert idle_closed < 5, f"idle keep-alive connections closed {idle_closed:.1f} s after SIGTERM"
        assert b'"finish_reason": "length"' in rest or b'"finish_reason": "stop"' in rest
    finally:
        for s in socks:
            s.close()
        if p.poll() is None:
            p.kill()


def test_past_max_connections_a_json_503_and_idle_sockets_make_room(pack):
    cfg = ServerConfig(port=0, max_connections=8, header_timeout_s=10)
    with MemoServer(Memory.load(pack, threads=2), cfg) as srv:
        idle = [connect(srv) for _ in range(12)]  # connected and silent, as a flood of idle sockets is
        time.sleep(0.2)
        s = connect(srv)
        s.sendall(request(srv, "GET", "/healthz"))
        r = assert_openai_error(read_reply(s), 503)
        assert r["code"] == "too_many_connections" and "--max-connections" in r["message"]
        # the silent ones are given a second, not the 10 s header timeout: real clients get in again soon
        t = time.perf_counter()
        assert all(closed_within(x, 5) for x in idle)
        assert time.perf_counter() - t < 4
        s = connect(srv)
        s.sendall(request(srv, "GET", "/healthz"))
        assert read_reply(s).status == 200
