"""The build config (application layer): one TOML file, or `memo build`'s flags, describes a whole build.

Its tables are the stages' own config models, so a field is declared once, in its stage: `[synthesis]` is
SynthesisConfig, `[train]` TrainConfig, `[export]` ExportConfig, and `memo build --train.epochs 3` is the same field
as `[train] epochs = 3`. `base`, `generator` and `precision` may also be given at the top (and as --base,
--generator, --precision): they are moved into their table.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memo_edge.export.config import ExportConfig
from memo_edge.synthesis.config import SynthesisConfig
from memo_edge.training.config import TrainConfig

from .errors import MemoError

SHORTCUTS = {"base": ("train", "base"), "generator": ("synthesis", "generator"), "precision": ("export", "precision")}
TABLES = ("synthesis", "train", "export")


class BuildConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corpus: Path
    out: Path
    work_dir: Path | None = None  # reflections + checkpoint; default: <out>.build next to the pack
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)

    @model_validator(mode="before")
    @classmethod
    def _shortcuts_into_tables(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(k in data for k in SHORTCUTS):
            return data
        data = dict(data)
        for key, (table, name) in SHORTCUTS.items():
            if key in data:
                section = data.get(table) or {}
                if isinstance(section, BaseModel):
                    section = section.model_dump(exclude_unset=True)
                data[table] = {**section, name: data.pop(key)}
        return data

    @model_validator(mode="after")
    def _onnx_only(self) -> BuildConfig:
        if self.export.format != "onnx":
            raise ValueError(
                "export.format: a build writes the ONNX pack the runtime loads (use memo export --format for others)"
            )
        return self

    @property
    def work(self) -> Path:
        return self.work_dir or self.out.with_name(self.out.name + ".build")

    @property
    def base(self) -> str:
        return self.train.base

    @property
    def generator(self) -> str:
        return self.synthesis.generator

    @property
    def precision(self) -> str:
        return self.export.precision


# A required field that is missing, named the way the user gives it.
MISSING_HINTS = {"corpus": "CORPUS (the corpus folder argument)", "out": "-o/--out PACK_DIR"}


def load_build_config(path: Path | None, **overrides: Any) -> BuildConfig:
    """TOML file + overrides (the flags given): top-level values that are not None win, and each table's given
    fields are laid over the file's table."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MemoError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise MemoError(f"{path}: not valid TOML ({e})") from None
    for key, value in overrides.items():
        if key in TABLES and isinstance(data.get(key), dict):
            data[key] = {**data[key], **(value or {})}
        elif value is not None and (key not in TABLES or value):
            data[key] = value
    try:
        return BuildConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "build config"
        msg = str(err["msg"]).removeprefix("Value error, ")
        given = len(err["loc"]) == 2 and err["loc"][1] in (overrides.get(err["loc"][0]) or {})
        where = f"--{field.replace('_', '-')}" if given else f"{path or 'build config'}: field '{field}'"
        if err["type"] == "missing" and field in MISSING_HINTS:  # say how to give it: a flag, or the file's key
            where, msg = f"{MISSING_HINTS[field]} (or `{field} = ...` in --config)", "required"
        raise MemoError(f"{where}: {msg}") from None
