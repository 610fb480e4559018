"""Reflections -> splits -> tokenized examples with answer-only labels.

Masking is template-aware: the example text is exactly `MemoryPrompt.render_example(q, a)` (what the runtime sends,
followed by the answer), tokenized once with character offsets; every token that ends inside the rendered prompt
gets label -100, the answer and the end-of-turn tokens are trained. The prompt's constant prefix (system turn +
user header) is identified too, so packing can share one copy of it per row.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from memo_edge.errors import MemoError
from memo_edge.prompt import MemoryPrompt
from memo_edge.records import Reflection, load_reflections

IGNORE = -100


@dataclass
class Splits:
    train: list[Reflection]
    heldout: list[Reflection]  # present facts never trained on (recall + false-IDK)
    idk_eval: list[Reflection]  # absent facts (IDK rate)
    counts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    ids: tuple[int, ...]
    n_prompt: int  # tokens that belong to the prompt (label -100)
    n_prefix: int  # leading tokens equal to the shared prompt prefix

    @property
    def labels(self) -> list[int]:
        return [IGNORE] * self.n_prompt + list(self.ids[self.n_prompt :])

    @property
    def n_answer(self) -> int:
        return len(self.ids) - self.n_prompt


def read_reflections(path: Path) -> list[Reflection]:
    """Load and de-duplicate (same question and answer) reflections; errors name file, line and field."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise MemoError(f"{path}: empty file (expected one reflection JSON object per line)")
    rows = load_reflections(path)
    seen, out = set(), []
    for r in rows:
        key = (r.question.strip(), r.answer.strip())
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def fingerprint(rows: list[Reflection]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r.id, r.question, r.answer, r.type], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


# Statements answer with whole sentences and a fill-in is its sentence's only question: the best epoch is picked by
# recall of short facts in other words, so neither is held out (nor are "I don't know." rows).
NEVER_HELD_OUT = ("idk", "statement", "cloze")


def split_heldout(
    rows: list[Reflection], fraction: float, cap: int, seed: int
) -> tuple[list[Reflection], list[Reflection]]:
    """Hold out reflections whose source chunk keeps at least one other reflection in training.

    So a held-out question asks for a fact the model was trained on in other words: recall, not clairvoyance.
    Without source ids, reflections with the same answer play that role.
    """
    present = [r for r in rows if r.type not in NEVER_HELD_OUT]
    want = min(cap, int(len(present) * fraction))
    if want <= 0:
        return rows, []
    groups: dict[tuple, list[Reflection]] = defaultdict(list)
    for r in present:
        key = tuple(r.source_chunk_ids) or tuple(r.source_doc_ids) or (r.answer.strip().lower(),)
        groups[key].append(r)
    rng = random.Random(seed)
    candidates = []
    for key in sorted(groups):
        g = groups[key]
        if len(g) >= 2:
            g = sorted(g, key=lambda r: r.id)
            rng.shuffle(g)
            candidates.extend(g[: len(g) - 1])
    rng.shuffle(candidates)
    held = {id(r) for r in candidates[:want]}
    return [r for r in rows if id(r) not in held], [r for r in rows if id(r) in held]


def heldout_size(n_short: int, fraction: float, cap: int) -> int:
    """How many short-answer reflections split_heldout holds out (at most: it needs a sibling in training)."""
    return min(cap, int(n_short * fraction))


def idk_examples(n_present: int, fraction: float) -> int:
    """ "I don't know." examples added so that they are `fraction` of the training set."""
    return round(n_present * fraction / (1 - fraction)) if fraction < 1 else n_present


def extra_examples(n_pairs: int, fraction: float, total_fraction: float) -> int:
    """Text or profile examples added so that they are `fraction` of the training set (the pairs, their IDK
    examples included, are the other 1 - total_fraction)."""
    return round(n_pairs * fraction / (1 - total_fraction)) if fraction else 0


def idk_eval_size(n_heldout: int, cap: int, fraction: float) -> int:
    return min(cap, max(n_heldout, 16)) if fraction > 0 else 0


def make_splits(rows: list[Reflection], cfg) -> Splits:
    from .idk import make_idk

    train, heldout = split_heldout(rows, cfg.heldout_fraction, cfg.heldout_max, cfg.seed)
    n_present = sum(r.type != "idk" for r in train)
    n_idk_train = max(0, idk_examples(n_present, cfg.idk_fraction) - sum(r.type == "idk" for r in train))
    n_idk_eval = idk_eval_size(len(heldout), cfg.heldout_max, cfg.idk_fraction)
    idk_train, idk_eval = make_idk(rows, n_idk_train, n_idk_eval, cfg.seed)
    counts = {
        "reflections": len(rows),
        "by_type": dict(Counter(r.type for r in rows)),
        "train": len(train) + len(idk_train),
        "idk_train_generated": len(idk_train),
        "heldout": len(heldout),
        "idk_eval": len(idk_eval),
    }
    return Splits(train=train + idk_train, heldout=heldout, idk_eval=idk_eval, counts=counts)


def memory_prompt_for(tokenizer) -> MemoryPrompt:
    """The memory prompt derived from the base model's own chat template (ChatML for SmolLM2)."""
    if not getattr(tokenizer, "chat_template", None):
        return MemoryPrompt.chatml()
    return MemoryPrompt.from_chat_renderer(
        lambda msgs, gen: tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
    )


def _count_within(offsets, n_chars: int) -> int:
    return sum(1 for _, end in offsets if end <= n_chars)


def tokenize_examples(
    rows: list[Reflection], tokenizer, prompt: MemoryPrompt, max_seq_len: int
) -> tuple[list[Example], list[dict]]:
    """Examples plus a list of skipped rows ({id, reason}); a template that splits tokens badly is an error."""
    prefix_ids = tokenizer(prompt.prefix, add_special_tokens=False)["input_ids"]
    examples, skipped = [], []
    for r in rows:
        text = prompt.render_example(r.question, r.answer)
        n_prompt_chars = len(prompt.render(r.question))
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        n_prompt = _count_within(offsets, n_prompt_chars)
        if n_prompt == 0 or n_prompt >= len(ids) or offsets[n_prompt - 1][1] != n_prompt_chars:
            raise MemoError(
                f"reflection {r.id}: the prompt/answer boundary falls inside a token; "
                "the base model's chat template cannot be masked exactly"
            )
        if len(ids) > max_seq_len:
            skipped.append({"id": r.id, "reason": f"{len(ids)} tokens > max_seq_len {max_seq_len}"})
            continue
        n_prefix = len(prefix_ids) if list(ids[: len(prefix_ids)]) == prefix_ids else 0
        examples.append(Example(ids=tuple(ids), n_prompt=n_prompt, n_prefix=n_prefix))
    return examples, skipped
