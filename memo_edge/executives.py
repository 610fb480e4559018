"""EXECUTIVE clients: anything with `complete(messages, temperature, max_tokens) -> str`.

- `OpenAIExecutive`: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, OpenAI) via ChatEndpoint
  (API key from an environment variable, timeouts, retries with backoff).
- `CallableExecutive`: a Python function, for library users (and the lead's oracle executive).

A local instruct model pack (`local:PACK`) needs the engine: `LocalExecutive` and `make_executive` (a spec such as
"none", a URL or "local:PACK" -> an executive) are in the runtime, `memo_edge.runtime.executives`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import httpx

from .openai_client import ChatEndpoint, run_blocking


@runtime_checkable
class Executive(Protocol):
    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str: ...


class OpenAIExecutive:
    def __init__(
        self,
        url: str | list[str],
        model: str = "default",
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 3,
    ):
        self.endpoint = ChatEndpoint(
            urls=url if isinstance(url, list) else [url],
            model=model,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        self._client = None

    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str:
        if self._client is None:  # one connection pool per executive: the protocol makes many short calls
            self._client = httpx.AsyncClient(timeout=self.endpoint.timeout_s)
        return self.endpoint.chat(messages, temperature=temperature, max_tokens=max_tokens, client=self._client)

    def close(self) -> None:
        if self._client is not None:
            run_blocking(self._client.aclose())
            self._client = None

    def __repr__(self) -> str:
        return f"OpenAIExecutive({self.endpoint.urls[0]}, model={self.endpoint.model})"


class CallableExecutive:
    """Wraps fn(messages, temperature, max_tokens) -> str (or fn(messages) -> str)."""

    def __init__(self, fn: Callable[..., str]):
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters
            self._full = len(params) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in params.values())
        except (TypeError, ValueError):
            self._full = True

    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str:
        out = self.fn(messages, temperature, max_tokens) if self._full else self.fn(messages)
        if not isinstance(out, str):
            raise TypeError(f"executive callable returned {type(out).__name__}, expected str")
        return out
