"""Export a trained checkpoint to a memory pack (installed as memo_edge.export)."""
