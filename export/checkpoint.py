"""Inspect a training checkpoint before exporting it: refuse bad input with one line, before any work is done.

Everything here reads JSON and safetensors headers only (plus a finite-values scan of the weights), so a bad
checkpoint fails in about a second instead of half-way through a build.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memo_edge.errors import MemoError

# Architectures whose ONNX graph the onnxruntime-genai builder emits with the standard decoder I/O the runtime
# drives (input_ids, attention_mask, past/present KV). Only llama (SmolLM2) is exercised by the tests here.
ONNX_ARCHITECTURES = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}
GGUF_ARCHITECTURES = {"LlamaForCausalLM"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# Bytes on disk per parameter, with headroom for scales, the fp32 embedding kept by the int8 graph, and the graph.
BYTES_PER_PARAM = {
    "fp32": 4.1,
    "f32": 4.1,
    "fp16": 2.1,
    "f16": 2.1,
    "int8": 2.1,
    "q8_0": 1.2,
    "int4": 0.8,
    "q4f16_1": 0.8,
    "q4f32_1": 0.8,
    "q0f16": 2.1,
    "q0f32": 4.1,
}


@dataclass
class Checkpoint:
    root: Path
    config: dict[str, Any]
    weights: list[Path]
    num_parameters: int
    generation_config: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return (self.config.get("architectures") or ["?"])[0]

    @property
    def tied(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    def head_dim(self) -> int:
        c = self.config
        return int(c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"])

    def estimated_size(self, precision: str) -> int:
        return int(self.num_parameters * BYTES_PER_PARAM.get(precision, 4.1)) + (16 << 20)


def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MemoError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(obj, dict):
        raise MemoError(f"{path}: expected a JSON object")
    return obj


def inspect_checkpoint(ckpt_dir: str | Path, fmt: str = "onnx") -> Checkpoint:
    root = Path(ckpt_dir).expanduser()
    if not root.is_dir():
        raise MemoError(f"{root}: checkpoint directory not found")
    if (root / "adapter_config.json").is_file():
        raise MemoError(
            f"{root}: holds an un-merged LoRA adapter (adapter_config.json); merge it first: "
            f"`memo train --merge` or peft's merge_and_unload() + save_pretrained()"
        )
    if not (root / "config.json").is_file():
        raise MemoError(f"{root}: not a model checkpoint (expected config.json inside)")
    config = _read_json(root / "config.json")
    arch = (config.get("architectures") or [None])[0]
    supported = ONNX_ARCHITECTURES if fmt == "onnx" else GGUF_ARCHITECTURES if fmt == "gguf" else None
    if supported is not None and arch not in supported:
        raise MemoError(
            f"{root / 'config.json'}: field 'architectures': {arch!r} is not supported for {fmt} export "
            f"(expected one of: {', '.join(sorted(supported))})"
        )
    for name in TOKENIZER_FILES:
        if not (root / name).is_file():
            raise MemoError(
                f"{root / name}: missing (the pack needs the checkpoint's tokenizer files: "
                f"{', '.join(TOKENIZER_FILES)})"
            )
    weights = sorted(root.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for p in root.glob("*.bin"))
        hint = (
            f" (found {', '.join(pickles)}: pickle checkpoints are not loaded; re-save with safetensors)"
            if pickles
            else ""
        )
        raise MemoError(f"{root}: no *.safetensors weights{hint}")
    gen = _read_json(root / "generation_config.json") if (root / "generation_config.json").is_file() else {}
    return Checkpoint(root, config, weights, _count_parameters(weights), gen)


def _count_parameters(weights: list[Path]) -> int:
    """Parameter count from the safetensors headers; a truncated or garbled file fails here with its name."""
    from safetensors import safe_open

    total = 0
    for w in weights:
        try:
            with safe_open(str(w), framework="np") as f:
                for name in f.keys():
                    n = 1
                    for d in f.get_slice(name).get_shape():
                        n *= d
                    total += n
        except Exception as e:  # safetensors raises its own error types for bad headers/buffers
            raise MemoError(f"{w}: corrupt safetensors file ({str(e).splitlines()[0][:160]})") from None
    return total


def check_weights(ckpt: Checkpoint) -> None:
    check_weights_match_config(ckpt)
    check_weights_finite(ckpt)


def check_weights_match_config(ckpt: Checkpoint) -> None:
    """Every tensor the config implies must be in the weights with its shape: transformers would otherwise
    random-initialise what is missing (with a warning) and the builder would export a silently broken model."""
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(ckpt.root))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except Exception as e:
        raise MemoError(
            f"{ckpt.root / 'config.json'}: cannot build the model it describes ({str(e).splitlines()[0][:160]})"
        ) from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if ckpt.tied:
        expected.pop("lm_head.weight", None)
    found: dict[str, tuple] = {}
    for w in ckpt.weights:
        with safe_open(str(w), framework="np") as f:
            for name in f.keys():
                found[name] = tuple(f.get_slice(name).get_shape())
    missing = sorted(set(expected) - set(found))
    if missing:
        raise MemoError(
            f"{ckpt.weights[0]}: {len(missing)} tensors that config.json implies are missing "
            f"(first: {missing[0]}); the weights do not belong to this config"
        )
    for name, shape in expected.items():
        if found[name] != shape:
            raise MemoError(
                f"{ckpt.weights[0]}: tensor '{name}' has shape {list(found[name])}, config.json implies {list(shape)}"
            )


def check_weights_finite(ckpt: Checkpoint) -> None:
    """A flipped exponent bit or a diverged run shows up as NaN/inf; exporting it would ship a broken pack."""
    import torch
    from safetensors import safe_open

    for w in ckpt.weights:
        try:
            with safe_open(str(w), framework="pt") as f:
                for name in f.keys():
                    t = f.get_tensor(name)
                    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                        raise MemoError(f"{w}: tensor '{name}' has NaN/inf values (corrupt or diverged weights)")
        except MemoError:
            raise
        except Exception as e:
            raise MemoError(f"{w}: corrupt safetensors file ({str(e).splitlines()[0][:160]})") from None


def check_disk_space(ckpt: Checkpoint, out_dir: Path, precision: str, copies: int = 1) -> None:
    """copies=2 when a .memopack zip of the pack is written next to it."""
    need = ckpt.estimated_size(precision) * copies
    parent = out_dir.expanduser().resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if free < need:
        raise MemoError(
            f"{parent}: not enough disk space for the {precision} pack "
            f"(needs ~{need / 1e6:.0f} MB, {free / 1e6:.0f} MB free)"
        )
