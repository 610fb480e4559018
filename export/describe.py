"""What the manifest says about a checkpoint: sizes, the memory prompt, special tokens, provenance."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from memo_edge.errors import MemoError
from memo_edge.pack import ModelInfo, SpecialTokens
from memo_edge.prompt import MemoryPrompt

from .checkpoint import Checkpoint

PROMPT_FILE = "memory_prompt.json"
TRAIN_FILE = "memo_train.json"


def model_info(ckpt: Checkpoint) -> ModelInfo:
    c = ckpt.config
    rope = c.get("rope_parameters") or {}
    return ModelInfo(
        architecture=c.get("model_type", "llama"),
        hf_architecture=ckpt.architecture,
        num_layers=c["num_hidden_layers"],
        hidden_size=c["hidden_size"],
        intermediate_size=c.get("intermediate_size"),
        num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c.get("num_key_value_heads", c["num_attention_heads"]),
        head_dim=ckpt.head_dim(),
        vocab_size=c["vocab_size"],
        context_length=c.get("max_position_embeddings", 2048),
        tie_word_embeddings=ckpt.tied,
        rope_theta=rope.get("rope_theta", c.get("rope_theta")),
        rms_norm_eps=c.get("rms_norm_eps"),
        num_parameters=ckpt.num_parameters,
    )


def memory_prompt(ckpt: Checkpoint) -> tuple[MemoryPrompt, str]:
    """The prompt training used (memory_prompt.json); else derived from the chat template; else ChatML."""
    path = ckpt.root / PROMPT_FILE
    if path.is_file():
        try:
            return MemoryPrompt.model_validate_json(path.read_text(encoding="utf-8")), PROMPT_FILE
        except ValueError as e:
            raise MemoError(f"{path}: not a valid memory prompt ({str(e).splitlines()[0]})") from None
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(ckpt.root))
        if tok.chat_template:

            def render(msgs, gen):
                return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)

            return MemoryPrompt.from_chat_renderer(render), "chat_template"
    except Exception as e:  # a template that cannot render placeholders: fall back, but say so
        warnings.warn(
            f"{ckpt.root}: could not derive the memory prompt from the chat template ({e}); using ChatML", stacklevel=2
        )
    return MemoryPrompt.chatml(), "chatml"


def special_tokens(ckpt: Checkpoint, prompt: MemoryPrompt) -> SpecialTokens:
    """Stop ids = the prompt's stop strings that are single tokens, plus every eos id."""
    from tokenizers import Tokenizer

    c, g = ckpt.config, ckpt.generation_config
    eos = g.get("eos_token_id", c.get("eos_token_id"))
    eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    tok = Tokenizer.from_file(str(ckpt.root / "tokenizer.json"))
    stop: list[int] = []
    for s in prompt.stop:
        tid = tok.token_to_id(s)
        if tid is not None:
            stop.append(tid)
    for e in eos_ids:
        if e not in stop:
            stop.append(int(e))
    return SpecialTokens(
        bos_token_id=g.get("bos_token_id", c.get("bos_token_id")),
        eos_token_id=eos,
        pad_token_id=g.get("pad_token_id", c.get("pad_token_id")),
        stop_token_ids=stop,
    )


def _names_not_paths(value: Any) -> Any:
    """Absolute local paths in provenance reduced to their last component, all the way down: a pack is shared,
    and the folders of the machine that built it are nobody else's business (nor valid anywhere else)."""
    if isinstance(value, dict):
        return {k: _names_not_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names_not_paths(v) for v in value]
    if isinstance(value, str) and len(value) > 1 and (os.path.isabs(value) or value.startswith("~")):
        return Path(value).name or value
    return value


def provenance(ckpt: Checkpoint, shareable: bool = True) -> dict[str, Any]:
    """memo_train.json as written by training (base, corpus fingerprint, counts by type, config, metrics),
    minus its per-epoch history, which stays in the checkpoint's metrics.jsonl. `shareable` (what the manifest
    gets): names instead of absolute paths."""
    path = ckpt.root / TRAIN_FILE
    prov: dict[str, Any] = {}
    if path.is_file():
        try:
            prov = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MemoError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(prov, dict):
            raise MemoError(f"{path}: expected a JSON object")
        prov.pop("history", None)
    prov.setdefault(
        "base_model", prov.get("base") or ckpt.config.get("_name_or_path") or ckpt.config.get("_model_name_or_path")
    )
    prov["checkpoint"] = str(ckpt.root.resolve())
    return _names_not_paths(prov) if shareable else prov


def reflections_path(ckpt: Checkpoint, explicit: Path | None) -> Path | None:
    """Where the recall check samples from: an explicit file, else the facts the checkpoint was trained on
    (train_reflections.jsonl, written by memo train), else the reflections file memo_train.json names."""
    if explicit is not None:
        return Path(explicit)
    if (ckpt.root / "train_reflections.jsonl").is_file():
        return ckpt.root / "train_reflections.jsonl"
    prov = provenance(ckpt, shareable=False)  # the paths themselves: this looks for the file
    for key in ("reflections_path", "reflections"):
        v = prov.get(key)
        if isinstance(v, str):
            p = Path(v)
            p = p if p.is_absolute() else ckpt.root / p
            if p.is_file():
                return p
    return None
