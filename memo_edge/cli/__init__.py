"""The `memo` command: thin typed functions, one module per verb; heavy imports happen inside each verb."""

from __future__ import annotations

import importlib

from .app import app, main

# Each module registers its verb on `app`; importing them is cheap (no torch/onnx at module level).
for _name in ("models", "synthesize", "train", "export", "build", "ask", "evaluate", "serve", "mcp", "bench"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{_name}":
            raise

__all__ = ["app", "main"]
