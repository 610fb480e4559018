"""`memo serve`: a local OpenAI-compatible server for desktop apps, on uvicorn + Starlette.

    GET  /healthz                 liveness + queue depth
    GET  /v1/models               the memory model (GET /v1/models/{id} too)
    POST /v1/chat/completions     the memory model (stream or not); concurrent requests are batched
    POST /v1/memo/ask             the whole MeMo protocol with the executive configured at start

HTTP parsing, keep-alive, connection timeouts and graceful shutdown are uvicorn's (h11); this module keeps what is
ours: who may call (a Host allowlist against DNS rebinding, an Origin check against web pages, the API key), what
they may send (pydantic request models, body/token/prompt/queue limits, every refusal an OpenAI-shaped error), and
the wiring to the batcher (a client that leaves or a request past its deadline cancels its job).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from memo_edge.errors import MemoError
from memo_edge.pack import MANIFEST, Pack
from memo_edge.protocol import MODES

from .ask import AskService, NoExecutive
from .batcher import Batcher, Cancelled, Job, QueueFull
from .chat import ChatFormat, content_text
from .config import ServerConfig
from .engine import MAX_STOP_CHARS
from .grammar import GrammarError, response_schema
from .h11_policy import policy_protocol
from .memory import Memory

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_SHUTDOWN = object()  # put in a stream's token queue: end it now with an error event and [DONE]
INLINE_PROMPT_CHARS = 4096  # longer prompts are tokenized in a worker thread, off the event loop
ANY_HOST = ("0.0.0.0", "::", "")


class ApiError(Exception):
    """A refusal with an HTTP status and an OpenAI-shaped body: {"error": {message, type, param, code}}."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.kind, self.param, self.code = status, kind, param, code
        self.headers = dict(headers or {})


def error_body(status: int, message: str, kind: str = "invalid_request_error", param=None, code=None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code or _CODES.get(status)}}


_CODES = {
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "unsupported",
    431: "headers_too_large",
    503: "server_busy",
    504: "timeout",
}


def error_response(e: ApiError) -> JSONResponse:
    headers = dict(e.headers)
    if e.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if e.status in (408, 413):  # the body was not read to its end: this connection cannot carry another request
        headers.setdefault("Connection", "close")
    return JSONResponse(error_body(e.status, str(e), e.kind, e.param, e.code), e.status, headers)


# ---- request models -----------------------------------------------------------------------------------------
class _Strict(BaseModel):
    # extra="forbid": an argument we do not know is refused (OpenAI's own behaviour), never silently ignored
    model_config = ConfigDict(extra="forbid", strict=True)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: str
    text: str | None = None


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[Any] | None = None
    tool_call_id: str | None = None


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatRequest(_Strict):
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = Field(None, ge=0)  # numpy seeds its generators with non-negative integers only
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1)
    # accepted and without effect here, as on OpenAI's API
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    # known but unsupported by a memory model: refused with 422 when they ask for something (checked below)
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    # text, json_schema or json_object (with an optional "schema", llama.cpp's form): decoding follows the schema
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, Any] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    reasoning_effort: Any = None
    web_search_options: Any = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, v):
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop strings")
        if any(len(s) > MAX_STOP_CHARS for s in ([v] if isinstance(v, str) else v or [])):
            raise ValueError(f"a stop string is at most {MAX_STOP_CHARS} characters")
        return v


class AskRequest(_Strict):
    question: str
    protocol: str | None = None
    trace: bool = False


