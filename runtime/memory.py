"""`Memory`: a pack + the memory prompt from its manifest, answering questions (batched, prefix KV reused)."""

from __future__ import annotations

import os
from typing import Any, Protocol

from memo_edge.prompt import MemoryPrompt
from memo_edge.protocol import Answer

from .ask import AskService, raise_on_fallback
from .config import MAX_BATCH
from .engine import Completion, Engine
from .executives import make_executive
from .loader import shared_engine

__all__ = ["Generator", "Memory", "shared_engine"]  # shared_engine lived here first: kept for its importers


class Generator(Protocol):
    """What Memory needs from an engine; the server's batcher offers the same call."""

    def generate(self, prompts: list[str], **kw: Any) -> list[Completion]: ...


class Memory:
    def __init__(self, engine: Engine, generator: Generator | None = None, seed: int | None = None):
        self.engine = engine
        self.generator: Generator = generator or engine
        self.prompt: MemoryPrompt = engine.manifest.prompt
        self.defaults = engine.manifest.generation
        self.seed = seed

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        threads: int | None = None,
        provider: str | None = None,
        seed: int | None = None,
        trusted_keys=None,
        max_batch: int = MAX_BATCH,
    ) -> Memory:
        """A pack directory or .memopack; trusted_keys (public key files) refuses unsigned and foreign packs;
        max_batch: rows decoded together (LoadConfig.max_batch)."""
        return cls(shared_engine(path, threads, provider, trusted_keys, max_batch), seed=seed)

    @property
    def pack_id(self) -> str:
        """sha256 of the pack's manifest.json (memo_edge.pack.Pack.pack_id)."""
        return self.engine.pack.pack_id

    @property
    def name(self) -> str:
        return self.engine.pack.root.name

    def complete(
        self,
        questions: list[str],
        temperature: float | None = None,
        max_new_tokens: int | None = None,
        on_token=None,
        seed: int | None = None,
    ) -> list[Completion]:
        """All questions in one batched run; completions carry the per-call timings."""
        if isinstance(questions, str):
            questions = [questions]
        if not questions:
            return []
        temperature = self.defaults.temperature if temperature is None else temperature
        max_new_tokens = self.defaults.max_new_tokens if max_new_tokens is None else max_new_tokens
        seed = self.seed if seed is None else seed
        seeds = [None if seed is None else seed + i for i in range(len(questions))]
        return self.generator.generate(
            [self.prompt.render(q) for q in questions],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=self.defaults.top_p,
            seed=seeds,
            stop=self.prompt.stop,
            on_token=on_token,
            prefix=self.prompt.prefix,
        )

    def answer(
        self, questions: list[str], temperature: float | None = None, max_new_tokens: int | None = None
    ) -> list[str]:
        return [c.text.strip() for c in self.complete(questions, temperature, max_new_tokens)]

    def ask(
        self,
        question: str,
        executive=None,
        protocol: str = "structured",
        config=None,
        tracer=None,
        executive_model: str | None = None,
        allow_fallback: bool = False,
    ) -> Answer:
        """MeMo's protocol (runtime.ask.AskService): `executive` is None/"none" (memory answers directly), an
        OpenAI-compatible URL, "local:PACK", a callable (messages, temperature, max_tokens) -> str, or an Executive.

        A failed executive never passes silently: when it is unreachable or never replies usably, the protocol
        finishes with its best-known answer and this raises `memo_edge.errors.ExecutiveError` (its `.answer` is
        that fallback Answer, its message the cause). With allow_fallback=True the fallback Answer is returned
        instead, with `status == "fallback"` and `error` set, for callers that count fallbacks (memo eval).
        """
        service = AskService(self, make_executive(executive, model=executive_model), config, protocol)
        answer = service.ask(question, tracer=tracer)
        return answer if allow_fallback else raise_on_fallback(answer)
