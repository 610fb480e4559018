"""TrainConfig: every `memo train` flag is one field here. Importable without torch so the CLI starts fast.

Fields left as None are resolved from the base model's size and the device by `resolve()`:
- bases >= 500M parameters get the MeMo paper's recipe (full: lr 2e-5, constant with 5% warm-up, 3 epochs;
  LoRA: lr 2e-4, r=8/alpha=16, r=16/alpha=32 from 10B parameters up, dropout 0.05, all projections);
- small bases (the 135M SmolLM2 on a laptop CPU) get the recipe measured on 2 CPU cores (see CPU_SMALL below);
- tiny test models (< 20M parameters) get a high-lr recipe that memorizes a few dozen pairs in seconds.
"""

from __future__ import annotations

import hashlib
import json

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["full", "lora", "qlora"]
ProfileStyle = Literal["ask", "text"]
Schedule = Literal["constant", "cosine", "linear"]
Attention = Literal["auto", "sdpa", "flash_attention_2", "eager"]
# Fields added after the first release: left at their default they stay out of the run fingerprint, so a run
# started (or finished) before they existed still resumes (or is still up to date).
_LATER_FIELDS = {
    "grad_accum": 1,
    "eval_every": 1,
    "attention": "auto",
    "liger": False,
    "text_fraction": 0.0,
    "text_window_tokens": 192,
    "profile_fraction": 0.0,
    "profile_style": "ask",
}

