"""int8 packs: the embedding reads the lm_head's 8-bit weights instead of keeping its own copy.

The builder's int8 is MatMulNBits (8-bit, block 32) for every MatMul including the tied lm_head, but its
GatherBlockQuantized (which int4 uses to share that matrix) is 4-bit only, so the embedding stays a separate fp32
copy: the int8 pack came out larger than the fp32 one. The lm_head's blocks run along the hidden dimension of each
vocabulary row, so row `id` of the embedding is exactly `(q8[id] - 128) * scale[id]`: a Gather over the quantized
weight and the scales, dequantized in the graph. SmolLM2: 267 MB -> 157 MB (148 MB for llama.cpp's q8_0).
When the graph is not what that needs, the embedding Gather gets onnxruntime's dynamic quantization instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from pathlib import Path

from memo_edge.errors import MemoError

from .engine_graph import ENGINE_GRAPH

WEIGHTS = "model.onnx.data"


def _lm_head(graph):
    for n in graph.node:
        if n.op_type == "MatMulNBits" and n.output[0] == "logits":
            return n
    return None


def _embedding(graph):
    for n in graph.node:
        if n.op_type == "Gather" and len(n.input) == 2 and n.input[1] == "input_ids":
            return n
    return None


def share_embedding(out: Path) -> str:
    """Graph pass: rewrite out/model.onnx and model.onnx.data in place; returns how the embedding is stored
    ("shared_q8" or "dynamic_int8"). It runs before the engine graph is written (engine_graph.py), which would
    otherwise read model.onnx.data at offsets this pass moves."""
    import onnx

    if (out / ENGINE_GRAPH).is_file():
        raise MemoError(f"{out / ENGINE_GRAPH}: written already; share the embedding before the engine graph")
    model = onnx.load(str(out / "model.onnx"))
    g = model.graph
    lm, emb = _lm_head(g), _embedding(g)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in lm.attribute} if lm is not None else {}
    # 3 inputs = no zero points: symmetric, stored offset by 128
    if emb is None or attrs.get("bits") != 8 or len(lm.input) != 3:
        quantize_embedding_dynamic(out)
        return "dynamic_int8"
    _rewire(g, emb, lm.input[1], lm.input[2], int(attrs["K"]))
    tmp = out / ".shared-embedding"
    tmp.mkdir()
    try:
        onnx.save(
            model,
            str(tmp / "model.onnx"),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=WEIGHTS,
            size_threshold=1024,
        )
        for name in ("model.onnx", WEIGHTS):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return "shared_q8"


def _rewire(g, emb, q_name: str, scales_name: str, hidden: int) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    p = "/model/embed_tokens/shared_q8"
    ids = emb.input[1]
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array(128.0, np.float32), f"{p}/zero_point"),
            numpy_helper.from_array(np.array([-1], np.int64), f"{p}/last_axis"),
            numpy_helper.from_array(np.array([0, 0, hidden], np.int64), f"{p}/shape"),
        ]
    )
    nodes = [
        helper.make_node("Gather", [q_name, ids], [f"{p}/q"], name=f"{p}/GatherQ"),  # (b, s, blocks, 32)
        helper.make_node("Cast", [f"{p}/q"], [f"{p}/qf"], to=TensorProto.FLOAT, name=f"{p}/Cast"),
        helper.make_node("Sub", [f"{p}/qf", f"{p}/zero_point"], [f"{p}/qc"], name=f"{p}/Sub"),
        helper.make_node("Gather", [scales_name, ids], [f"{p}/s"], name=f"{p}/GatherScales"),  # (b, s, blocks)
        helper.make_node("Unsqueeze", [f"{p}/s", f"{p}/last_axis"], [f"{p}/s1"], name=f"{p}/Unsqueeze"),
        helper.make_node("Mul", [f"{p}/qc", f"{p}/s1"], [f"{p}/e"], name=f"{p}/Mul"),
        helper.make_node("Reshape", [f"{p}/e", f"{p}/shape"], [emb.output[0]], name=f"{p}/Reshape"),
    ]
    at = list(g.node).index(emb)
    old = emb.input[0]
    g.node.remove(emb)
    for k, n in enumerate(nodes):
        g.node.insert(at + k, n)
    if not any(old in n.input for n in g.node):
        g.initializer.remove(next(t for t in g.initializer if t.name == old))


def quantize_embedding_dynamic(out: Path) -> None:
    """Fallback: int8 embedding Gather + DequantizeLinear via onnxruntime's dynamic quantization."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out / ".int8-embedding"
    tmp.mkdir()
    log = io.StringIO()
    root_logger = logging.getLogger()
    level = root_logger.level
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            root_logger.setLevel(logging.ERROR)  # its "consider pre-processing" hint goes to the root logger
            quantize_dynamic(
                out / "model.onnx",
                tmp / "model.onnx",
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Gather"],
                use_external_data_format=True,
            )
        for name in ("model.onnx", WEIGHTS):
            (tmp / name).replace(out / name)
    finally:
        root_logger.setLevel(level)
        shutil.rmtree(tmp, ignore_errors=True)
