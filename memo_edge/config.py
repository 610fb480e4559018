"""The build config: one TOML file can describe a whole build; each CLI flag of `memo build` maps to one field.

Stage-specific options pass through as tables ([synthesis], [train], [export]) and are validated by each stage's
own config class, so this module stays import-light.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import MemoError, field_error


class BuildConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corpus: Path
    out: Path
    base: str = "smollm2-135m-instruct"
    generator: str = "extractive"
    precision: Literal["fp32", "fp16", "int8", "int4"] = "int8"
    work_dir: Path | None = None  # reflections + checkpoint; default: <out>.build next to the pack
    synthesis: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    export: dict[str, Any] = Field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.work_dir or self.out.with_name(self.out.name + ".build")


def load_build_config(path: Path, **overrides: Any) -> BuildConfig:
    """TOML file + CLI overrides (non-None values win)."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MemoError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise MemoError(f"{path}: not valid TOML ({e})") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return BuildConfig.model_validate(data)
    except ValidationError as e:
        field, msg = field_error(e)
        raise MemoError(f"{path or 'build config'}: field '{field}': {msg}") from None
