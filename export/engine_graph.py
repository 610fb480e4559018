"""Graph pass: model.memo.onnx, the builder's graph with the inputs memo-edge's runtime uses (write_engine_graph).

It reads model.onnx.data at the offsets model.onnx has when it runs, so it is the last pass of `build_onnx`
(onnx_build.py) and must be rewritten after any pass that rewrites that file.
"""

from __future__ import annotations

from pathlib import Path

ENGINE_GRAPH = "model.memo.onnx"


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