def _unsupported(req: ChatRequest) -> tuple[str, str] | None:
    """(param, why) for the first feature asked for that a memory model cannot honour, else None."""
    if req.n != 1:
        return "n", "only n=1 is supported"
    if req.tools or req.functions:
        return ("tools" if req.tools else "functions"), "tool/function calling is not supported by a memory model"
    if req.tool_choice not in (None, "none") or req.function_call not in (None, "none"):
        return (
            "tool_choice" if req.tool_choice not in (None, "none") else "function_call"
        ), "tool/function calling is not supported by a memory model"
    if req.logprobs or req.top_logprobs:
        return ("logprobs" if req.logprobs else "top_logprobs"), "logprobs are not supported"
    if req.logit_bias:
        return "logit_bias", "logit_bias is not supported"
    for p in ("frequency_penalty", "presence_penalty"):
        if getattr(req, p):
            return p, f"{p} is not supported (only 0)"
    if req.modalities not in (None, ["text"]) or req.audio is not None:
        return ("audio" if req.audio is not None else "modalities"), "only text output is supported"
    for p in ("prediction", "reasoning_effort", "web_search_options"):
        if getattr(req, p) is not None:
            return p, f"{p} is not supported"
    if req.stream_options is not None and not req.stream:
        return "stream_options", "stream_options is only allowed when stream is true"
    for i, m in enumerate(req.messages):
        if m.role == "tool" or m.tool_calls or m.tool_call_id:
            return f"messages[{i}]", "tool messages and tool calls are not supported"
        for j, part in enumerate(m.content if isinstance(m.content, list) else []):
            if part.type != "text":
                return f"messages[{i}].content[{j}].type", f"'{part.type}' parts are not supported (text only)"
            if part.text is None:
                return f"messages[{i}].content[{j}].text", "a text part needs 'text'"
    return None


def parse_body(model: type[BaseModel], raw: bytes) -> Any:
    """Bytes -> a validated request, or ApiError(400) naming the field (messages[0].content[0].text) and why."""
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        err = max(errors, key=lambda x: len(_loc(x["loc"])))  # of a union's branches, the one that got furthest
        loc = _loc(err["loc"])
        if err["type"].startswith("json_") or err["type"] == "recursion_loop":
            raise ApiError(400, f"request body is not valid JSON ({err['msg']})") from None
        if err["type"] == "model_type" and not loc:
            raise ApiError(400, "request body must be a JSON object") from None
        if err["type"] == "extra_forbidden":
            raise ApiError(
                400, f"Unrecognized request argument supplied: {loc}", param=loc, code="unknown_parameter"
            ) from None
        if err["type"] == "missing":
            raise ApiError(400, f"'{loc}': required", param=loc) from None
        raise ApiError(400, f"'{loc}': {err['msg']}", param=loc or None) from None


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "dict", "list"}


def _loc(loc: tuple) -> str:
    """pydantic's error location as a JSON path, without the union branch tags pydantic puts in it."""
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[a-z_][a-z0-9_]*", str(p)) and p not in _TYPE_TAGS:
            out += ("." if out else "") + str(p)
    return out


# ---- the pack's name ----------------------------------------------------------------------------------------
def model_name(pack: Pack) -> str:
    """The model id a pack is served as: the manifest's `name` (provenance) when the exporter wrote one, else
    memo-<base model>-<first 8 of the corpus fingerprint>, else memo-<architecture>-<first 8 of the manifest's
    sha256>. From the manifest, not the folder: every pack exported to `pack/` was "pack"."""
    m = pack.manifest
    prov = m.provenance or {}
    if isinstance(prov.get("name"), str) and prov["name"].strip():
        return prov["name"].strip()
    base = str(prov.get("base") or prov.get("base_model") or m.model.architecture).rstrip("/").split("/")[-1]
    fp = prov.get("corpus_fingerprint") or prov.get("reflections_fingerprint")
    if not isinstance(fp, str) or not fp:
        fp = hashlib.sha256((pack.root / MANIFEST).read_bytes()).hexdigest()
    return f"memo-{re.sub(r'[^a-z0-9.]+', '-', base.lower()).strip('-')}-{fp[:8]}"


