"""MEMORY model training (installed as memo_edge.training). Imports torch/transformers."""
