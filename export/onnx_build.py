"""Build the decoder graph with onnxruntime-genai's model builder (called in-process, output captured).

Why the builder and not optimum: it runs with transformers 5 (optimum-onnx pins transformers<4.58), its graphs
decode faster on CPU (fused GroupQueryAttention / SkipSimplifiedLayerNorm / MatMulNBits), its int4 quantizes the
tied embedding + lm_head together (86 MB for SmolLM2 vs 181 MB via optimum, which leaves the fp32 embedding), and
it writes genai_config.json, so the pack also loads in onnxruntime-genai as-is. Measurements: stack-facts.md.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
from pathlib import Path

from memo_edge.errors import MemoError

from .checkpoint import Checkpoint

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
ENGINE_GRAPH = "model.memo.onnx"


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
    notes = {}
    if precision == "int8" and ckpt.tied:
        from .int8_embedding import share_embedding

        notes["embedding"] = share_embedding(out)
    notes["engine_graph"] = write_engine_graph(out)
    return notes


def write_engine_graph(out: Path) -> str:
    """model.memo.onnx: the builder's graph for memo-edge's runtime, reading the same model.onnx.data.

    - `logits_index` (int64 [batch, n, 1]): the lm_head runs only on those positions of each row (a GatherND with
      batch_dims=1 in front of it). A prefill of S tokens then computes one row of the 49k-wide lm_head instead of
      S, and returns [rows, n, vocab] logits instead of [rows, S, vocab] (256 tokens: 50 MB nobody reads).
    - `position_ids` (int64 [batch, seq]) and `attention_bias` (float [batch, 1, seq, total]) wired into every
      GroupQueryAttention: several prompts after a shared prefix are prefilled as one packed row, each with its own
      rotary positions and a block mask (GQA refuses batch > 1 for several new tokens after a past).
    model.onnx stays untouched, so onnxruntime-genai runs the pack as before. Returns what was written: "full",
    "logits_index" (no packing: the attention is not the expected GQA with rotary inside) or "none".
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    g = model.graph
    names = {i.name for i in g.input}
    head = _lm_head_matmul(g)
    if head is None or names & {"logits_index", "position_ids", "attention_bias"}:
        return "none"
    g.input.append(
        helper.make_tensor_value_info("logits_index", TensorProto.INT64, ["batch_size", "logits_positions", 1])
    )
    picked = head.input[0] + "/memo_logits_positions"
    gather = helper.make_node(
        "GatherND", [head.input[0], "logits_index"], [picked], batch_dims=1, name="/memo/logits_positions/GatherND"
    )
    head.input[0] = picked
    g.node.insert(list(g.node).index(head), gather)
    gqa = [n for n in g.node if n.op_type == "GroupQueryAttention"]
    rotary = all(any(a.name == "do_rotary" and a.i == 1 for a in n.attribute) for n in gqa)
    kind = "logits_index"
    if gqa and rotary:
        past = next(i for i in g.input if i.name == gqa[0].input[3])
        g.input.append(
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
        )
        g.input.append(
            helper.make_tensor_value_info(
                "attention_bias",
                past.type.tensor_type.elem_type,
                ["batch_size", 1, "sequence_length", "total_sequence_length"],
            )
        )
        for n in gqa:  # inputs 9 and 10 of com.microsoft.GroupQueryAttention
            ins = list(n.input) + [""] * max(0, 11 - len(n.input))
            ins[9], ins[10] = "position_ids", "attention_bias"
            del n.input[:]
            n.input.extend(ins)
        kind = "full"
    onnx.save(model, str(out / ENGINE_GRAPH))  # external data keeps pointing at model.onnx.data
    return kind


def _lm_head_matmul(g):
    """The MatMul/MatMulNBits that produces the logits (through Casts, as fp16 graphs have), or None."""
    producer = {o: n for n in g.node for o in n.output}
    out = g.output[0].name
    node = producer.get(out)
    while node is not None and node.op_type == "Cast":
        node = producer.get(node.input[0])
    if node is None or node.op_type not in ("MatMul", "MatMulNBits"):
        return None
    return node
