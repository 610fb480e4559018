"""Torch-free edge runtime (installed as memo_edge.runtime): onnxruntime + tokenizers + numpy."""
