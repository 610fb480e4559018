"""EXECUTIVE clients: anything with `complete(messages, temperature, max_tokens, response_format=None) -> str`.

`response_format` is the stage reply's schema in OpenAI's structured-output form
(`{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`, memo_edge.protocol.replies): an
executive that can constrain its output to it should; one that cannot ignores it (the protocol still reads replies
leniently).

- `OpenAIExecutive`: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, OpenAI) via ChatEndpoint
  (API key from an environment variable, timeouts, retries with backoff). It sends the schema; an endpoint that
  refuses it is asked once with llama.cpp's form `{"type": "json_object", "schema": ...}` (which llama.cpp
  enforces and others treat as JSON mode), then without `response_format`. The form it accepted is remembered for
  the executive's life (one `memo ask`, `memo eval` or server run) in `accepted_format`, each refusal in
  `format_refusals`; the protocol traces and reports both. With `schema=False` it sends none (accepted_format
  "text").
- `CallableExecutive`: a Python function, for library users (and the lead's oracle executive).

A local instruct model pack (`local:PACK`) needs the engine: `LocalExecutive` and `make_executive` (a spec such as
"none", a URL or "local:PACK" -> an executive) are in the runtime, `memo_edge.runtime.executives`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import httpx

from .openai_client import ChatEndpoint, FormatRefused, run_blocking


@runtime_checkable
class Executive(Protocol):
    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str: ...


# What an OpenAI-compatible endpoint is asked for, best first; each refusal moves one step down, for good.
FORMATS = ("json_schema", "json_object", "text")


# Strings in llama.cpp's form, and in every schema a local executive decodes under, are bounded: a grammar then
# closes them, where a small model left alone writes one
# string until the token budget runs out (SmolLM2-135M: a 3,000-character justification), and cannot leave one
# empty (an empty final_answer or sub-question is an unusable reply: a repair round). Strict json_schema mode
# refuses string lengths, so only this form carries them; prompts clip executive values to 200 anyway.
STRING_CHARS = 100

# ... and say which characters a string may hold. JSON forbids raw control characters inside a string, but
# llama-cpp-python's schema converter (0.3.36, llama_cpp/llama_grammar.py: `char ::= [^"\\] | escape`; llama.cpp's
# own converter excludes \x00-\x1F) lets them in: SmolLM2-135M wrote a raw newline into a known fact, the reply no
# longer parsed and cost a repair round. Both llama.cpp converters read a string's `pattern` before its lengths, so
# the pattern carries the length too. It admits no escapes: read as JSON Schema means it (the decoded value) or as
# llama.cpp does (the raw text between the quotes), it then says the same thing.
STRING_CHARSET = r'[^"\\\x00-\x1F]'


def wire_format(kind: str, response_format: dict) -> dict | None:
    """The request's `response_format` in form `kind`, from the protocol's json_schema form."""
    if kind == "text":
        return None
    if kind == "json_object":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json_object", **({"schema": bounded_schema(schema)} if schema else {})}
    return response_format


def bounded_schema(node):
    """The schema as a grammar should get it (llama.cpp's form; the local:PACK and GGUF executives): every free
    string 1 to STRING_CHARS characters of STRING_CHARSET unless the schema says otherwise (its own lengths are
    kept, its own pattern wins)."""
    if isinstance(node, list):
        return [bounded_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: bounded_schema(v) if k in ("properties", "items", "anyOf") or isinstance(v, dict) else v
        for k, v in node.items()
    }
    if out.get("type") == "string" and not {"enum", "const", "format", "pattern"} & set(out):
        out.setdefault("minLength", 1)
        out.setdefault("maxLength", STRING_CHARS)
        out["pattern"] = f"^{STRING_CHARSET}{{{out['minLength']},{out['maxLength']}}}$"
    return out


class OpenAIExecutive:
    def __init__(
        self,
        url: str | list[str],
        model: str = "default",
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 3,
        schema: bool = True,
    ):
        self.schema = schema  # False: never send a response_format (the replies are read leniently)
        self.endpoint = ChatEndpoint(
            urls=url if isinstance(url, list) else [url],
            model=model,
            api_key_env=api_key_env,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        self._client = None
        self.accepted_format: str | None = None  # the form the endpoint last took (FORMATS), None before any
        self.format_refusals: list[str] = []  # one line per refused form, oldest first
        self._step = 0  # index into FORMATS: where the next request with a response_format starts
        self._lock = threading.Lock()  # memo serve shares one executive between requests

    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str:
        if self._client is None:  # one connection pool per executive: the protocol makes many short calls
            self._client = httpx.AsyncClient(timeout=self.endpoint.timeout_s)
        if response_format is None:
            return self._chat(messages, temperature, max_tokens, None)
        if not self.schema:
            self.accepted_format = "text"
            return self._chat(messages, temperature, max_tokens, None)
        while True:
            step = self._step
            kind = FORMATS[step]
            wire = wire_format(kind, response_format)
            try:
                reply = self._chat(messages, temperature, max_tokens, wire)
            except FormatRefused as e:
                if wire is None:  # cannot happen (nothing to refuse): never loop on it
                    raise
                with self._lock:
                    if self._step == step:  # a concurrent request may have stepped down already
                        self._step = step + 1
                        self.format_refusals.append(f"{kind} refused, next {FORMATS[step + 1]}: {e}")
                continue
            self.accepted_format = kind
            return reply

    def _chat(self, messages, temperature, max_tokens, wire: dict | None) -> str:
        extra = {"response_format": wire} if wire is not None else None
        return self.endpoint.chat(
            messages, temperature=temperature, max_tokens=max_tokens, extra=extra, client=self._client
        )

    def close(self) -> None:
        if self._client is not None:
            run_blocking(self._client.aclose())
            self._client = None

    def __repr__(self) -> str:
        return f"OpenAIExecutive({self.endpoint.urls[0]}, model={self.endpoint.model})"


class CallableExecutive:
    """Wraps fn(messages, temperature, max_tokens[, response_format]) -> str (or fn(messages) -> str); the
    response_format reaches fn only when it names that parameter (or takes **kwargs)."""

    def __init__(self, fn: Callable[..., str]):
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters
            self._full = len(params) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in params.values())
            self._format = "response_format" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            self._full, self._format = True, False

    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str:
        if self._format:
            out = self.fn(messages, temperature, max_tokens, response_format=response_format)
        else:
            out = self.fn(messages, temperature, max_tokens) if self._full else self.fn(messages)
        if not isinstance(out, str):
            raise TypeError(f"executive callable returned {type(out).__name__}, expected str")
        return out
