"""`Memory`: a pack + the memory prompt from its manifest, answering questions (batched, prefix KV reused)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol

from memo_edge.pack import MANIFEST, Pack
from memo_edge.prompt import MemoryPrompt
from memo_edge.signing import check_signature, trusted_from_env

from .engine import Completion, Engine

_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


class Generator(Protocol):
    """What Memory needs from an engine; the server's batcher offers the same call."""

    def generate(self, prompts: list[str], **kw: Any) -> list[Completion]: ...


def shared_engine(path: str | os.PathLike, threads: int | None = None, provider: str | None = None,
                  trusted_keys=None) -> Engine:
    """One Engine per (pack, threads, provider) per process, so the prefix KV cache is computed once.

    trusted_keys: see Pack.open (None: $MEMO_TRUSTED_KEY). Checked on every call, also for a cached engine."""
    key = (str(Path(path).expanduser().resolve()), threads, provider)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(Pack.open(path, trusted_keys=trusted_keys), threads=threads, provider=provider)
        else:
            eng = _ENGINES[key]
            keys = trusted_from_env() if trusted_keys is None else trusted_keys
            if keys:
                eng.pack.signer = check_signature(eng.pack.root, (eng.pack.root / MANIFEST).read_bytes(), keys,
                                                  shown=Path(path))
        return _ENGINES[key]


class Memory:
    def __init__(self, engine: Engine, generator: Generator | None = None, seed: int | None = None):
        self.engine = engine
        self.generator: Generator = generator or engine
        self.prompt: MemoryPrompt = engine.manifest.prompt
        self.defaults = engine.manifest.generation
        self.seed = seed

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None, provider: str | None = None,
             seed: int | None = None, trusted_keys=None) -> "Memory":
        """A pack directory or .memopack; trusted_keys (public key files) refuses unsigned and foreign packs."""
        return cls(shared_engine(path, threads, provider, trusted_keys=trusted_keys), seed=seed)

    @property
    def pack_id(self) -> str:
        """sha256 of the pack's manifest.json (memo_edge.pack.Pack.pack_id)."""
        return self.engine.pack.pack_id

    @property
    def name(self) -> str:
        return self.engine.pack.root.name

    def complete(self, questions: list[str], temperature: float | None = None, max_new_tokens: int | None = None,
                 on_token=None, seed: int | None = None) -> list[Completion]:
        """All questions in one batched run; completions carry the per-call timings."""
        if isinstance(questions, str):
            questions = [questions]
        if not questions:
            return []
        t = self.defaults.temperature if temperature is None else temperature
        mx = self.defaults.max_new_tokens if max_new_tokens is None else max_new_tokens
        s = self.seed if seed is None else seed
        seeds = [None if s is None else s + i for i in range(len(questions))]
        return self.generator.generate([self.prompt.render(q) for q in questions], max_new_tokens=mx,
                                       temperature=t, top_p=self.defaults.top_p, seed=seeds,
                                       stop=self.prompt.stop, on_token=on_token, prefix=self.prompt.prefix)

    def answer(self, questions: list[str], temperature: float | None = None,
               max_new_tokens: int | None = None) -> list[str]:
        return [c.text.strip() for c in self.complete(questions, temperature, max_new_tokens)]

    def ask(self, question: str, executive=None, protocol: str = "structured", config=None, tracer=None,
            executive_model: str | None = None, allow_fallback: bool = False):
        """MeMo's protocol: `executive` is None/"none" (memory answers directly), an OpenAI-compatible URL,
        "local:PACK", a callable (messages, temperature, max_tokens) -> str, or an Executive.

        A failed executive never passes silently: when it is unreachable or never replies usably, the protocol
        finishes with its best-known answer and this raises `memo_edge.errors.ExecutiveError` (its `.answer` is
        that fallback Answer, its message the cause). With allow_fallback=True the fallback Answer is returned
        instead, with `status == "fallback"` and `error` set, for callers that count fallbacks (memo eval).
        """
        from memo_edge.errors import ExecutiveError
        from memo_edge.executives import make_executive
        from memo_edge.protocol import run_protocol

        ex = make_executive(executive, model=executive_model)
        ans = run_protocol(question, self, ex, mode=protocol, config=config, tracer=tracer)
        if ans.status == "fallback" and not allow_fallback:
            raise ExecutiveError(f"executive failed ({ans.error}); fallback answer: {ans.final_answer!r}", ans)
        return ans
