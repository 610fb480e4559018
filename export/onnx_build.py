"""Build the decoder graph with onnxruntime-genai's model builder (called in-process, output captured).

Why the builder and not optimum: it runs with transformers 5 (optimum-onnx pins transformers<4.58), its graphs
decode faster on CPU (fused GroupQueryAttention / SkipSimplifiedLayerNorm / MatMulNBits), its int4 quantizes the
tied embedding + lm_head together (86 MB for SmolLM2 vs 181 MB via optimum, which leaves the fp32 embedding), and
it writes genai_config.json, so the pack also loads in onnxruntime-genai as-is. Measurements: stack-facts.md.

After the builder, `build_onnx` runs the graph passes in order: `int8_embedding.share_embedding` (int8 packs with a
tied embedding) and `engine_graph.write_engine_graph` (model.memo.onnx). No pass calls another.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
from pathlib import Path

from memo_edge.errors import MemoError

from .checkpoint import Checkpoint
from .engine_graph import write_engine_graph
from .int8_embedding import share_embedding

# fp16 graphs target the CUDA execution provider; everything else is built for (and tested on) the CPU EP.
EXECUTION_PROVIDER = {"fp32": "cpu", "fp16": "cuda", "int8": "cpu", "int4": "cpu"}
BUILDER_OUTPUTS = (
    "model.onnx",
    "model.onnx.data",
    "genai_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)


def builder_options(ckpt: Checkpoint, precision: str, block_size: int, algo: str = "default") -> list[str]:
    opts = ["hf_token=false"]
    if precision in ("int8", "int4"):
        opts.append(f"block_size={block_size}")
    if precision == "int4" and ckpt.tied:
        # One 4-bit matrix serves the embedding Gather and the lm_head MatMul (GatherBlockQuantized): without it
        # the 49k x hidden embedding stays fp32 and dominates the file.
        opts.append("shared_embeddings=true")
    elif precision == "int8":
        # GatherBlockQuantized is 4-bit only: the builder would try, log errors and fall back to an fp32 copy
        # anyway; int8_embedding.share_embedding() handles the embedding instead.
        opts.append("shared_embeddings=false")
    if algo != "default" and precision in ("int8", "int4"):
        opts.append(f"algo_config={algo}")
    return opts


def build_onnx(ckpt: Checkpoint, out: Path, precision: str, block_size: int = 32, algo: str = "default") -> dict:
    """Write the builder's files into `out`; returns notes for the manifest (how the embedding is stored)."""
    try:
        import onnxruntime_genai.models.builder as builder
    except ImportError as e:
        raise MemoError(
            f"ONNX export needs the [export] extra ({e.name} is missing): pip install 'memo-edge[export]'"
        ) from None
    cache = out / ".builder-cache"
    log = io.StringIO()
    quiet = [
        logging.getLogger(n) for n in ("onnxruntime.quantization", "onnxruntime.quantization.matmul_nbits_quantizer")
    ]
    levels = [lg.level for lg in quiet]
    ep = EXECUTION_PROVIDER[precision]
    try:
        for lg in quiet:
            lg.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            opts = builder.parse_extra_options(
                None,
                str(ckpt.root),
                str(out),
                precision,
                ep,
                str(cache),
                builder_options(ckpt, precision, block_size, algo),
            )
            builder.create_model(None, str(ckpt.root), str(out), precision, ep, str(cache), **opts)
    except MemoError:
        raise
    except Exception as e:
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1][:200]
        raise MemoError(f"{ckpt.root}: the ONNX model builder failed ({type(e).__name__}: {last})") from e
    finally:
        for lg, lvl in zip(quiet, levels):
            lg.setLevel(lvl)
        shutil.rmtree(cache, ignore_errors=True)
    for name in ("model.onnx", "genai_config.json", "tokenizer.json"):
        if not (out / name).is_file():
            raise MemoError(f"{out / name}: the ONNX model builder did not write it")
    # The graph passes, in order: each reads what the one before wrote (share_embedding rewrites model.onnx.data,
    # and the engine graph reads that file at the offsets it then has).
    notes = {}
    if precision == "int8" and ckpt.tied:
        notes["embedding"] = share_embedding(out)
    notes["engine_graph"] = write_engine_graph(out)
    return notes
