"""The training examples beyond the pairs: document-text windows and per-entity profiles, in their configured
shares of the training set (TrainConfig.text_fraction, profile_fraction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from memo_edge.corpus import corpus_fingerprint, load_corpus
from memo_edge.errors import MemoError
from memo_edge.prompt import MemoryPrompt
from memo_edge.records import Reflection

from .config import TrainConfig
from .data import Example, extra_examples, tokenize_examples
from .profiles import build_profiles, profile_reflections, profile_texts
from .text import lm_example, separator_id, text_examples


@dataclass
class Mixed:
    examples: list[Example] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    corpus_fingerprint: str | None = None  # what the text examples were cut from (part of the run's identity)


def mix_in(
    train: list[Reflection], n_pairs: int, corpus: Path | None, tokenizer, prompt: MemoryPrompt, cfg: TrainConfig
) -> Mixed:
    """Text and profile examples for a training set of `n_pairs` pair examples (made from `train`)."""
    out = Mixed()
    total = cfg.text_fraction + cfg.profile_fraction
    n_text = extra_examples(n_pairs, cfg.text_fraction, total)
    if n_text:
        if corpus is None:
            raise MemoError(
                "text_fraction: the document text needs the corpus (memo build passes it; memo train --corpus DIR)"
            )
        docs = load_corpus(corpus)
        out.examples += text_examples(docs, tokenizer, cfg.text_window_tokens, n_text, cfg.seed)
        out.corpus_fingerprint = corpus_fingerprint(docs)
    out.counts["text_examples"] = len(out.examples)
    n_prof = extra_examples(n_pairs, cfg.profile_fraction, total)
    if n_prof:
        profiles = build_profiles(train)
        if cfg.profile_style == "ask":
            # the passage must fit max_seq_len beside the prompt (~60 tokens); ~1.8 tokens per word in notes
            items = profile_texts(profiles, n_prof, max(16, (cfg.max_seq_len - 96) * 5 // 9), cfg.seed)
            exs, out.skipped = tokenize_examples(profile_reflections(items), tokenizer, prompt, cfg.max_seq_len)
        else:
            items = profile_texts(profiles, n_prof, max(16, cfg.text_window_tokens * 5 // 9), cfg.seed)
            sep, window = separator_id(tokenizer), cfg.text_window_tokens
            exs = [
                lm_example(tokenizer(f"{name}\n\n{text}", add_special_tokens=False)["input_ids"][:window], sep)
                for name, text, _ in items
            ]
        out.examples += exs
        out.counts["profiles"] = len(profiles)
    out.counts["profile_examples"] = len(out.examples) - out.counts["text_examples"]
    return out
