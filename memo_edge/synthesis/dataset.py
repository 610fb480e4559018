"""From candidate pairs to the final dataset: de-duplication, ambiguity removal, size cap, records and card."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from ..corpus import content_id
from ..records import Reflection
from .text import normalize


@dataclass
class Pair:
    """A candidate question-answer pair before de-duplication."""

    question: str
    answer: str
    type: str  # direct | indirect | consolidated | entity | crossdoc
    doc_ids: list[str]
    chunk_ids: list[str]
    short: bool = False  # a variant with context left out; first to go when ambiguous or over the cap
    step: str = "facts"
    slot: str = ""  # what is asked, wording aside ("? founded Quillfen Robotics"): two pairs with
    # the same slot and different answers make the question ambiguous


def _rank(p: Pair) -> int:
    """Which pair speaks for a question when two disagree: one read off a sentence beats a derived one (a two-hop
    rewrite can land on an identity question: "What is the best-known landmark of Varrowick?")."""
    return 0 if p.step == "facts" else 1


_MARKER = re.compile(
    r"\b(?:doc(?:ument)?[_ -]?(?:id)?\s*[:#]?\s*[0-9a-f]{8,}|chunk[_ -]?(?:id|\d+)|"
    r"(?:the|this) (?:document|passage|text|article|excerpt)|according to the (?:document|text|source))\b",
    re.I,
)


def leaks_source(p: Pair, ids: set[str]) -> bool:
    """A question or answer that names a document/chunk id or a source marker is unusable for training."""
    text = f"{p.question} {p.answer}"
    return bool(_MARKER.search(text)) or any(i in text for i in ids)


def _cap_tier(p: Pair) -> int:
    """Who goes first when the dataset is over its size cap: two-hop rewrites inside one document, then long
    single-sentence questions (incidental context, unlike a user's wording); entity / cross-document /
    consolidated pairs are scarce and stay."""
    if p.step == "crossdoc" and p.type != "crossdoc":
        return 3
    if p.type in ("direct", "indirect"):
        return 2 if len(p.question.split()) > 12 else 1
    return 0


def finalize(pairs: list[Pair], max_pairs: int = 0, source_ids: set[str] = frozenset()) -> tuple[list[Pair], dict]:
    """Global de-dup on normalized question text; drop questions with conflicting answers; cap the size."""
    stats = {
        "candidates": len(pairs),
        "duplicates_removed": 0,
        "ambiguous_removed": 0,
        "source_leaks_removed": 0,
        "capped": 0,
    }
    live: list[tuple[int, Pair]] = []
    for i, p in enumerate(pairs):
        if leaks_source(p, source_ids):
            stats["source_leaks_removed"] += 1
        elif normalize(p.question):
            live.append((i, p))
    # ambiguity: same question (or same slot: "Who won X?" / "Which company won X?") with different answers
    slots: dict[str, list[tuple[int, Pair]]] = {}
    for i, p in live:
        slots.setdefault(normalize(p.question), []).append((i, p))
        if p.slot:
            slots.setdefault("slot:" + p.slot, []).append((i, p))
    ambiguous: set[int] = set()
    for members in slots.values():
        best = min(_rank(p) for _, p in members)
        top = [(i, p) for i, p in members if _rank(p) == best]
        if len({normalize(p.answer) for _, p in top}) > 1:
            ambiguous |= {i for i, p in members}
    stats["ambiguous_removed"] = len(ambiguous)
    groups: dict[str, list[tuple[int, Pair]]] = {}
    for i, p in live:
        if i not in ambiguous:
            groups.setdefault(normalize(p.question), []).append((i, p))
    kept: list[tuple[int, Pair]] = []
    for members in groups.values():
        best = min(_rank(p) for _, p in members)
        stats["duplicates_removed"] += len(members) - 1
        kept.append(next((i, p) for i, p in members if _rank(p) == best))
    kept.sort(key=lambda t: t[0])
    if max_pairs and len(kept) > max_pairs:
        order = sorted(kept, key=lambda t: (_cap_tier(t[1]), len(t[1].question.split()), t[0]))
        survivors = {i for i, _ in order[:max_pairs]}
        stats["capped"] = len(kept) - max_pairs
        kept = [t for t in kept if t[0] in survivors]
    return [p for _, p in kept], stats


def to_reflections(pairs: list[Pair], prompt_version: str, generator: str) -> list[Reflection]:
    return [
        Reflection(
            id=content_id(p.type, p.question, p.answer, n=16),
            question=p.question,
            answer=p.answer,
            type=p.type,
            source_doc_ids=sorted(set(p.doc_ids)),
            source_chunk_ids=sorted(set(p.chunk_ids)),
            prompt_version=prompt_version,
            generator=generator,
        )
        for p in pairs
    ]


def length_stats(values: list[int]) -> dict:
    if not values:
        return {"min": 0, "mean": 0.0, "p50": 0, "p95": 0, "max": 0}
    s = sorted(values)
    return {
        "min": s[0],
        "mean": round(statistics.fmean(s), 1),
        "p50": s[len(s) // 2],
        "p95": s[min(len(s) - 1, int(len(s) * 0.95))],
        "max": s[-1],
    }


@dataclass
class TokenCounter:
    """Token lengths with the SmolLM2 tokenizer when it is already on disk; whitespace words otherwise."""

    unit: str = "words"
    _tok: object = field(default=None, repr=False)

    @classmethod
    def best_available(cls) -> "TokenCounter":
        try:
            from ..models import local_path
            from tokenizers import Tokenizer

            path = local_path("smollm2-135m-instruct") / "tokenizer.json"
            if path.is_file():
                return cls("smollm2_tokens", Tokenizer.from_file(str(path)))
        except Exception:  # no model pulled, unknown registry entry: fall back to words
            pass
        return cls()

    def __call__(self, text: str) -> int:
        if self._tok is None:
            return len(text.split())
        return len(self._tok.encode(text, add_special_tokens=False).ids)
