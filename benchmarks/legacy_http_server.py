"""LEGACY CONTENDER, benchmark only: `memo serve`'s HTTP layer as it was before uvicorn + Starlette (main's
runtime/server.py at the switch, stdlib http.server), kept so benchmarks/runtime_server.py can measure the old stack
against the new one in the same run. Not part of the product; nothing outside benchmarks/ imports it.

    python -m benchmarks.legacy_http_server PACK [--port 0] [--threads 2]   (prints its URL on stderr, like memo serve)

Original docstring: `memo serve`: a local OpenAI-compatible server for desktop apps (stdlib http.server).

    GET  /healthz                 liveness + queue depth
    GET  /v1/models               the memory model
    POST /v1/chat/completions     the memory model (stream or not); concurrent requests are batched
    POST /v1/memo/ask             the whole MeMo protocol with the executive configured at start

Binds to 127.0.0.1 by default. With an API key configured, every request without `Authorization: Bearer KEY`
gets 401. Request bodies, max_tokens, prompt length and queue depth are bounded; past the queue bound clients
get 503 with Retry-After instead of piling up. SIGTERM stops accepting, finishes in-flight requests, exits 0.
"""

from __future__ import annotations

import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from memo_edge.errors import MemoError

from memo_edge.runtime.batcher import Batcher, Job, QueueFull
from memo_edge.runtime.chat import ChatFormat, content_text
from memo_edge.runtime.memory import Memory

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8088
    api_key: str | None = None
    max_body_bytes: int = 1 << 20
    max_tokens: int = 512  # cap on a request's max_tokens
    default_max_tokens: int = 128
    max_batch: int = 16
    max_queue: int = 256
    protocol: str = "structured"  # default for /v1/memo/ask
    model_id: str | None = None
    cors_origins: tuple[str, ...] = ()  # browser origins (webview desktop apps) allowed to call; "*" = any


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 256  # listen backlog; the default 5 resets connections when many clients connect at once


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


