"""Torch-free edge runtime (installed as memo_edge.runtime): onnxruntime + tokenizers + numpy.

    from memo_edge.runtime import Memory
    mem = Memory.load("pack/")
    mem.answer(["Who founded Lumen Labs?"])          # batched, memory prompt from the manifest
    mem.ask("Which city ...?", executive="http://127.0.0.1:8000/v1")   # MeMo's structured protocol

Never imports torch, transformers, training or export (a test checks sys.modules after `memo ask`).
"""

from __future__ import annotations

__all__ = ["Engine", "Completion", "Memory", "Answer", "AskService"]


def __getattr__(name):  # lazy: `import memo_edge.runtime` stays cheap until something is used
    if name in ("Engine", "Completion"):
        from . import engine

        return getattr(engine, name)
    if name == "Memory":
        from .memory import Memory

        return Memory
    if name == "AskService":
        from .ask import AskService

        return AskService
    if name == "Answer":
        from memo_edge.protocol import Answer

        return Answer
    raise AttributeError(f"module 'memo_edge.runtime' has no attribute {name!r}")