# ---- jobs seen from the event loop ---------------------------------------------------------------------------
class _LoopDone(threading.Event):
    """job.done that also wakes the event loop: the batcher thread sets it, a request coroutine awaits it.
    `then` runs in the loop after everything the batcher thread scheduled before (the last tokens)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, then=None):
        super().__init__()
        self._loop = loop
        self._fut: asyncio.Future = loop.create_future()
        self._then = then

    def set(self) -> None:
        super().set()
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop is gone (server stopped): nobody is waiting
            pass

    def _wake(self) -> None:
        if not self._fut.done():
            self._fut.set_result(None)
            if self._then is not None:
                self._then()

    async def wait_async(self) -> None:
        await asyncio.shield(self._fut)


def usage(c) -> dict:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    }


class MemoServer:
    """Owns the engine, the batcher and the uvicorn server. `start()` serves in a thread (tests, apps);
    `serve_forever()` blocks (CLI; SIGTERM/SIGINT stop it gracefully)."""

    def __init__(self, memory: Memory, config: ServerConfig | None = None, executive=None, protocol_config=None):
        self.cfg = config or ServerConfig()
        family = socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET
        # bound first: a port in use fails here (OSError), before any thread starts
        self.sock = socket.create_server((self.cfg.host, self.cfg.port), family=family, backlog=self.cfg.backlog)
        self.engine = memory.engine
        self.batcher = Batcher(self.engine, max_queue=self.cfg.max_queue)
        self.memory = Memory(self.engine, generator=self.batcher, seed=memory.seed, abstain=memory.known is not None)
        self.chat = ChatFormat.from_memory_prompt(self.engine.manifest.prompt)
        self.executive = executive
        self.protocol_config = protocol_config
        self.asker = AskService(self.memory, executive, protocol_config, self.cfg.protocol)
        self.model_id = self.cfg.model_id or model_name(self.engine.pack)
        self.created = int(time.time())
        self._hosts = _allowed_hosts(self.cfg)
        self._ask_slots: anyio.CapacityLimiter | None = None
        self.app = Starlette(
            routes=[
                Route("/healthz", self._health, methods=["GET"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/models/{model_id:path}", self._model, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/memo/ask", self._ask, methods=["POST"]),
            ],
            exception_handlers={ApiError: _on_api_error, HTTPException: _on_http_error, Exception: _on_crash},
        )
        self.uvicorn = _Uvicorn(
            uvicorn.Config(
                _Guard(self.app, self),
                http=_protocol(self.cfg),
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_keep_alive=self.cfg.keep_alive_s,
                timeout_graceful_shutdown=self.cfg.shutdown_timeout_s,
                limit_concurrency=None,  # enforced by _Guard (a JSON 503) and H11Policy (idle sockets make room)
                h11_max_incomplete_event_size=self.cfg.max_header_bytes,
                server_header=False,
                headers=[("server", "memo-edge")],
                backlog=self.cfg.backlog,
            )
        )
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._streams: set[asyncio.Queue] = set()  # token queues of the streams in flight (event-loop thread only)
        self.uvicorn.before_cut = self._end_streams

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> "MemoServer":
        self._thread = threading.Thread(target=self._run, name="memo-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.uvicorn.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        self.uvicorn.run(sockets=[self.sock])

    def serve_forever(self) -> None:
        try:
            self._run()
        finally:
            self._finish()

    def stop(self) -> None:
        """Stop accepting, close idle keep-alive connections, let in-flight requests finish (up to
        shutdown_timeout_s), stop the batcher. Safe from any thread."""
        self.uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self._finish()

    def _end_streams(self) -> None:
        """Just before shutdown's grace period ends: every stream still running ends with an error event and
        [DONE] (a clean end the client can read), instead of being cut mid-stream by uvicorn."""
        for q in list(self._streams):
            q.put_nowait(_SHUTDOWN)

    def _finish(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.sock.close()
        self.batcher.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- read-only routes --------------------------------------------------------------------------------------
    def models(self) -> dict:
        return {"object": "list", "data": [self._model_card()]}

    def _model_card(self) -> dict:
        # pack_id: the manifest's own hash, what a client pins to know it talks to the memory it trusts
        return {
            "id": self.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": "memo-edge",
            "pack_id": self.memory.pack_id,
        }

    def health(self) -> dict:
        return {
            "status": "ok",
            "model": self.model_id,
            "queued": self.batcher.pending,
            "batches": self.batcher.batches,
            "rows": self.batcher.rows,
        }

    async def _health(self, request: Request) -> Response:
        return JSONResponse(self.health())

    async def _models(self, request: Request) -> Response:
        return JSONResponse(self.models())

    async def _model(self, request: Request) -> Response:
        mid = request.path_params["model_id"]
        if mid != self.model_id:
            raise ApiError(
                404,
                f"The model '{mid}' does not exist (this server serves '{self.model_id}')",
                param="model",
                code="model_not_found",
            )
        return JSONResponse(self._model_card())

    # ---- chat completions ------------------------------------------------------------------------------------
    def chat_job(self, req: ChatRequest) -> Job:
        """A validated request -> the batcher's Job: the trained memory prompt, the client's turns inside it."""
        if req.model != self.model_id:
            raise ApiError(
                404,
                f"The model '{req.model}' does not exist (this server serves '{self.model_id}')",
                param="model",
                code="model_not_found",
            )
        bad = _unsupported(req)
        if bad is not None:
            raise ApiError(422, f"'{bad[0]}': {bad[1]}", param=bad[0], code="unsupported_parameter")
        mx = req.max_completion_tokens or req.max_tokens or min(self.cfg.default_max_tokens, self.cfg.max_tokens)
        if mx > self.cfg.max_tokens:
            raise ApiError(
                400, f"'max_tokens': expected an integer from 1 to {self.cfg.max_tokens}", param="max_tokens"
            )
        try:
            schema = response_schema(req.response_format)
        except GrammarError as e:
            raise ApiError(400, str(e), param="response_format") from None
        msgs = memory_messages(self.chat, [m.model_dump(include={"role", "content"}) for m in req.messages])
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        job = Job(
            self.chat.render(msgs),
            mx,
            req.temperature,
            req.top_p,
            req.seed,
            tuple(self.chat.stop + stop),
            self.chat.system_prefix(msgs),
            response_format=req.response_format if schema is not None else None,
        )
        limit = min(self.cfg.max_prompt_tokens, self.engine.context_length)
        if self.engine.surely_longer(job.prompt, limit):  # refused before the tokenizer sees a megabyte
            raise ApiError(
                400,
                f"'messages': the prompt is {len(job.prompt)} characters, surely more than the {limit} tokens this "
                "server accepts (memo serve --max-prompt-tokens)",
                param="messages",
                code="context_length_exceeded",
            )
        if self.cfg.request_timeout_s:
            job.deadline = time.perf_counter() + self.cfg.request_timeout_s
        return job

    def admit(self, job: Job) -> Job:
        """Prompt-length limit, then the queue. Blocking (tokenizes): called in a worker thread."""
        n = len(self.engine.encode(job.prompt))
        if n > self.cfg.max_prompt_tokens:
            raise ApiError(
                400,
                f"'messages': the prompt is {n} tokens; this server accepts at most "
                f"{self.cfg.max_prompt_tokens} (memo serve --max-prompt-tokens)",
                param="messages",
                code="context_length_exceeded",
            )
        try:
            return self.batcher.submit(job)
        except QueueFull as e:
            raise ApiError(
                503, f"server busy: {e}; retry shortly", "server_error", headers={"Retry-After": "1"}
            ) from None
        except GrammarError as e:  # a schema the grammar library rejects
            raise ApiError(400, str(e), param="response_format") from None
        except MemoError as e:
            raise ApiError(400, str(e), param="messages", code="context_length_exceeded") from None

    async def _admit(self, job: Job) -> None:
        # tokenizing a short prompt takes well under a millisecond: a thread hop would cost more than it saves
        # (a response_format is compiled to a grammar in admit(): the first one per model takes ~0.5 s)
        if len(job.prompt) <= INLINE_PROMPT_CHARS and job.response_format is None:
            self.admit(job)
        else:
            await anyio.to_thread.run_sync(self.admit, job)

    async def _chat(self, request: Request) -> Response:
        req = parse_body(ChatRequest, await read_body(request, self.cfg))
        job = self.chat_job(req)
        loop = asyncio.get_running_loop()
        rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if req.stream:
            tokens: asyncio.Queue = asyncio.Queue()  # text pieces, then None when the job is done
            job.on_token = lambda text, tid: loop.call_soon_threadsafe(tokens.put_nowait, text)
            job.done = _LoopDone(loop, then=lambda: tokens.put_nowait(None))
            await self._admit(job)
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(
                self._sse(job, tokens, rid, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        job.done = _LoopDone(loop)
        await self._admit(job)
        if not await _wait_or_leave(job, request, _time_left(job)):
            return Response(status_code=499)  # the client left: nobody reads this
        _raise_job_error(job)
        c = job.result
        return JSONResponse(
            {
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
        )

    async def _sse(self, job: Job, tokens: asyncio.Queue, rid: str, include_usage: bool):
        created = int(time.time())
        self._streams.add(tokens)  # removed in the finally below

        def chunk(delta: dict | None, finish=None, **extra) -> bytes:
            obj = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_id,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                try:
                    text = await asyncio.wait_for(tokens.get(), _time_left(job))
                except TimeoutError:  # past the deadline and the scheduler has not answered: stop waiting
                    job.cancel()
                    break
                if text is None:
                    break
                if text is _SHUTDOWN:
                    job.cancel()
                    err = ApiError(503, "the server is shutting down; ask again", "server_error", code="shutdown")
                    yield b"data: " + json.dumps(error_body(503, str(err), err.kind, code=err.code)).encode() + b"\n\n"
                    yield b"data: [DONE]\n\n"
                    return
                if text:
                    yield chunk({"content": text})
            err = _job_error(job)
            if err is not None:
                yield (
                    b"data: " + json.dumps(error_body(err.status, str(err), err.kind, code=err.code)).encode() + b"\n\n"
                )
            else:
                yield chunk({}, job.result.finish_reason)
                if include_usage:
                    yield chunk(None, usage=usage(job.result))
            yield b"data: [DONE]\n\n"
        finally:  # normal end, or the client went away (this generator is cancelled), or shutdown gave up on us
            self._streams.discard(tokens)
            if not job.done.is_set():
                job.cancel()

    # ---- the MeMo protocol -------------------------------------------------------------------------------------
    def ask(self, req: AskRequest, cancel: threading.Event | None = None) -> dict:
        if not req.question.strip():
            raise ApiError(400, "'question': expected a non-empty string", param="question")
        if req.protocol is not None and req.protocol not in MODES:
            raise ApiError(400, f"'protocol': expected one of {', '.join(MODES)}", param="protocol")
        if self.engine.surely_longer(req.question, self.cfg.max_tokens) or (
            len(self.engine.encode(req.question)) > self.cfg.max_tokens
        ):
            raise ApiError(400, f"'question': longer than {self.cfg.max_tokens} tokens", param="question")
        try:
            ans = self.asker.ask(req.question, mode=req.protocol, cancel=cancel)
        except NoExecutive as e:
            raise ApiError(400, str(e), param="protocol", code="no_executive") from None
        except QueueFull as e:
            raise ApiError(
                503, f"server busy: {e}; retry shortly", "server_error", headers={"Retry-After": "1"}
            ) from None
        return {"object": "memo.answer", "model": self.model_id, **ans.to_dict(with_trace=req.trace)}

    async def _ask(self, request: Request) -> Response:
        req = parse_body(AskRequest, await read_body(request, self.cfg))
        if self._ask_slots is None:  # one protocol run per batch row at most; the rest wait their turn
            self._ask_slots = anyio.CapacityLimiter(self.engine.max_batch)
        out: list = []  # the answer, or the exception the run raised (kept out of the task group's ExceptionGroup)
        left = False
        # The run's memory calls go through Batcher.generate, which makes its own jobs: a client that leaves or a
        # deadline stops the wait, and `cancel` stops the run in its thread before its next executive or memory
        # call (a paid executive is not called for an answer nobody will read).
        cancel = threading.Event()
        with anyio.move_on_after(self.cfg.request_timeout_s):
            async with anyio.create_task_group() as tg:

                async def client_left():
                    nonlocal left
                    while (await request.receive())["type"] != "http.disconnect":
                        pass
                    left = True
                    tg.cancel_scope.cancel()

                tg.start_soon(client_left)
                try:
                    out.append(
                        await anyio.to_thread.run_sync(
                            self.ask, req, cancel, limiter=self._ask_slots, abandon_on_cancel=True
                        )
                    )
                except Exception as e:  # noqa: BLE001 - re-raised below, outside the task group
                    out.append(e)
                tg.cancel_scope.cancel()
        if not out:
            cancel.set()  # the run is abandoned: it stops at its next call
        if left:
            return Response(status_code=499)  # nobody reads this
        if not out:
            raise ApiError(
                504,
                "the protocol run went past its deadline (memo serve --request-timeout)",
                "server_error",
                code="timeout",
            )
        if isinstance(out[0], Exception):
            raise out[0]
        return JSONResponse(out[0])


def memory_messages(chat: ChatFormat, messages: list[dict]) -> list[dict]:
    """The client's turns inside the trained memory prompt: the system turn is always the one the model was trained
    on; a client's system/developer messages are kept as context after it (in that same turn), never instead of
    it. Measured on the demo set: see runtime/README.md, "System messages"."""
    extra = [content_text(m["content"]).strip() for m in messages if m["role"] in ("system", "developer")]
    system = "\n\n".join([chat.default_system, *[e for e in extra if e]])
    turns = [m for m in messages if m["role"] not in ("system", "developer")]
    if not turns:
        raise ApiError(400, "'messages': expected at least one user message", param="messages")
    return [{"role": "system", "content": system}, *turns]


def _time_left(job: Job) -> float | None:
    # a little past the deadline: the scheduler answers an expired job itself when it can
    return None if job.deadline is None else max(0.0, job.deadline - time.perf_counter()) + 0.5


async def _wait_or_leave(job: Job, request: Request, timeout: float | None) -> bool:
    """Wait for the job; False if the client disconnected first. Either way out early, the job is cancelled (and
    reported as past its deadline by _job_error when the client is still there)."""

    async def client_left():
        while (await request.receive())["type"] != "http.disconnect":
            pass

    finished = asyncio.ensure_future(job.done.wait_async())
    left = asyncio.ensure_future(client_left())
    try:
        await asyncio.wait({finished, left}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        finished.cancel()
        left.cancel()
    if job.done.is_set():
        return True
    job.cancel()
    return not (left.done() and not left.cancelled())


def _job_error(job: Job) -> ApiError | None:
    if not job.done.is_set():
        return ApiError(
            504, "the request ran past its deadline (memo serve --request-timeout)", "server_error", code="timeout"
        )
    e = job.error
    finish = getattr(job.result, "finish_reason", None)
    if isinstance(e, Cancelled) or finish in ("cancelled", "deadline"):
        return ApiError(
            504, "the request ran past its deadline (memo serve --request-timeout)", "server_error", code="timeout"
        )
    if isinstance(e, QueueFull):
        return ApiError(503, f"{e}; retry shortly", "server_error", headers={"Retry-After": "1"})
    if isinstance(e, MemoError):
        return ApiError(400, str(e))
    if e is not None:
        return ApiError(500, f"internal error: {type(e).__name__}: {e}", "server_error", code="internal_error")
    return None


def _raise_job_error(job: Job) -> None:
    err = _job_error(job)
    if err is not None:
        raise err


DRAIN_BYTES = 8 << 20  # past the body limit, this much more is read and dropped so the 413 reaches the client


async def read_body(request: Request, cfg: ServerConfig) -> bytes:
    """The request body, read as it arrives: the size limit holds whatever Content-Length says (or with chunked
    encoding), and the whole body must arrive within body_timeout_s.

    Over the limit, the rest is read and dropped (up to DRAIN_BYTES, never kept) before the 413: closing a socket
    with unread data resets the connection, and the client would see a reset instead of the answer."""
    ctype = request.headers.get("content-type")
    if ctype is not None and ctype.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, f"Content-Type '{ctype}': expected application/json")
    too_big = ApiError(413, f"request body over {cfg.max_body_bytes} bytes (memo serve --max-body-bytes)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cfg.max_body_bytes + DRAIN_BYTES:
        raise too_big  # not worth reading: answer and close now
    buf, seen = bytearray(), 0
    try:
        with anyio.fail_after(cfg.body_timeout_s):
            async for piece in request.stream():
                seen += len(piece)
                if seen <= cfg.max_body_bytes:
                    buf += piece
                elif seen > cfg.max_body_bytes + DRAIN_BYTES:
                    break
    except TimeoutError:
        raise ApiError(408, f"request body not received within {cfg.body_timeout_s:g} s") from None
    except ClientDisconnect:
        raise ApiError(400, "client disconnected while sending the body") from None
    if seen > cfg.max_body_bytes:
        raise too_big
    return bytes(buf)


async def _on_api_error(request: Request, e: Exception) -> Response:
    return error_response(e)  # type: ignore[arg-type]


async def _on_http_error(request: Request, e: Exception) -> Response:
    assert isinstance(e, HTTPException)
    if e.status_code == 404:
        msg = f"no route {request.method} {request.url.path}"
    elif e.status_code == 405:
        msg = f"method {request.method} not allowed on {request.url.path}"
    else:
        msg = str(e.detail)
    return error_response(ApiError(e.status_code, msg, headers=e.headers))


async def _on_crash(request: Request, e: Exception) -> Response:  # one request failing never kills the server
    return error_response(
        ApiError(500, f"internal error: {type(e).__name__}: {e}", "server_error", code="internal_error")
    )


# ---- who may call ---------------------------------------------------------------------------------------------
def _host_name(value: str | None) -> str | None:
    """'[::1]:8088' -> '::1', 'LocalHost' -> 'localhost'; None if it does not parse as host[:port]."""
    if not value:
        return None
    try:
        parts = urlsplit("//" + value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or not parts.hostname:
        return None
    return parts.hostname.lower().rstrip(".")


def _allowed_hosts(cfg: ServerConfig) -> set[str] | None:
    """Host header names accepted (None = any): loopback, the address we bind when it is a specific one, and
    --allow-host. A web page that rebinds its own domain to 127.0.0.1 still sends its own name as Host."""
    if "*" in cfg.allow_hosts:
        return None
    names = {*LOOPBACK, *(_host_name(h) or h.lower() for h in cfg.allow_hosts)}
    if cfg.host not in ANY_HOST:
        names.add(cfg.host.strip("[]").lower())
    return names


class _Guard:
    """ASGI middleware in front of every route: connection and header limits, the Host allowlist (Starlette's
    TrustedHostMiddleware decides), an Origin check, CORS for the configured origins (Starlette's CORSMiddleware:
    preflights and response headers), then the API key. Runs before the body is read, so a refused request costs
    nothing; every refusal is an OpenAI-shaped JSON error."""

    def __init__(self, app, server: MemoServer):
        self.app, self.srv = app, server
        self.cfg = cfg = server.cfg
        hosts = server._hosts
        patterns = ["*"] if hosts is None else sorted({*hosts, *(f"[{h}]" for h in hosts if ":" in h)})
        self.trusted = TrustedHostMiddleware(self._host_passed, allowed_hosts=patterns, www_redirect=False)
        self.cors = self._authorized
        if cfg.cors_origins:  # preflights are answered before the API key: browsers send no credentials there
            self.cors = CORSMiddleware(
                self._authorized,
                allow_origins=list(cfg.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )

    def _origin_allowed(self, origin: str) -> bool:
        return "*" in self.cfg.cors_origins or origin in self.cfg.cors_origins

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._limits(scope)
        if refusal is not None:
            return await error_response(refusal)(scope, receive, send)

        async def after_host(message):  # TrustedHostMiddleware's own plain-text refusal is dropped: ours follows
            if scope.get(_HOST_OK):
                await send(message)

        await self.trusted(scope, receive, after_host)
        if not scope.get(_HOST_OK):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            e = ApiError(
                403,
                f"Host '{host}' is not served here (loopback names only; add names with memo serve --allow-host)",
                "permission_error",
                code="bad_host",
            )
            await error_response(e)(scope, receive, send)

    async def _host_passed(self, scope, receive, send):
        scope[_HOST_OK] = True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin, site = headers.get("origin"), headers.get("sec-fetch-site")
        # Browsers send Origin on every cross-origin request, "simple" text/plain POSTs included, and
        # Sec-Fetch-Site where Origin may be missing. Any page is foreign here: we serve none.
        if (origin is not None and not self._origin_allowed(origin)) or (
            origin is None and site in ("cross-site", "same-site")
        ):
            e = ApiError(
                403,
                f"cross-origin request from '{origin or site}' refused (allow a desktop app's "
                "origin with memo serve --cors-origin)",
                "permission_error",
                code="bad_origin",
            )
            return await error_response(e)(scope, receive, send)
        await self.cors(scope, receive, send)

    async def _authorized(self, scope, receive, send):
        refusal = self._auth({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]})
        if refusal is not None:
            return await error_response(refusal)(scope, receive, send)
        await self.app(scope, receive, send)

    def _limits(self, scope) -> ApiError | None:
        state = self.srv.uvicorn.server_state
        if max(len(state.connections), len(state.tasks)) > self.cfg.max_connections:
            return ApiError(
                503,
                f"server busy: more than {self.cfg.max_connections} connections (memo serve --max-connections); "
                "retry shortly",
                "server_error",
                code="too_many_connections",
                headers={"Retry-After": "1", "Connection": "close"},
            )
        # h11 caps a head that arrives in pieces (max_header_bytes); one that arrives whole in a single read
        # (up to 256 KB) is parsed, and refused here
        size = (
            len(scope["raw_path"]) + len(scope["query_string"]) + sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        )
        if size > self.cfg.max_header_bytes:
            return ApiError(
                431,
                f"request headers are {size} bytes; at most {self.cfg.max_header_bytes}",
                headers={"Connection": "close"},
            )
        return None

    def _auth(self, headers: dict) -> ApiError | None:
        if not self.cfg.api_key:
            return None
        got = headers.get("authorization", "")
        token = got[7:].strip() if got.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), self.cfg.api_key.encode()):
            return ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)", "authentication_error")
        return None


_HOST_OK = "memo.host_ok"  # set in the ASGI scope once TrustedHostMiddleware let the request through


# ---- uvicorn ----------------------------------------------------------------------------------------------------
def _protocol(cfg: ServerConfig) -> type:
    def body(msg: str) -> bytes:
        return json.dumps(error_body(400, f"malformed HTTP request: {msg}", code="bad_http_request")).encode()

    return policy_protocol(cfg.header_timeout_s, cfg.max_connections, body)


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that tells what it does on a signal (the CLI prints it) instead of logging."""

    on_signal = None
    before_cut = None  # called in the event loop shortly before the graceful-shutdown timeout cancels requests

    async def shutdown(self, sockets=None) -> None:
        grace = self.config.timeout_graceful_shutdown
        if grace is not None and self.before_cut is not None:
            asyncio.get_running_loop().call_later(max(0.0, grace - min(1.0, grace / 2)), self.before_cut)
        await super().shutdown(sockets)

    def handle_exit(self, sig, frame) -> None:
        if self.on_signal is not None:
            self.on_signal(sig, self.should_exit)
        super().handle_exit(sig, frame)