class MemoServer:
    """Owns the engine, the batcher and the HTTP server. `start()` serves in a thread (tests, apps);
    `serve_forever()` blocks (CLI)."""

    def __init__(self, memory: Memory, config: ServerConfig | None = None, executive=None, protocol_config=None):
        self.cfg = config or ServerConfig()
        self.engine = memory.engine
        self.batcher = Batcher(self.engine, max_batch=self.cfg.max_batch, max_queue=self.cfg.max_queue)
        self.memory = Memory(self.engine, generator=self.batcher, seed=memory.seed)
        self.chat = ChatFormat.from_memory_prompt(self.engine.manifest.prompt)
        self.executive = executive
        self.protocol_config = protocol_config
        self.model_id = self.cfg.model_id or self.engine.pack.root.name
        self.created = int(time.time())
        self.httpd = _HTTPServer((self.cfg.host, self.cfg.port), _handler_class(self))
        self.httpd.daemon_threads = False  # server_close() then waits for in-flight requests
        self.httpd.block_on_close = True
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "MemoServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="memo-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self._finish()

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, stop the batcher. Safe from any thread but the one
        running serve_forever (a signal handler should call it from a new thread)."""
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._finish()

    def _finish(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.httpd.server_close()  # joins request threads; the batcher is still answering them
        self.batcher.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- endpoints -----------------------------------------------------------------------------------------
    def models(self) -> dict:
        return {
            "object": "list",
            "data": [{"id": self.model_id, "object": "model", "created": self.created, "owned_by": "memo-edge"}],
        }

    def health(self) -> dict:
        return {
            "status": "ok",
            "model": self.model_id,
            "queued": self.batcher.pending,
            "batches": self.batcher.batches,
            "rows": self.batcher.rows,
        }

    def chat_job(self, body: dict) -> tuple[Job, dict]:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise ApiError(400, "'messages': expected a non-empty list of {role, content}")
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer", "tool"):
                raise ApiError(400, "'messages': each message needs a role of system, user or assistant")
            try:
                content_text(m.get("content"))
            except ValueError as e:
                raise ApiError(400, f"'messages': {e}") from None
        if body.get("n", 1) != 1:
            raise ApiError(400, "'n': only 1 is supported")
        mx = body.get("max_completion_tokens", body.get("max_tokens")) or min(
            self.cfg.default_max_tokens, self.cfg.max_tokens
        )
        if not isinstance(mx, int) or mx < 1 or mx > self.cfg.max_tokens:
            raise ApiError(400, f"'max_tokens': expected an integer from 1 to {self.cfg.max_tokens}")
        temp = body.get("temperature", 0.0)
        top_p = body.get("top_p", 1.0)
        if not isinstance(temp, (int, float)) or not 0 <= temp <= 2:
            raise ApiError(400, "'temperature': expected a number from 0 to 2")
        if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise ApiError(400, "'top_p': expected a number in (0, 1]")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
            raise ApiError(400, "'stop': expected a string or up to 4 strings")
        seed = body.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise ApiError(400, "'seed': expected an integer")
        prompt = self.chat.render(msgs)
        job = Job(
            prompt, mx, float(temp), float(top_p), seed, tuple(self.chat.stop + stop), self.chat.system_prefix(msgs)
        )
        return job, {
            "stream": bool(body.get("stream")),
            "include_usage": bool((body.get("stream_options") or {}).get("include_usage")),
        }

    def submit(self, job: Job) -> Job:
        try:
            return self.batcher.submit(job)
        except QueueFull as e:
            raise ApiError(503, f"server busy: {e}; retry shortly", "server_error", {"Retry-After": "1"}) from None
        except MemoError as e:
            raise ApiError(400, str(e)) from None

    def completion_body(self, job: Job, rid: str) -> dict:
        c = job.result
        return {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason}
            ],
            "usage": usage(c),
            "memo": {"timings": c.timings()},
        }

    def ask(self, body: dict) -> dict:
        from memo_edge.protocol import MODES, run_protocol
        from memo_edge.tracing import Tracer

        q = body.get("question")
        if not isinstance(q, str) or not q.strip():
            raise ApiError(400, "'question': expected a non-empty string")
        mode = body.get("protocol") or self.cfg.protocol
        if mode not in MODES:
            raise ApiError(400, f"'protocol': expected one of {', '.join(MODES)}")
        if len(self.memory.engine.encode(q)) > self.cfg.max_tokens:
            raise ApiError(400, f"'question': longer than {self.cfg.max_tokens} tokens")
        ex = None if mode == "none" else self.executive
        try:
            ans = run_protocol(q, self.memory, ex, mode=mode, config=self.protocol_config, tracer=Tracer())
        except QueueFull as e:
            raise ApiError(503, f"server busy: {e}; retry shortly", "server_error", {"Retry-After": "1"}) from None
        return {"object": "memo.answer", "model": self.model_id, **ans.to_dict(with_trace=bool(body.get("trace")))}


def usage(c) -> dict:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


def _handler_class(server: MemoServer):
    cfg = server.cfg

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "memo-edge"

        def log_message(self, fmt, *args):  # quiet by default; the CLI prints one line per request if asked
            pass

        # ---- plumbing --------------------------------------------------------------------------------------
        def end_headers(self):
            origin = self.headers.get("Origin")
            if origin and ("*" in cfg.cors_origins or origin in cfg.cors_origins):
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
            super().end_headers()

        def do_OPTIONS(self):  # CORS preflight: answered without auth, as browsers send no credentials here
            self.send_response(204)
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, status: int, obj: dict, headers: dict | None = None) -> None:
            body = json.dumps(obj, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, e: ApiError) -> None:
            if e.status == 401:
                e.headers.setdefault("WWW-Authenticate", "Bearer")
            if e.status in (411, 413):  # the body was not read: the connection cannot be reused
                self.close_connection = True
                e.headers.setdefault("Connection", "close")
            self._json(e.status, {"error": {"message": str(e), "type": e.kind, "code": e.status}}, e.headers)

        def _auth(self) -> None:
            if not cfg.api_key:
                return
            got = self.headers.get("Authorization", "")
            token = got[7:].strip() if got.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode(), cfg.api_key.encode()):
                raise ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)", "authentication_error")

        def _body(self) -> dict:
            n = self.headers.get("Content-Length")
            if n is None:
                raise ApiError(411, "Content-Length required")
            try:
                n = int(n)
            except ValueError:
                raise ApiError(400, "bad Content-Length") from None
            if n > cfg.max_body_bytes:
                raise ApiError(413, f"request body over {cfg.max_body_bytes} bytes")
            raw = self.rfile.read(n)
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiError(400, "request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "request body must be a JSON object")
            return body

        def _route(self, fn) -> None:
            try:
                self._auth()
                fn()
            except ApiError as e:
                self._error(e)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except Exception as e:  # never let one request kill the server; report it as a 500
                self._error(ApiError(500, f"internal error: {type(e).__name__}: {e}", "server_error"))

        # ---- verbs -----------------------------------------------------------------------------------------
        def do_GET(self):
            path = self.path.split("?")[0].rstrip("/")
            routes = {
                "/healthz": lambda: self._json(200, server.health()),
                "/v1/models": lambda: self._json(200, server.models()),
            }
            if path.startswith("/v1/models/"):
                mid = path[len("/v1/models/") :]
                routes[path] = lambda: (
                    self._json(200, server.models()["data"][0])
                    if mid == server.model_id
                    else self._error(ApiError(404, f"model '{mid}' not found"))
                )
            self._route(routes.get(path, lambda: self._error(ApiError(404, f"no route GET {path}"))))

        def do_POST(self):
            path = self.path.split("?")[0].rstrip("/")
            routes = {"/v1/chat/completions": self._chat, "/v1/memo/ask": self._ask}
            fn = routes.get(path)
            if fn is None:
                # drain what we can so the error reaches the client cleanly
                self._route(lambda: (self._body(), self._error(ApiError(404, f"no route POST {path}"))))
                return
            self._route(fn)

        def _ask(self):
            self._json(200, server.ask(self._body()))

        def _chat(self):
            job, opts = server.chat_job(self._body())
            rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
            if not opts["stream"]:
                server.submit(job).done.wait()
                if job.error is not None:
                    raise ApiError(400, str(job.error))
                self._json(200, server.completion_body(job, rid))
                return
            self._stream(job, rid, opts["include_usage"])

        def _stream(self, job: Job, rid: str, include_usage: bool):
            q: queue.Queue = queue.Queue()
            job.on_token = lambda text, tid: q.put(text)
            server.submit(job)
            threading.Thread(target=lambda: (job.done.wait(), q.put(None)), daemon=True).start()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            created = int(time.time())

            def chunk(delta: dict, finish=None, extra=None):
                obj = {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": server.model_id,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                obj.update(extra or {})
                self.wfile.write(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()

            chunk({"role": "assistant", "content": ""})
            while (text := q.get()) is not None:
                if text:
                    chunk({"content": text})
            if job.error is not None:
                err = {"error": {"message": str(job.error), "type": "server_error"}}
                self.wfile.write(b"data: " + json.dumps(err).encode() + b"\n\n")
            else:
                chunk({}, job.result.finish_reason)
                if include_usage:
                    obj = {
                        "id": rid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": server.model_id,
                        "choices": [],
                        "usage": usage(job.result),
                    }
                    self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def main(argv=None) -> None:
    """The old `memo serve` CLI's serving loop and signal handling (SIGTERM/SIGINT -> httpd.shutdown in a thread)."""
    import argparse
    import signal
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("pack")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=512)
    a = ap.parse_args(argv)
    srv = MemoServer(Memory.load(a.pack, threads=a.threads), ServerConfig(port=a.port, max_tokens=a.max_tokens))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.httpd.shutdown, daemon=True).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=srv.httpd.shutdown, daemon=True).start())
    print(f"legacy serve: {srv.model_id} on {srv.url}/v1", file=sys.stderr, flush=True)
    srv.serve_forever()
    print("legacy serve: stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
