"""Reflection synthesis: the five GENERATOR steps and their backends (openai, hf, extractive).

    from memo_edge.synthesis import synthesize, SynthesisConfig
    card = synthesize("corpus/", "reflections.jsonl", SynthesisConfig(generator="extractive"))
"""

from .config import SynthesisConfig
from .pipeline import synthesize

__all__ = ["SynthesisConfig", "synthesize"]
