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
    format: Format = Field(
        "onnx",
        description="onnx (memo-edge runtime, onnxruntime-genai) | gguf (llama.cpp, "
        "Ollama) | mlc (needs mlc_llm installed).",
    )
    precision: str = Field(
        "int8",
        description="onnx: fp32 | fp16 (CUDA) | int8 | int4 (MatMulNBits, block 32). "
        "gguf: f32 | f16 | q8_0. mlc: q4f16_1 | q4f32_1 | q0f16 | q0f32.",
    )
    verify: bool = Field(
        True,
        description="Check fp32 greedy parity with torch and measure recall of int8/int4 vs "
        "fp32 on sampled training reflections; results go into the manifest.",
    )
    reflections: Path | None = Field(
        None,
        description="Reflections JSONL for the recall check (default: the "
        "checkpoint's train_reflections.jsonl, else the file "
        "memo_train.json names).",
    )
    heldout: int = Field(32, ge=0, description="How many reflections the recall check samples (0 = skip).")
    heldout_seed: int = Field(0, description="Seed that picks the recall check's reflections.")
    parity_prompts: int = Field(4, ge=1, description="Prompts of the greedy parity check.")
    parity_tokens: int = Field(24, ge=1, description="Tokens generated per parity prompt.")
    block_size: int = Field(32, ge=16, description="int4 quantization block size.")
    # on base SmolLM2 int4, k_quant kept more greedy answers identical to fp32
    quant_algo: Literal["default", "rtn", "k_quant"] = Field(
        "default",
        description="int8/int4 weight quantization: default (round to nearest) | rtn | k_quant "
        "(llama.cpp-style; slower to build, often closer to fp32).",
    )
    min_known_share: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Answer 'I don't know.' without running the model when less than this share of a question's "
        "content words occur in the training reflections, or it names something they never name (the pack keeps "
        "the words in known_terms.txt); 0 = off. With 0.4, 1 of 87 answerable dev questions of the project's "
        "technical-docs and notes corpora was refused.",
    )
    zip: bool = Field(False, description="Also write PACK_DIR.memopack (one zip file) and print its path.")
    overwrite: bool = Field(
        True, description="Replace an existing pack at the output path (never a directory that is not a pack)."
    )
    sign: Path | None = Field(
        None,
        description="Sign the pack with this Ed25519 private key (memo keygen): "
        "signature.json over manifest.json; load with --trusted-key KEY.pub "
        "to require it.",
    )

    @model_validator(mode="after")
    def _precision_for_format(self) -> ExportConfig:
        p = ALIASES.get(self.format, {}).get(self.precision, self.precision)
        if p not in PRECISIONS[self.format]:
            raise ValueError(
                f"precision '{self.precision}' is not available for format '{self.format}' "
                f"(expected one of: {', '.join(PRECISIONS[self.format])})"
            )
        object.__setattr__(self, "precision", p)
        return self
