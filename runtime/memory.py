"""`Memory`: a pack + the memory prompt from its manifest, answering questions (batched, prefix KV reused)."""

from __future__ import annotations

import os
from typing import Any, Protocol

from memo_edge.prompt import IDK_ANSWER, MemoryPrompt
from memo_edge.protocol import Answer
from memo_edge.vocabulary import KnownTerms

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
    def __init__(
        self, engine: Engine, generator: Generator | None = None, seed: int | None = None, abstain: bool = True
    ):
        self.engine = engine
        self.generator: Generator = generator or engine
        self.prompt: MemoryPrompt = engine.manifest.prompt
        self.defaults = engine.manifest.generation
        self.seed = seed
        # the pack's known terms (memo_edge.vocabulary): None when the pack has none or abstaining is turned off
        rule = engine.manifest.abstain
        self.known: KnownTerms | None = None
        self.min_known_share = rule.min_known_share if rule else 0.0
        if abstain and rule and "known_terms" in engine.manifest.files:
            self.known = KnownTerms.load(engine.pack.path("known_terms"))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        threads: int | None = None,
        provider: str | None = None,
        seed: int | None = None,
        trusted_keys=None,
        max_batch: int = MAX_BATCH,
        abstain: bool = True,
    ) -> Memory:
        """A pack directory or .memopack; trusted_keys (public key files) refuses unsigned and foreign packs;
        max_batch: rows decoded together (LoadConfig.max_batch); abstain: answer "I don't know." to questions about
        things the memory never saw, as the pack's manifest says (LoadConfig.abstain)."""
        return cls(shared_engine(path, threads, provider, trusted_keys, max_batch), seed=seed, abstain=abstain)

    def abstains(self, question: str) -> bool:
        """True when the question is about something the memory was never trained on (see memo_edge.vocabulary)."""
        return self.known is not None and self.known.unknown_to(question, self.min_known_share)

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
        """All questions in one batched run; completions carry the per-call timings. A question the memory abstains
        on gets "I don't know." (finish_reason "abstain") without running the model."""
        if isinstance(questions, str):
            questions = [questions]
        refused = [self.abstains(q) for q in questions]
        if not any(refused):
            return self._generate(questions, temperature, max_new_tokens, on_token, seed)
        asked = [q for q, r in zip(questions, refused) if not r]
        index = [i for i, r in enumerate(refused) if not r]
        relay = (lambda k, text, tid: on_token(index[k], text, tid)) if on_token else None
        done = iter(self._generate(asked, temperature, max_new_tokens, relay, seed))
        return [_abstained() if r else next(done) for r in refused]

    def _generate(self, questions: list[str], temperature, max_new_tokens, on_token, seed) -> list[Completion]:
        """The model's completions for every question, in one batched run."""
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


def _abstained() -> Completion:
    return Completion(text=IDK_ANSWER, token_ids=[], finish_reason="abstain", prompt_tokens=0, completion_tokens=0)
