"""'I don't know.' examples: questions about entities that are absent from the corpus, made by swapping entities.

A question from the reflections that names an entity gets that entity replaced by a recombination of real names
("Ysolde Marrick" + "Hesper Glount" -> "Ysolde Glount"; "Varrowick" + "Tamsick" -> "Varrosick") that appears nowhere
in the reflections. Near-miss names are the hard case: the model must not answer about "Quillfen Dynamics" what it
knows about "Quillfen Robotics". The fake names are split into two disjoint pools, one for training examples and one
for measuring the IDK rate, so the measurement is not on memorized fake names.
"""

from __future__ import annotations

import random
import re

from memo_edge.prompt import IDK_ANSWER
from memo_edge.records import Reflection

_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+(?:of\s+)?[A-Z][a-z]{2,})*\b")
_STOP = {
    "Who",
    "What",
    "Which",
    "When",
    "Where",
    "Why",
    "How",
    "Whose",
    "Whom",
    "Does",
    "Did",
    "Was",
    "Were",
    "Is",
    "Are",
    "The",
    "In",
    "On",
    "At",
    "For",
    "From",
    "And",
    "After",
    "Before",
    "During",
    "Name",
    "Tell",
    "Give",
    "Describe",
    "List",
    "According",
    "Has",
    "Have",
    "Can",
    "Could",
    "Would",
    "Will",
    "This",
    "That",
    "Its",
    "His",
    "Her",
    "Their",
    "Yes",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
}


def entities(text: str) -> list[str]:
    out = []
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        while words and words[0] in _STOP:
            words = words[1:]
        if words and not (len(words) == 1 and words[0] in _STOP):
            out.append(" ".join(words))
    return out


def _fakes(names: list[str], known_text: str, rng: random.Random, want: int) -> list[str]:
    multi = [n.split() for n in names if len(n.split()) >= 2]
    single = [n for n in names if len(n.split()) == 1 and len(n) >= 6]
    out: set[str] = set()
    for _ in range(want * 20):
        if len(out) >= want:
            break
        if multi and (not single or rng.random() < 0.6):
            a, b = rng.sample(multi, 2) if len(multi) >= 2 else (multi[0], multi[0])
            cand = " ".join(a[:-1] + b[-1:])
        elif len(single) >= 2:
            a, b = rng.sample(single, 2)
            cand = a[: len(a) // 2 + 1] + b[len(b) // 2 :]
        else:
            break
        if cand.lower() not in known_text and cand not in names:
            out.add(cand)
    return sorted(out)


def make_idk(
    reflections: list[Reflection], n_train: int, n_eval: int, seed: int = 0
) -> tuple[list[Reflection], list[Reflection]]:
    """(training IDK reflections, evaluation IDK reflections) with disjoint fake entities."""
    if n_train + n_eval <= 0:
        return [], []
    rng = random.Random(seed)
    known = " \n ".join(f"{r.question} {r.answer}" for r in reflections).lower()
    present = [r for r in reflections if r.type != "idk"]
    with_ents = [(r, e) for r in present for e in set(entities(r.question)) if e in r.question]
    names = sorted({e for _, e in with_ents})
    if not with_ents or len(names) < 2:
        return [], []
    fakes = _fakes(names, known, rng, want=max(8, (n_train + n_eval) // 2))
    if len(fakes) < 2:
        return [], []
    rng.shuffle(fakes)
    k = max(1, round(len(fakes) * n_train / (n_train + n_eval))) if n_eval else len(fakes)
    k = min(k, len(fakes) - 1) if n_eval else k
    pools = (fakes[:k], fakes[k:])

    def build(pool: list[str], n: int, tag: str) -> list[Reflection]:
        out, seen = [], set()
        for i in range(n * 10):
            if len(out) >= n or not pool:
                break
            r, ent = rng.choice(with_ents)
            fake = pool[i % len(pool)]
            q = r.question.replace(ent, fake)
            if q in seen or q == r.question:
                continue
            seen.add(q)
            out.append(
                Reflection(
                    id=f"idk-{tag}-{len(out)}",
                    question=q,
                    answer=IDK_ANSWER,
                    type="idk",
                    source_doc_ids=[],
                    generator="entity-swap",
                )
            )
        return out

    return build(pools[0], n_train, "train"), build(pools[1], n_eval, "eval")
