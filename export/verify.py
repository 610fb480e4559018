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

    def greedy(self, prompt: str, max_new: int, stop_ids: set[int] = frozenset()) -> list[int]:
        """One prompt at a time (no padding), so the ids are comparable token for token."""
        torch = self.torch
        ids = torch.tensor([self.tok.encode(prompt, add_special_tokens=False).ids])
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=max_new,
                eos_token_id=sorted(stop_ids) or None,
                pad_token_id=0,
                temperature=None,
                top_p=None,
                top_k=None,
            )
        new = out[0, ids.shape[1] :].tolist()
        for i, t in enumerate(new):
            if t in stop_ids:
                return new[:i]
        return new

    def top2_margin(self, prompt: str, generated: list[int]) -> float:
        """Gap between torch's two best next-token logits after prompt + generated (where greedy diverged)."""
        torch = self.torch
        ids = torch.tensor([self.tok.encode(prompt, add_special_tokens=False).ids + list(generated)])
        with torch.no_grad():
            top = self.model(input_ids=ids).logits[0, -1].topk(2).values
        return float(top[0] - top[1])

    def answers(
        self, prompts: list[str], max_new: int, stop_ids: set[int], progress=None, batch: int = 16
    ) -> list[str]:
        """Greedy answers, batched with left padding (a reference for recall, where a padding-induced last-bit
        difference does not matter; token parity uses greedy() one prompt at a time)."""
        torch = self.torch
        texts: list[str] = []
        pad = min(stop_ids) if stop_ids else 0
        for i in range(0, len(prompts), batch):
            enc = [self.tok.encode(p, add_special_tokens=False).ids for p in prompts[i : i + batch]]
            width = max(map(len, enc))
            ids = torch.tensor([[pad] * (width - len(e)) + e for e in enc])
            mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in enc])
            with torch.no_grad():
                out = self.model.generate(
                    ids,
                    attention_mask=mask,
                    do_sample=False,
                    max_new_tokens=max_new,
                    eos_token_id=sorted(stop_ids) or None,
                    pad_token_id=pad,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
            for row in out[:, width:].tolist():
                cut = next((j for j, t in enumerate(row) if t in stop_ids), len(row))
                texts.append(self.tok.decode(row[:cut], skip_special_tokens=True))
            if progress:
                progress(len(enc))
        return texts


def cut_at_stops(text: str, stops: list[str]) -> str:
    """Stop strings that are not single tokens end an answer in the runtime: end the reference's there too."""
    for s in stops:
        k = text.find(s) if s else -1
        if k >= 0:
            text = text[:k]
    return text.strip()


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
        row = {"equal": want == got, "matching_prefix": same, "torch_tokens": len(want), "pack_tokens": len(got)}
        if want != got:
            row["torch_top2_margin"] = ref.top2_margin(p, want[:same])
        rows.append(row)
    return {
        "prompts": len(prompts),
        "max_new_tokens": max_new,
        "all_equal": all(r["equal"] for r in rows),
        "rows": rows,
    }


def near_tie(row: dict, tol: float = 1e-3) -> bool:
    """A divergence where torch itself had two tokens within `tol` logits: float summation order decides it,
    not a wrong graph."""
    return not row["equal"] and row.get("torch_top2_margin", 1.0) < tol


def _common_prefix(a: list[int], b: list[int]):
    for x, y in zip(a, b):
        if x != y:
            return
        yield x


def heldout_slice(reflections: Path, n: int, seed: int) -> list:
    from memo_edge.records import load_reflections

    # "I don't know" rows test abstention, not recall of a stored fact
    items = [r for r in load_reflections(reflections) if r.type != "idk"]
    if not items:
        raise MemoError(f"{reflections}: no reflections with an answer to measure recall on")
    rng = random.Random(seed)
    return rng.sample(items, min(n, len(items)))


def recall(answers: list[str], golds: list[str]) -> dict[str, float]:
    from memo_edge.metrics import exact_match, f1

    n = max(1, len(golds))
    return {
        "em": sum(exact_match(a, g) for a, g in zip(answers, golds)) / n,
        "f1": sum(f1(a, g) for a, g in zip(answers, golds)) / n,
    }
