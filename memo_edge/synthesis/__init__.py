"""Reflection synthesis: corpus -> question-answer "reflections", the MEMORY model's training data.

    from memo_edge.synthesis import synthesize, SynthesisConfig
    card = synthesize("corpus/", "reflections.jsonl", SynthesisConfig(generator="extractive"))

Generators (SynthesisConfig.generator / `memo synthesize --generator`):
- extractive: offline, deterministic, no LLM (extractive.py). spaCy parse of every sentence (nlp.py), questions
  about each part of each clause in several phrasings (qgen.py), notes structure (notes.py), a quality filter
  (quality.py) and cross-document links (linking.py). No size cap unless `max_pairs` is set.
- openai: the five MeMo steps (llm_pipeline.py, prompts.py) on any OpenAI-compatible server, `concurrency`
  requests in flight, round-robin over several URLs.
- hf: the same five steps on a local transformers checkpoint (one call at a time).

Files written next to the output `<stem>.jsonl`: `<stem>.card.json` + `<stem>.card.md` (counts per type and step,
removals, token lengths, corpus fingerprint, wall time) and, for LLM generators, `<stem>.cache.jsonl`: the
append-only call cache that makes a rerun after a crash or a corpus edit ask only what never finished or changed.
"""

from .config import SynthesisConfig
from .pipeline import synthesize

__all__ = ["SynthesisConfig", "synthesize"]
