"""Every MEMO_* environment variable, declared and read in one place: `env()` returns them validated.

A value the model refuses is one error naming the variable and what was expected (`MEMO_THREADS='x': expected a
positive integer`); an empty variable counts as unset. `env()` reads the environment on each call (tests and the
CLI set variables after import), and costs microseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import MemoError

PREFIX = "MEMO_"


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True)

    # where things live
    home: Path | None = Field(None, description="pulled models and caches (default ~/.cache/memo-edge)")
    models_dir: Path | None = Field(None, description="pulled checkpoints (default $MEMO_HOME/models)")
    benchdata: Path | None = Field(None, description="benchmark data sets (default ../shared/benchdata)")
    repo: Path | None = Field(None, description="the source checkout whose benchmarks/ `memo bench` runs")
    spacy_model: Path | None = Field(None, description="a spaCy pipeline folder for the extractive generator")
    # packs
    trusted_key: str = Field("", description="trusted Ed25519 public key files, separated by os.pathsep")
    pack_max_bytes: int | None = Field(None, ge=1, description="largest .memopack extracted, in bytes")
    # runtime
    threads: int | None = Field(None, ge=1, description="onnxruntime CPU threads (default: physical cores, <= 8)")
    spin: Literal["0", "1"] | None = Field(None, description="1 = intra-op threads busy-wait, 0 = they sleep")
    provider: str | None = Field(None, description="onnxruntime execution provider when --provider is auto")
    executive: str | None = Field(None, description="memo mcp's --executive when the flag is not given")
    executive_model: str | None = Field(None, description="memo mcp's --executive-model when not given")
    # CLI
    debug: bool = Field(False, description="every error re-raises with its traceback (as --debug)")
    # training
    omp_wait: Literal["passive", "default"] = Field(
        "passive",
        description="torch's OpenMP threads in build/train/demo: passive = a waiting thread sleeps (fast when other "
        "work shares the cores), default = libgomp's spin-then-sleep; an OMP_WAIT_POLICY you set wins",
    )
    # tests and benchmarks of training
    train_kill_after_step: int | None = Field(None, description="tests: SIGKILL training right after this step")
    train_profile: str | None = Field(None, description="benchmarks: torch.profiler op table to this path + .txt")
    train_probe: str | None = Field(
        None,
        description="benchmarks: a JSONL of questions (id, question, answer, answer_aliases) asked after every "
        "recall check and logged as 'probe' in metrics.jsonl; never used to pick the epoch",
    )


EXPECTED = {"int_parsing": "an integer", "greater_than_equal": "a positive integer", "bool_parsing": "1 or 0"}


def env() -> EnvSettings:
    try:
        return EnvSettings()
    except ValidationError as e:
        err = e.errors()[0]
        name = PREFIX + str(err["loc"][0]).upper()
        expected = {"spin": "1 or 0", "omp_wait": "passive or default"}.get(
            str(err["loc"][0]), EXPECTED.get(err["type"], str(err["msg"]).lower())
        )
        raise MemoError(f"{name}={err['input']!r}: expected {expected}") from None


def variable(field: str) -> str:
    """The environment variable of a field (for messages that tell the user what to set)."""
    if field not in EnvSettings.model_fields:
        raise KeyError(field)
    return PREFIX + field.upper()
