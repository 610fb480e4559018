"""The export's own checks: fp32 ONNX greedy tokens == torch greedy tokens; quantized recall vs fp32.

The ONNX side always runs through the runtime's Engine (the code a laptop runs), never a second decoder here.
The fp32 reference is the checkpoint itself in torch, which the fp32 parity check ties to the fp32 graph.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from memo_edge.errors import MemoError
from memo_edge.prompt import MemoryPrompt

# Used when the checkpoint names no reflections: parity needs prompts, not answers.
PARITY_QUESTIONS = (
    "Who founded the company?",
    "When did the project start, and where?",
    "What is the name of the river that runs through the city?",
    "Which product was launched last year?",
    "Describe the lighthouse keeper in one sentence.",
    "How many members does the council have?",
)


class TorchReference:
    """Greedy decoding with the checkpoint in torch, token ids from the pack's own tokenizer."""

    def __init__(self, ckpt_dir: Path, tokenizer_file: Path):
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(str(ckpt_dir), dtype=torch.float32).eval()
        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self._cache: dict[tuple, tuple[list[int], int]] = {}

    def greedy(self, prompt: str, max_new: int, stop_ids: set[int] = frozenset()) -> list[int]:
        """One prompt at a time (no padding), so the ids are comparable token for token.

        Cached per prompt: greedy decoding is deterministic, so a longer earlier run answers a shorter request
        (parity and recall share their prompts, and torch is the slow side of every check)."""
        key = (prompt, frozenset(stop_ids))
        hit = self._cache.get(key)
        if hit and (hit[1] >= max_new or len(hit[0]) < hit[1]):
            return hit[0][:max_new]
        toks = self._greedy(prompt, max_new, stop_ids)
        self._cache[key] = (toks, max_new)
        return toks

    def _greedy(self, prompt: str, max_new: int, stop_ids: set[int]) -> list[int]:
        torch = self.torch
        ids = torch.tensor([self.tok.encode(prompt, add_special_tokens=False).ids])
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                      max_new_tokens=max_new, eos_token_id=sorted(stop_ids) or None,
                                      pad_token_id=0, temperature=None, top_p=None, top_k=None)
        new = out[0, ids.shape[1]:].tolist()
        for i, t in enumerate(new):
            if t in stop_ids:
                return new[:i]
        return new

    def answers(self, prompts: list[str], max_new: int, stop_ids: set[int], progress=None) -> list[str]:
        texts = []
        for p in prompts:
            texts.append(self.tok.decode(self.greedy(p, max_new, stop_ids), skip_special_tokens=True))
            if progress:
                progress()
        return texts


def parity_prompts(prompt: MemoryPrompt, questions: list[str], n: int) -> list[str]:
    qs = (questions + [q for q in PARITY_QUESTIONS if q not in questions])[:n]
    return [prompt.render(q) for q in qs]


def check_parity(engine, ref: TorchReference, prompts: list[str], max_new: int, stop_ids: set[int]) -> dict[str, Any]:
    """Greedy tokens up to the first stop token (or max_new) must be identical, prompt by prompt."""
    comps = engine.generate(prompts, max_new_tokens=max_new, temperature=0.0, stop_token_ids=sorted(stop_ids))
    rows = []
    for p, c in zip(prompts, comps):
        want = ref.greedy(p, max_new, stop_ids)
        got = list(c.token_ids)
        same = sum(1 for _ in _common_prefix(want, got))
        rows.append({"equal": want == got, "matching_prefix": same, "torch_tokens": len(want), "pack_tokens": len(got)})
    return {"prompts": len(prompts), "max_new_tokens": max_new, "all_equal": all(r["equal"] for r in rows),
            "rows": rows}


def _common_prefix(a: list[int], b: list[int]):
    for x, y in zip(a, b):
        if x != y:
            return
        yield x


def heldout_slice(reflections: Path, n: int, seed: int) -> list:
    from memo_edge.records import load_reflections

    items = [r for r in load_reflections(reflections)]
    if not items:
        raise MemoError(f"{reflections}: no reflections to measure recall on")
    rng = random.Random(seed)
    return rng.sample(items, min(n, len(items)))


def recall(answers: list[str], golds: list[str]) -> dict[str, float]:
    from memo_edge.metrics import exact_match, f1

    n = max(1, len(golds))
    return {"em": sum(exact_match(a, g) for a, g in zip(answers, golds)) / n,
            "f1": sum(f1(a, g) for a, g in zip(answers, golds)) / n}
