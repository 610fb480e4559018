"""Export options (importable without torch, so the CLI stays fast). Every `memo export` flag maps to a field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Format = Literal["onnx", "gguf", "mlc"]
PRECISIONS: dict[str, tuple[str, ...]] = {
    "onnx": ("fp32", "fp16", "int8", "int4"),
    "gguf": ("f32", "f16", "q8_0"),
    "mlc": ("q4f16_1", "q4f32_1", "q0f16", "q0f32"),
}
# `memo export --format gguf --precision int8` reads naturally; map the ONNX names onto each format's own.
ALIASES: dict[str, dict[str, str]] = {
    "gguf": {"fp32": "f32", "fp16": "f16", "int8": "q8_0"},
    "mlc": {"int4": "q4f16_1", "fp16": "q0f16", "fp32": "q0f32"},
}


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Format = "onnx"
    precision: str = "int8"
    verify: bool = True
    # Held-out slice for the int8/int4 recall check: a reflections JSONL (default: the one named in
    # memo_train.json), how many reflections to sample, and the seed that picks them.
    reflections: Path | None = None
    heldout: int = Field(default=32, ge=0)
    heldout_seed: int = 0
    parity_prompts: int = Field(default=4, ge=1)
    parity_tokens: int = Field(default=24, ge=1)
    block_size: int = Field(default=32, ge=16)
    # int8/int4 weight quantization: the builder's round-to-nearest, or llama.cpp-style k-quant (slower to
    # build; on base SmolLM2 int4 it kept more greedy answers identical to fp32).
    quant_algo: Literal["default", "rtn", "k_quant"] = "default"
    zip: bool = False
    overwrite: bool = True
    sign: Path | None = None  # Ed25519 private key (PEM): write signature.json over manifest.json

    @model_validator(mode="after")
    def _precision_for_format(self) -> "ExportConfig":
        p = ALIASES.get(self.format, {}).get(self.precision, self.precision)
        if p not in PRECISIONS[self.format]:
            raise ValueError(f"precision '{self.precision}' is not available for format '{self.format}' "
                             f"(expected one of: {', '.join(PRECISIONS[self.format])})")
        object.__setattr__(self, "precision", p)
        return self
