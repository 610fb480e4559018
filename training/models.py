"""Loading the base model for each method: full fine-tuning, LoRA (peft) and QLoRA (4-bit base, CUDA only)."""

from __future__ import annotations

from pathlib import Path

import torch

from memo_edge.errors import MemoError


def quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def check_method(method: str) -> None:
    if method == "qlora" and not torch.cuda.is_available():
        raise MemoError(
            "--method qlora needs a CUDA GPU (bitsandbytes 4-bit runs 10-30x slower than fp32 on CPU); "
            "use --method full or --method lora here"
        )


def attention_impl(choice: str = "auto") -> str:
    """auto: flash-attn's varlen kernels where the package is installed and a CUDA GPU is there (packed examples
    then need no mask at all), else PyTorch's SDPA (shared-prefix packing with a mask built on the device)."""
    if choice != "auto":
        if choice == "flash_attention_2" and not _flash_attn_usable():
            raise MemoError("--attention flash_attention_2 needs the flash-attn package and a CUDA GPU")
        return choice
    return "flash_attention_2" if _flash_attn_usable() else "sdpa"


def _flash_attn_usable() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True


def liger_available() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import liger_kernel.transformers  # noqa: F401
    except ImportError:
        return False
    return True


def apply_liger(model) -> None:
    """liger-kernel's Triton RMSNorm / RoPE / SwiGLU in place of the model's modules (CUDA only). The loss head is
    not patched: packed_loss calls the fused linear + cross-entropy itself, on the label positions only."""
    if not liger_available():
        raise MemoError("--liger needs the liger-kernel package and a CUDA GPU (pip install liger-kernel)")
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    _apply_liger_kernel_to_instance(
        model=base, rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
    )


def fused_linear_ce(accelerator):
    """f(head weight, hidden (n, d), targets (n,)) -> summed cross-entropy, without the (n, vocab) logits."""
    from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy

    def f(weight, hidden, targets):
        with accelerator.autocast():
            return liger_fused_linear_cross_entropy(hidden, weight, targets, reduction="sum")

    return f


def load_tokenizer(base_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_dir))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(base_dir: Path, method: str, bf16: bool = False, attn_impl: str | None = None):
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if attn_impl:
        kwargs["attn_implementation"] = attn_impl
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16,
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base_dir), **kwargs)
    except (OSError, ValueError) as e:
        raise MemoError(f"{base_dir}: cannot load the base model ({str(e).splitlines()[0][:200]})") from None
    return model


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def add_lora(model, cfg):
    from peft import LoraConfig, get_peft_model

    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=bool(cfg.gradient_checkpointing))
    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in cfg.lora_targets if t in present]
    if not targets:
        raise MemoError(f"lora_targets {cfg.lora_targets}: none of these module names exist in the base model")
    lcfg = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lcfg)


def merged_from_adapter(base_dir: Path, adapter_dir: Path, bf16: bool = False):
    """Base (full precision, also for QLoRA) + adapter, merged into plain weights for export."""
    from peft import PeftModel

    base = load_model(base_dir, "full", bf16=bf16)
    return PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
