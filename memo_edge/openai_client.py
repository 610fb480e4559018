"""The one client for OpenAI-compatible chat endpoints (vLLM, Ollama, llama.cpp server, OpenAI), on httpx + tenacity.

Used by the `openai` GENERATOR backend, the OpenAI EXECUTIVE and the judge. Each attempt has a deadline
(`timeout_s`: the whole reply, not each read); tenacity retries with exponential backoff and jitter (or the server's
Retry-After) on 429/5xx, deadlines and dropped connections; several base URLs are used round-robin, one per attempt.
Errors name the URL and what went wrong.

Why not the `openai` SDK: its timeouts are httpx's per-read ones (a server dripping bytes never times out), one
client has one base URL, and importing it took 0.57 s more than httpx per process (`memo ask` pays that); a call
costs the same (48 vs 51 ms against the test server).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import threading
from dataclasses import dataclass, field

import anyio
import httpx
from anyio.from_thread import BlockingPortal
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from .errors import MemoError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    """A chat call failed after all retries (or with a non-retryable status)."""


class FormatRefused(ChatError):
    """The endpoint refused the request's `response_format`: its error names that field, whatever the status
    (llama-cpp-python's server answers a json_schema it does not take with a 500). Never retried as sent."""


@dataclass
class ChatEndpoint:
    urls: list[str]
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    _rr: itertools.cycle = field(init=False, repr=False)

    def __post_init__(self):
        if isinstance(self.urls, str):
            self.urls = [self.urls]
        if not self.urls:
            raise MemoError("url: expected at least one OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1)")
        for u in self.urls:
            if not u.startswith(("http://", "https://")):
                raise MemoError(f"url '{u}': expected an http(s) base URL such as http://127.0.0.1:8000/v1")
        self._rr = itertools.cycle(range(len(self.urls)))

    def _url(self) -> str:
        base = self.urls[next(self._rr)].rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if not base.endswith("/v1"):
            base += "/v1"
        return base + "/chat/completions"

    def _headers(self) -> dict:
        key = os.environ.get(self.api_key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, messages, temperature, max_tokens, extra) -> dict:
        body = {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
        body.update(extra or {})
        return body

    def _delay(self, state: RetryCallState) -> float:
        """tenacity's wait: the server's Retry-After if it sent one, else exponential backoff with equal jitter."""
        retry_after = getattr(state.outcome.exception(), "retry_after", None)
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass
        base = min(self.backoff_s * 2 ** (state.attempt_number - 1), self.max_backoff_s)
        return base / 2 + random.uniform(0, base / 2)

    @staticmethod
    def _content(resp: httpx.Response) -> str:
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise _Retryable(f"unparseable response body ({type(e).__name__})") from None
        if not isinstance(content, str):
            raise _Retryable("response message has no text content")
        return content

    def _check(self, resp: httpx.Response, body: dict) -> str:
        if resp.status_code >= 400 and "response_format" in body and "response_format" in resp.text:
            raise FormatRefused(f"{resp.request.url}: HTTP {resp.status_code}: {resp.text[:300]}")
        if resp.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {resp.status_code}", resp.headers.get("retry-after"))
        if resp.status_code >= 400:
            raise ChatError(f"{resp.request.url}: HTTP {resp.status_code}: {resp.text[:200]}")
        return self._content(resp)

    def chat(
        self,
        messages: list[dict],
        temperature: float = 0.0,
        max_tokens: int = 512,
        extra: dict | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> str:
        """Blocking call for synchronous callers (the executive). It runs `achat` on the process's HTTP loop thread:
        only a coroutine can be cancelled mid-read, which is what makes `timeout_s` a deadline and not a per-read
        timeout. `client`, if given, is an httpx.AsyncClient (its pool lives on that loop)."""
        return run_blocking(self.achat(messages, temperature, max_tokens, extra, client=client))

    async def achat(
        self,
        messages: list[dict],
        temperature: float = 0.0,
        max_tokens: int = 512,
        extra: dict | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> str:
        """One chat call: each attempt must finish (connect, send, the whole reply) within `timeout_s`, a deadline
        that a server dripping bytes cannot stretch; failed attempts are retried `max_retries` times."""
        own = client is None
        client = client or httpx.AsyncClient(timeout=self.timeout_s)
        body = self._body(messages, temperature, max_tokens, extra)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._delay,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(client, body)
        except _Retryable as e:
            raise ChatError(f"chat call failed after {self.max_retries + 1} attempt(s): {e}") from None
        finally:
            if own:
                await client.aclose()

    async def _attempt(self, client: httpx.AsyncClient, body: dict) -> str:
        url = self._url()
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await client.post(url, json=body, headers=self._headers())
            return self._check(resp, body)
        except TimeoutError:
            raise _Retryable(f"{url}: no complete reply within the {self.timeout_s:g} s deadline") from None
        except _Retryable as e:
            raise _Retryable(f"{url}: {e}", e.retry_after) from None
        except httpx.TransportError as e:
            raise _Retryable(f"{url}: {type(e).__name__}: {str(e) or 'connection failed'}") from None


class _Portal:
    """anyio's BlockingPortal on a daemon thread: the one event loop where blocking callers' requests run (see
    ChatEndpoint.chat), so a pooled AsyncClient outlives each call. Not `start_blocking_portal()`: its loop runs in a
    non-daemon executor thread, which would hold the process open at exit unless every caller closed it."""

    def __init__(self):
        self.pid = os.getpid()
        started = threading.Event()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                self.portal = portal
                started.set()
                await portal.sleep_until_stopped()

        threading.Thread(target=anyio.run, args=(serve,), name="memo-http", daemon=True).start()
        started.wait()

    def run(self, coro):
        fut = self.portal.start_task_soon(_awaited, coro)
        try:
            return fut.result()
        except BaseException:
            fut.cancel()  # e.g. Ctrl-C in the caller: do not leave the request running
            raise


async def _awaited(coro):
    return await coro


_PORTAL: _Portal | None = None
_PORTAL_LOCK = threading.Lock()


def run_blocking(coro):
    """Run a coroutine on the process's HTTP event loop thread and wait for it (for synchronous callers)."""
    global _PORTAL
    with _PORTAL_LOCK:
        if _PORTAL is None or _PORTAL.pid != os.getpid():  # a forked child has no copy of the thread
            _PORTAL = _Portal()
        portal = _PORTAL
    return portal.run(coro)


class _Retryable(Exception):
    def __init__(self, msg: str, retry_after: str | None = None):
        super().__init__(msg)
        self.retry_after = retry_after
