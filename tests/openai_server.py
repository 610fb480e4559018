"""A real OpenAI-compatible chat server on 127.0.0.1 for tests (generator and executive), with injected faults.

    with ScriptedServer(reply_fn) as srv:   # reply_fn(request_body: dict) -> str | Fault
        endpoint = ChatEndpoint(urls=[srv.url], model="test")

`reply_fn` returns the assistant text, or a Fault to misbehave: an HTTP status, a delay past the client's timeout,
an unparseable body, a dropped connection, or a reply dripped one byte at a time. Every request body is recorded
in `srv.requests`; `srv.max_in_flight` is the most requests the server was handling at once (`reply_fn` may block,
e.g. on a barrier, to hold requests open).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class _Server(ThreadingHTTPServer):
    # http.server's default listen backlog is 5: the 6th simultaneous connect waits ~1 s for a SYN retry, which
    # would time the test server instead of the client's concurrency. Real servers listen deeper.
    request_queue_size = 64


@dataclass
class Fault:
    status: int | None = None  # reply with this HTTP status
    message: str = "injected"  # ... and this error message (the body is {"error": {"message": ...}})
    delay_s: float = 0.0  # sleep before replying (past the client timeout = a timeout)
    garbage: bool = False  # 200 with a body that is not JSON
    drop: bool = False  # close the socket without replying
    then: str | None = None  # after delay, reply normally with this text
    drip_s: float = 0.0  # send the reply one byte every drip_s seconds (defeats per-read timeouts)


class ScriptedServer:
    def __init__(self, reply_fn: Callable[[dict], "str | Fault"], latency_s: float = 0.0):
        self.reply_fn = reply_fn
        self.latency_s = latency_s
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, ctype="application/json", drip_s: float = 0.0):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not drip_s:
                    self.wfile.write(body)
                    return
                self.wfile.flush()
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(drip_s)
                except OSError:  # the client gave up: that is the point of the test
                    self.close_connection = True

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200, json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode()
                    )
                else:
                    self._send(404, b'{"error":"not found"}')

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    self._answer(body)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def _answer(self, body: dict):
                if outer.latency_s:
                    time.sleep(outer.latency_s)
                out = outer.reply_fn(body)
                if isinstance(out, Fault):
                    if out.delay_s:
                        time.sleep(out.delay_s)
                    if out.drop:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if out.garbage:
                        self._send(200, b"<html>this is not json")
                        return
                    if out.status:
                        self._send(out.status, json.dumps({"error": {"message": out.message}}).encode())
                        return
                    drip, out = out.drip_s, out.then or ""
                else:
                    drip = 0.0
                resp = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": out}}
                    ],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }
                self._send(200, json.dumps(resp).encode(), drip_s=drip)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
