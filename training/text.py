"""Document-text examples: windows of the corpus documents, trained with a plain language-modelling loss.

The pairs teach the memory to answer in the runtime's prompt; the text itself shows it every sentence in its own
words, also the ones no pair was made from. A window is `[separator] + window_tokens of the document`: no chat
template, positions from 0, and every token after the separator is a label (the separator only conditions the
first prediction, so no label crosses from one packed example into the next). Each pass over the corpus starts its
windows at a new offset (0, 1/2, 1/4, 3/4, ... of a window), so a text repeated to reach its share is not cut at
the same boundaries every time.
"""

from __future__ import annotations

import random

from memo_edge.records import Document

from .data import Example

# SmolLM2's (and GPT-2-style tokenizers') document separator in pretraining; other tokenizers: their BOS or EOS.
DOC_SEPARATOR = "<|endoftext|>"


def separator_id(tokenizer) -> int:
    sid = tokenizer.convert_tokens_to_ids(DOC_SEPARATOR)
    if isinstance(sid, int) and tokenizer.convert_ids_to_tokens(sid) == DOC_SEPARATOR:  # not the unknown token
        return sid
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def lm_example(ids: list[int], sep: int) -> Example:
    """Loss on every token of `ids` (the separator in front is the only unlabelled one)."""
    return Example(ids=(sep, *ids), n_prompt=1, n_prefix=0)


def _offsets(window: int):
    """0, w/2, w/4, 3w/4, w/8, ...: each pass cuts the text between the cuts of the earlier passes."""
    yield 0
    k = 2
    while True:
        for j in range(1, k, 2):
            yield window * j // k
        k *= 2


def _windows(stream: list[int], window: int, offset: int) -> list[list[int]]:
    starts = ([0] if offset else []) + list(range(offset, len(stream), window))
    out = []
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(stream)
        piece = stream[s : min(end, s + window)]
        if len(piece) >= max(8, window // 8):  # a few trailing tokens teach nothing
            out.append(piece)
    return out


def text_examples(docs: list[Document], tokenizer, window: int, n: int, seed: int = 0) -> list[Example]:
    """`n` windows of `window` tokens over the documents (whole passes, then a seeded sample of one more)."""
    if n <= 0 or not docs:
        return []
    sep = separator_id(tokenizer)
    streams = [
        tokenizer(f"{d.title}\n\n{d.text}" if d.title else d.text, add_special_tokens=False)["input_ids"] for d in docs
    ]
    streams = [s for s in streams if s]
    out: list[Example] = []
    rng = random.Random(seed)
    for offset in _offsets(window):
        batch = [lm_example(w, sep) for s in streams for w in _windows(s, window, offset)]
        if not batch:
            return out
        if len(out) + len(batch) > n:
            return out + rng.sample(batch, n - len(out))
        out += batch
        if len(out) == n:
            return out
    return out  # unreachable: the offsets never run out
