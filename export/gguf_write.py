"""Write a llama GGUF from a HF llama checkpoint with the `gguf` package (what llama.cpp's converter does).

Token-for-token parity with torch needs three details from llama.cpp's convert_hf_to_gguf.py: q_proj/k_proj rows
permuted into llama.cpp's rotary layout, the tied lm_head left out (llama.cpp reuses token_embd), and norms kept f32.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from memo_edge.errors import MemoError

from .checkpoint import Checkpoint

QTYPES = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0"}
FILE_TYPES = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "q8_0": "MOSTLY_Q8_0"}


def permute_rotary(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF stores each head's rotary halves as [x0..x(d/2-1), y0..]; llama.cpp wants them interleaved pairwise."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensors(ckpt: Checkpoint):
    from safetensors import safe_open

    for w in ckpt.weights:
        with safe_open(str(w), framework="pt") as f:
            for name in f.keys():
                yield name, f.get_tensor(name).float().numpy()


def _pre_tokenizer(tok: dict) -> str:
    """llama.cpp picks its pre-tokenizer regex by name; only SmolLM2's BPE tokenizer is known to map here."""
    vocab = tok.get("model", {}).get("vocab", {})
    if tok.get("model", {}).get("type") == "BPE" and vocab.get("<|im_start|>") == 1 and len(vocab) == 49152:
        return "smollm"
    raise MemoError(
        "tokenizer.json: GGUF export supports the SmolLM2 tokenizer (BPE, 49152 tokens); "
        "use --format onnx for this checkpoint"
    )


def _tokenizer_metadata(writer, ckpt: Checkpoint) -> None:
    import gguf

    path = ckpt.root / "tokenizer.json"
    tok = json.loads(path.read_text(encoding="utf-8"))
    pre = _pre_tokenizer(tok)
    vocab: dict[str, int] = dict(tok["model"]["vocab"])
    added = {a["content"]: a for a in tok.get("added_tokens", [])}
    for a in added.values():
        vocab[a["content"]] = a["id"]
    n = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(n)]
    types = [gguf.TokenType.UNUSED] * n
    for text, i in vocab.items():
        tokens[i] = text
        a = added.get(text)
        types[i] = (
            (gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED) if a else gguf.TokenType.NORMAL
        )
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    c = ckpt.config
    for key, add in (
        ("bos_token_id", writer.add_bos_token_id),
        ("eos_token_id", writer.add_eos_token_id),
        ("unk_token_id", writer.add_unk_token_id),
        ("pad_token_id", writer.add_pad_token_id),
    ):
        v = c.get(key)
        if isinstance(v, list):
            v = v[0]
        if v is not None:
            add(int(v))
    # The memory prompt carries no BOS (the ONNX runtime encodes with add_special_tokens=False): match it.
    writer.add_add_bos_token(False)
    template = ckpt.root / "chat_template.jinja"
    if template.is_file():
        writer.add_chat_template(template.read_text(encoding="utf-8"))


def write_gguf(ckpt: Checkpoint, out: Path, precision: str, name: str = "memo-memory") -> None:
    quiet = logging.getLogger("gguf.gguf_writer")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # it logs endianness and every file it writes at INFO
    try:
        _write(ckpt, out, precision, name)
    finally:
        quiet.setLevel(level)


def _write(ckpt: Checkpoint, out: Path, precision: str, name: str) -> None:
    import gguf

    c = ckpt.config
    n_layers, n_head = c["num_hidden_layers"], c["num_attention_heads"]
    n_kv = c.get("num_key_value_heads", n_head)
    head_dim = ckpt.head_dim()
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_name(name)
    writer.add_block_count(n_layers)
    writer.add_context_length(c.get("max_position_embeddings", 2048))
    writer.add_embedding_length(c["hidden_size"])
    writer.add_feed_forward_length(c["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(float((c.get("rope_parameters") or {}).get("rope_theta", c.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(c.get("rms_norm_eps", 1e-5)))
    writer.add_vocab_size(c["vocab_size"])
    writer.add_rope_dimension_count(head_dim)
    if head_dim != c["hidden_size"] // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_file_type(getattr(gguf.LlamaFileType, FILE_TYPES[precision]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _tokenizer_metadata(writer, ckpt)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    qtype = getattr(gguf.GGMLQuantizationType, QTYPES[precision])
    for hf_name, data in _tensors(ckpt):
        if hf_name == "lm_head.weight" and ckpt.tied:
            continue
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise MemoError(f"{ckpt.weights[0]}: tensor '{hf_name}' has no GGUF name for llama")
        if hf_name.endswith("q_proj.weight"):
            data = permute_rotary(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = permute_rotary(data, n_kv)
        if data.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(new, data.astype(np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(new, data.astype(np.float16))
        else:
            writer.add_tensor(new, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
