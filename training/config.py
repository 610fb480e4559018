"""TrainConfig: every `memo train` flag is one field here. Importable without torch so the CLI starts fast.

Every field has its real default: the recipe measured for the default base, SmolLM2-135M, fully fine-tuned on a
laptop CPU (2 cores, ~300 demo reflections; training/README.md has the run). Other bases and devices pick a named
preset (`--preset gpu`, `[train] preset = "gpu"`): a preset sets the fields it names, flags given beside it win.
`memo train --help` lists the presets from `PRESETS` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["full", "lora", "qlora"]
ProfileStyle = Literal["ask", "text"]
Schedule = Literal["constant", "cosine", "linear"]
Attention = Literal["auto", "sdpa", "flash_attention_2", "eager"]
PresetName = Literal["cpu-default", "cpu-quick", "cpu-lora", "gpu", "gpu-lora", "tiny", "tiny-lora"]

# The MeMo paper's recipe for large bases on a GPU: constant lr after 5% warm-up, 3 epochs, batch 8; LoRA r 8 /
# alpha 16 (the paper uses r 16 from 10B parameters up: give --lora-r 16). Greedy checks are cheap there: 64
# questions per set, and losses read back every 10 steps (each read-back syncs the GPU).
_GPU = dict(lr=2e-5, epochs=3, batch_size=8, schedule="constant", lora_r=8, heldout_max=64, eval_train_sample=64)
_GPU_HOST = dict(log_every=10)
# tiny-random (2 layers, hidden 128, tests): memorizes 30-50 pairs in a few seconds at a high lr.
_TINY = dict(lr=5e-3, epochs=10, batch_size=4, heldout_max=64, eval_train_sample=64)

PRESETS: dict[str, dict[str, Any]] = {
    "cpu-default": {},  # the field defaults
    "cpu-quick": dict(epochs=2, eval_every=2, heldout_max=16, eval_train_sample=16),
    "cpu-lora": dict(method="lora", lr=1e-3),
    "gpu": dict(method="full", **_GPU, **_GPU_HOST),
    "gpu-lora": dict(method="lora", **{**_GPU, "lr": 2e-4}, **_GPU_HOST),
    "tiny": dict(method="full", **_TINY),
    "tiny-lora": dict(method="lora", **{**_TINY, "lr": 1e-2, "epochs": 15}),
}
PRESET_PURPOSE = {
    "cpu-default": "SmolLM2-135M full SFT on a laptop CPU (measured): the defaults shown",
    "cpu-quick": "a first look in half the time (recall not measured)",
    "cpu-lora": "LoRA on a CPU (measured)",
    "gpu": "the MeMo paper's full SFT, any base on a GPU",
    "gpu-lora": "the MeMo paper's LoRA on a GPU",
    "tiny": "the tiny-random test model",
    "tiny-lora": "LoRA on the tiny-random test model",
}


def preset_help() -> str:
    """The --preset help: each preset with what it sets (generated, so it cannot drift from PRESETS)."""
    parts = []
    for name, values in PRESETS.items():
        sets = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        parts.append(f"{name}: {PRESET_PURPOSE[name]}" + (f" ({sets})" if sets else ""))
    return (
        "named recipe whose values replace the defaults of the fields it sets (given flags win); "
        "default: cpu-lora for --method lora/qlora, else cpu-default. " + "; ".join(parts)
    )


def _family(method: str) -> str:
    return "full" if method == "full" else "lora"


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    preset: PresetName = Field("cpu-default", description=preset_help())
    base: str = Field("smollm2-135m-instruct", description="model name (memo models list) or a local HF checkpoint dir")
    method: Method = Field("full", description="full | lora | qlora (qlora needs CUDA and bitsandbytes)")
    epochs: int = Field(4, ge=1, le=1000, description="epochs")
    lr: float = Field(3e-4, gt=0, lt=1, description="peak learning rate (AdamW)")
    batch_size: int = Field(16, ge=1, le=4096, description="examples per micro-batch (per process)")
    grad_accum: int = Field(
        1,
        ge=1,
        le=1024,
        description="micro-batches per optimizer step: effective batch = batch_size x grad_accum x processes",
    )
    schedule: Schedule = Field("cosine", description="constant | cosine | linear decay after the warm-up")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="warm-up share of all steps")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradients clipped to this global norm")
    seed: int = Field(0, description="seed for data order, splits and init")

    # LoRA / QLoRA
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(
        default_factory=lambda given: 2 * given["lora_r"], ge=1, description="LoRA alpha (default: 2 x --lora-r)"
    )
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
    heldout_max: int = Field(32, ge=0, description="most reflections held out")

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
    eval_train_sample: int = Field(
        32, ge=0, description="trained questions re-asked after each checked epoch (memorization)"
    )
    eval_max_new_tokens: int = Field(48, ge=1, description="answer tokens generated per recall check question")
    eval_batch_size: int = Field(128, ge=1, description="questions per batched greedy recall check")
    eval_every: int = Field(1, ge=1, description="check recall every N epochs (and always after the last one)")
    eval_from: int | None = Field(
        None,
        ge=1,
        description="first epoch whose recall is checked (default: the second half, 3 of 4; none of the 33 kept "
        "epochs recorded in benchmarks/results was in the first half, and a check costs the demo ~20-30 s)",
    )
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
    log_every: int = Field(
        1,
        ge=1,
        description="steps between loss read-backs from the device (the only host sync in the loop: free on a "
        "CPU, 10 in the gpu presets)",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset_under_given(cls, data: Any) -> Any:
        """Lay the given values over the preset's (the default preset follows the method: cpu-lora for LoRA)."""
        if not isinstance(data, dict):
            return data
        method = data.get("method")
        name = data.get("preset") or ("cpu-lora" if method in ("lora", "qlora") else "cpu-default")
        values = PRESETS.get(name)
        if values is None:
            return data  # the field's own check names the choices
        tuned = values.get("method", "full")
        if method and _family(method) != _family(tuned) and "lr" not in data:
            pick = [n for n, v in PRESETS.items() if _family(v.get("method", "full")) == _family(method)]
            raise ValueError(
                f"method: preset {name} is tuned for {tuned} fine-tuning (lr {values.get('lr', cls.model_fields['lr'].default):g}); "
                f"for {method} pick one of {', '.join(pick)}, or give lr"
            )
        return {**values, **data, "preset": name}

    @model_validator(mode="after")
    def _check(self) -> "TrainConfig":
        if self.replay and not self.init_from:
            raise ValueError("replay needs init_from (the checkpoint whose reflections are replayed)")
        if self.text_fraction + self.profile_fraction >= 0.9:
            raise ValueError(
                "text_fraction + profile_fraction: expected below 0.9 (the rest of the examples are pairs)"
            )
        return self

    def checked(self, epoch: int) -> bool:
        """Is epoch `epoch` (1-based) followed by a recall check? The last one always is."""
        first = self.eval_from if self.eval_from is not None else self.epochs // 2 + 1
        return epoch == self.epochs or (epoch >= first and epoch % self.eval_every == 0)

    def fingerprint_fields(self) -> dict:
        """What must match for a resume to continue the same run (not progress/threads flags, not the preset's
        name: its values are the fields)."""
        skip = {"preset", "fresh", "keep_state", "threads", "eval_batch_size", "log_every", "resume_state"}
        return {k: v for k, v in self.model_dump().items() if k not in skip}


def needs_checkpointing(method: str, n_params: int, device_bytes: int) -> bool:
    """Gradient checkpointing recomputes activations (~1/3 more compute): only when memory demands it, on CUDA
    (device_bytes > 0). Full SFT keeps 16 bytes per parameter (fp32 weights, gradients, two AdamW moments), LoRA ~4
    (the frozen weights)."""
    state = (16 if method == "full" else 4) * n_params
    return device_bytes > 0 and state > 0.5 * device_bytes


def default_output(reflections: Path) -> Path:
    return reflections.with_suffix("").parent / f"{reflections.stem}.ckpt"
