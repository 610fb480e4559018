"""Options of the runtime's verbs (`memo ask | eval | serve | mcp`), each declared once, here.

Plain pydantic, no engine or server imports: the CLI imports this module to build its options, and `memo --help`
must not load onnxruntime or uvicorn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["structured", "single-turn", "none"]


class LoadConfig(BaseModel):
    """How a pack is loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threads: int | None = Field(
        None, ge=1, description="CPU threads (default: physical cores, at most 8; or $MEMO_THREADS)."
    )
    provider: str = Field(
        "auto", description="auto (CUDA when available, else CPU), cpu, cuda, or an onnxruntime provider name."
    )
    trusted_keys: list[Path] = Field(
        [],
        description="Public key file (memo keygen's KEY.pub); repeatable. The pack "
        "must be signed by one of them: unsigned or foreign packs are "
        "refused. Default: $MEMO_TRUSTED_KEY.",
    )
    # The one declaration of the batch cap: Engine, Batcher, MemoServer and the MCP server all take it from here.
    max_batch: int = Field(
        16,
        ge=1,
        description="Most requests decoded together in one batch (questions of one call, concurrent clients of "
        "memo serve / memo mcp).",
    )

    abstain: bool = Field(
        True,
        description="Answer 'I don't know.' without running the model to a question whose content words the "
        "memory mostly never saw (the pack's known_terms and manifest 'abstain'; packs without them always run "
        "the model). Off: every question goes to the model.",
    )

    def engine_kwargs(self) -> dict:
        """Keyword arguments of Memory.load."""
        return {
            "abstain": self.abstain,
            "threads": self.threads,
            "provider": None if self.provider == "auto" else self.provider,
            "trusted_keys": list(self.trusted_keys) or None,
            "max_batch": self.max_batch,
        }


MAX_BATCH = LoadConfig.model_fields["max_batch"].default


class ExecutiveConfig(BaseModel):
    """Which executive questions the memory (runtime.executives.from_config makes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    executive: str = Field(
        "none",
        description="none (the memory answers directly), an OpenAI-compatible base URL "
        "(e.g. http://127.0.0.1:8000/v1; comma-separate several), or "
        "local:PACK. memo eval also takes oracle (gold decompositions).",
    )
    executive_model: str = Field("default", description="Model name sent to the executive endpoint.")
    executive_api_key_env: str = Field(
        "OPENAI_API_KEY", description="Environment variable holding the executive endpoint's API key."
    )
    executive_timeout_s: float = Field(60.0, gt=0, description="Seconds per executive call (the whole reply).")
    executive_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries per executive call (backoff with jitter) on 429/5xx/timeouts/dropped connections.",
    )
    executive_schema: bool = Field(
        True,
        description="Ask the executive for each stage's JSON schema: a URL executive is sent it as response_format, "
        "local:PACK and local:MODEL.gguf decode under it. --no-executive-schema: the executive writes freely and "
        "its replies are read leniently (to measure what the schema buys).",
    )


MAX_QUEUE = 256


class ServerConfig(BaseModel):
    """`memo serve`: who may call, what they may send, and how long everything may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(
        "127.0.0.1",
        description="Interface to bind. Loopback by default: other machines cannot "
        "connect unless you choose otherwise.",
    )
    port: int = Field(8088, ge=0, le=65535, description="TCP port (0 = pick a free one).")
    api_key: str | None = Field(
        None,
        description="Every request must send Authorization: Bearer KEY (else 401). "
        "The CLI reads it from the variable --api-key-env names.",
    )
    model_id: str | None = Field(
        None, description="Model id clients send (default: the pack's name from its manifest)."
    )
    max_body_bytes: int = Field(1 << 20, ge=256, description="Largest request body accepted.")
    max_tokens: int = Field(512, ge=1, description="Largest max_tokens a request may ask for.")
    default_max_tokens: int = Field(128, ge=1, description="max_tokens of a request that names none.")
    max_prompt_tokens: int = Field(
        2048, ge=1, description="Longest rendered prompt accepted; longer ones get 400 instead of freezing the worker."
    )
    max_queue: int = Field(MAX_QUEUE, ge=1, description="Queued requests beyond this get 503 + Retry-After.")
    max_connections: int = Field(
        1024, ge=1, description="Past this many connections: a JSON 503, and idle ones get 1 s to send a request."
    )
    protocol: Mode = Field("structured", description="Default protocol for /v1/memo/ask.")
    cors_origins: tuple[str, ...] = Field(
        (),
        description="Browser origin allowed to call the API (repeatable; * for "
        "any), for desktop apps that call it from a webview. "
        "Requests from other origins get 403.",
    )
    allow_hosts: tuple[str, ...] = Field(
        (),
        description="Host header name accepted besides localhost/127.0.0.1/"
        "[::1] and the --host address (repeatable; * for any). "
        "Others get 403.",
    )
    request_timeout_s: float | None = Field(
        300.0, gt=0, description="Seconds a generation may take from arrival; then 504."
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds from connecting (or the last response) until "
        "the request headers are complete; then the connection "
        "is closed.",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="Seconds from the headers until the whole body is read; then 408."
    )
    keep_alive_s: int = Field(5, ge=1, description="Idle keep-alive connections are closed after this many seconds.")
    shutdown_timeout_s: float = Field(
        30.0, gt=0, description="Seconds in-flight requests get to finish after SIGTERM/Ctrl-C."
    )
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="Longest request line + headers.")
    backlog: int = Field(256, ge=1, description="Listen backlog: many clients connecting at once are not reset.")


class McpConfig(BaseModel):
    """`memo mcp`: where it listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    port: int | None = Field(
        None, ge=0, le=65535, description="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio."
    )
    host: str = Field("127.0.0.1", description="Interface for --port (loopback by default).")