# Measured on 2 CPU cores, SmolLM2-135M, ~300 demo reflections (see training/README.md for the run and numbers).
CPU_SMALL = {
    "full": dict(lr=3e-4, epochs=4, batch_size=16, schedule="cosine", warmup_ratio=0.05),
    "lora": dict(lr=1e-3, epochs=4, batch_size=16, schedule="cosine", warmup_ratio=0.05),
}
# tiny-random (2 layers, hidden 128): memorizes 30-50 pairs in a few seconds.
TINY = {
    "full": dict(lr=5e-3, epochs=10, batch_size=4, schedule="cosine", warmup_ratio=0.05),
    "lora": dict(lr=1e-2, epochs=15, batch_size=4, schedule="cosine", warmup_ratio=0.05),
}
# The MeMo paper (large bases, GPU).
PAPER = {
    "full": dict(lr=2e-5, epochs=3, batch_size=8, schedule="constant", warmup_ratio=0.05),
    "lora": dict(lr=2e-4, epochs=3, batch_size=8, schedule="constant", warmup_ratio=0.05),
}


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base: str = Field("smollm2-135m-instruct", description="model name (memo models list) or a local HF checkpoint dir")
    method: Method = Field("full", description="full | lora | qlora (qlora needs CUDA and bitsandbytes)")
    epochs: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="epochs; None = by base size (4 for a small base on CPU, 3 for large bases as in the paper)",
    )
    lr: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="peak learning rate; None = by base size and method (small "
        "CPU base 3e-4 full / 1e-3 LoRA; large 2e-5 / 2e-4)",
    )
    batch_size: int | None = Field(None, ge=1, le=4096, description="examples per micro-batch (per process)")
    grad_accum: int = Field(
        1,
        ge=1,
        le=1024,
        description="micro-batches per optimizer step: effective batch = batch_size x grad_accum x processes",
    )
    schedule: Schedule | None = Field(
        None,
        description="constant | cosine | linear after warm-up; None = cosine on a "
        "small CPU base, constant on large ones",
    )
    warmup_ratio: float | None = Field(None, ge=0, lt=1, description="warm-up share of all steps; None = 0.05")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradients clipped to this global norm")
    seed: int = Field(0, description="seed for data order, splits and init")

    # LoRA / QLoRA
    lora_r: int | None = Field(None, ge=1, description="LoRA rank; None = 8 (16 for >=10B bases and small CPU bases)")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha; None = 2 x rank")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    lora_targets: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="modules LoRA adapts (repeat the flag for each)",
    )
    merge: bool = Field(
        True, description="LoRA: write merged full weights (what export needs); the adapter is kept too"
    )

    # Data
    max_seq_len: int = Field(256, ge=16, description="examples longer than this (in tokens) are skipped and counted")
    packing: bool = Field(True, description="padding-free packing: many examples per row, one shared prompt prefix")
    max_row_tokens: int = Field(1024, ge=64, description="longest packed row (tokens)")
    idk_fraction: float = Field(
        0.1, ge=0, le=1, description="share of 'I don't know.' examples (entity-swapped questions)"
    )
    heldout_fraction: float = Field(0.1, ge=0, lt=1, description="share of reflections held out to measure recall")
    heldout_max: int | None = Field(None, ge=0, description="None = 32 for small bases on CPU, else 64")

    # Training inputs beyond the pairs (issue 22): the corpus text itself and per-entity profiles
    text_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of training examples that are windows of the corpus documents, trained with a plain "
        "language-modelling loss on every token (needs the corpus: memo build passes it, memo train --corpus)",
    )
    text_window_tokens: int = Field(192, ge=16, le=4096, description="tokens per document-text window")
    profile_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of training examples that are per-entity profiles: the trained facts that name an "
        "entity, restated together with its full name, in shuffled orders",
    )
    profile_style: ProfileStyle = Field(
        "ask", description="ask: 'Tell me about X' -> profile pairs in the memory prompt; text: profiles as LM text"
    )

    # Evaluation / selection
    eval_train_sample: int | None = Field(
        None,
        ge=0,
        description="trained questions re-asked after each epoch (memorization); None = 32 small CPU, else 64",
    )
    eval_max_new_tokens: int = Field(48, ge=1, description="answer tokens generated per recall check question")
    eval_batch_size: int = Field(128, ge=1, description="questions per batched greedy recall check")
    eval_every: int = Field(1, ge=1, description="check recall every N epochs (and always after the last one)")
    keep_best: bool = Field(True, description="final weights = the best epoch by recall (else the last epoch)")

    # Checkpoints
    save_every_steps: int = Field(0, ge=0, description="resume checkpoint every N steps (0 = only at epoch ends)")
    resume_state: bool = Field(
        True,
        description="save the resume state (weights + optimizer, 16 bytes/param for full "
        "SFT) at epoch ends; off: a killed run starts over",
    )
    keep_state: bool = Field(False, description="keep the resume state (optimizer etc.) after a successful run")
    fresh: bool = Field(False, description="ignore an existing resume state and start over")

    # Continual updates
    init_from: str | None = Field(None, description="existing memory checkpoint to continue from (new base)")
    replay: float = Field(0.0, ge=0, le=10, description="share of the old checkpoint's reflections replayed")

    # Hardware
    bf16: bool | None = Field(None, description="bf16 autocast; None = on where the CUDA GPU or CPU has native bf16")
    gradient_checkpointing: bool | None = Field(
        None, description="None = on CUDA only when the weights, gradients and optimizer state fill over half the GPU"
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None = torch default)")
    attention: Attention = Field(
        "auto",
        description="auto = flash-attn's varlen kernel where it is installed on "
        "CUDA (classic packing), else SDPA (shared-prefix packing)",
    )
    liger: bool = Field(
        False,
        description="liger-kernel's fused Triton kernels (RMSNorm, RoPE, SwiGLU, linear + "
        "cross-entropy); CUDA only, opt-in until measured on a GPU",
    )
    log_every: int | None = Field(
        None,
        ge=1,
        description="steps between loss read-backs from the device (the only "
        "host sync in the loop); None = 1 on CPU, 10 on CUDA",
    )

    @model_validator(mode="after")
    def _check(self) -> "TrainConfig":
        if self.replay and not self.init_from:
            raise ValueError("replay needs init_from (the checkpoint whose reflections are replayed)")
        if self.text_fraction + self.profile_fraction >= 0.9:
            raise ValueError(
                "text_fraction + profile_fraction: expected below 0.9 (the rest of the examples are pairs)"
            )
        return self

    def resolve(self, n_params: int, on_cuda: bool, device_bytes: int = 0) -> "TrainConfig":
        """Fill the None fields from the recipe for this base size and device."""
        kind = "lora" if self.method in ("lora", "qlora") else "full"
        if n_params < 20e6:
            recipe = TINY[kind]
        elif n_params < 500e6 and not on_cuda:
            recipe = CPU_SMALL[kind]
        else:
            recipe = PAPER[kind]
        upd = {k: v for k, v in recipe.items() if getattr(self, k) is None}
        # Greedy evaluation after every epoch is a real share of a CPU run: ask fewer questions there.
        n_eval = 32 if recipe is CPU_SMALL[kind] else 64
        for k in ("heldout_max", "eval_train_sample"):
            if getattr(self, k) is None:
                upd[k] = n_eval
        if self.lora_r is None:
            upd["lora_r"] = 16 if n_params >= 10e9 or n_params < 500e6 else 8
        if self.lora_alpha is None:
            upd["lora_alpha"] = 2 * (upd.get("lora_r") or self.lora_r)
        if self.gradient_checkpointing is None:
            # Recomputing activations costs ~1/3 more compute: only when memory demands it. Full SFT keeps
            # 16 bytes per parameter (fp32 weights, gradients, two AdamW moments), LoRA ~4 (the frozen weights).
            state = (16 if self.method == "full" else 4) * n_params
            upd["gradient_checkpointing"] = on_cuda and state > 0.5 * device_bytes
        return self.model_copy(update=upd)

    def fingerprint_fields(self) -> dict:
        """What must match for a resume to continue the same run (not progress/threads flags)."""
        skip = {"fresh", "keep_state", "threads", "eval_batch_size", "log_every", "resume_state"}
        return {
            k: v
            for k, v in self.model_dump().items()
            if k not in skip and not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])
        }


def recipes_fingerprint() -> str:
    """A hash of the per-size default recipes: what the unset fields of a TrainConfig resolve from."""
    blob = json.dumps({"tiny": TINY, "cpu_small": CPU_SMALL, "paper": PAPER}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_output(reflections: Path) -> Path:
    return reflections.with_suffix("").parent / f"{reflections.stem}.ckpt"
