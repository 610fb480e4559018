"""EXECUTIVE clients: anything with `complete(messages, temperature, max_tokens) -> str`.

- `OpenAIExecutive`: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, OpenAI) via ChatEndpoint
  (API key from an environment variable, timeouts, retries with backoff).
- `LocalExecutive`: a local instruct model pack (`local:PACK`) run by the same torch-free engine.
- `CallableExecutive`: a Python function, for library users (and the lead's oracle executive).
"""

from __future__ import annotations

import inspect
from typing import Callable, Protocol, runtime_checkable

from .errors import MemoError


@runtime_checkable
class Executive(Protocol):
    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str: ...


class OpenAIExecutive:
    def __init__(self, url: str | list[str], model: str = "default", api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, max_retries: int = 3):
        from .openai_client import ChatEndpoint

        self.endpoint = ChatEndpoint(urls=url if isinstance(url, list) else [url], model=model,
                                     api_key_env=api_key_env, timeout_s=timeout_s, max_retries=max_retries)
        self._client = None

    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str:
        import httpx

        if self._client is None:  # one connection pool per executive: the protocol makes many short calls
            self._client = httpx.AsyncClient(timeout=self.endpoint.timeout_s)
        return self.endpoint.chat(messages, temperature=temperature, max_tokens=max_tokens, client=self._client)

    def close(self) -> None:
        if self._client is not None:
            from .openai_client import run_blocking

            run_blocking(self._client.aclose())
            self._client = None

    def __repr__(self) -> str:
        return f"OpenAIExecutive({self.endpoint.urls[0]}, model={self.endpoint.model})"


class LocalExecutive:
    """An instruct model pack run locally; chat messages rendered with the pack's own chat format."""

    def __init__(self, pack_path: str, threads: int | None = None, provider: str | None = None,
                 seed: int | None = None):
        from memo_edge.runtime.chat import ChatFormat
        from memo_edge.runtime.memory import shared_engine

        self.engine = shared_engine(pack_path, threads, provider)
        self.chat = ChatFormat.from_memory_prompt(self.engine.manifest.prompt)
        self.seed = seed

    def complete(self, messages: list[dict], temperature: float, max_tokens: int) -> str:
        prompt = self.chat.render(messages)
        c = self.engine.generate([prompt], max_new_tokens=max_tokens, temperature=temperature, seed=self.seed,
                                 stop=self.chat.stop, prefix=self.chat.system_prefix(messages))[0]
        return c.text

    def __repr__(self) -> str:
        return f"LocalExecutive({self.engine.pack.root})"


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


def make_executive(spec, model: str | None = None, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0,
                   max_retries: int = 3, threads: int | None = None, seed: int | None = None) -> Executive | None:
    """None/"none" -> None (memory answers alone); "http(s)://..." -> OpenAI-compatible; "local:PACK" -> local
    engine; an Executive or callable -> used as is."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        return None
    if isinstance(spec, str):
        s = spec.strip()
        if s.startswith(("http://", "https://")):
            return OpenAIExecutive([u.strip() for u in s.split(",") if u.strip()], model=model or "default",
                                   api_key_env=api_key_env, timeout_s=timeout_s, max_retries=max_retries)
        if s.startswith("local:"):
            path = s[len("local:"):]
            if not path:
                raise MemoError("executive 'local:': expected local:PACK_DIR (a pack of an instruct model)")
            return LocalExecutive(path, threads=threads, seed=seed)
        raise MemoError(f"executive '{spec}': expected none, an http(s):// OpenAI-compatible URL, or local:PACK")
    if hasattr(spec, "complete"):
        return spec
    if callable(spec):
        return CallableExecutive(spec)
    raise MemoError(f"executive {spec!r}: expected none, a URL, local:PACK, an Executive or a callable")
