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
        raise MemoError("--method qlora needs a CUDA GPU (bitsandbytes 4-bit runs 10-30x slower than fp32 on CPU); "
                        "use --method full or --method lora here")


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
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16)
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
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


def merged_from_adapter(base_dir: Path, adapter_dir: Path, bf16: bool = False):
    """Base (full precision, also for QLoRA) + adapter, merged into plain weights for export."""
    from peft import PeftModel

    base = load_model(base_dir, "full", bf16=bf16)
    return PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
