"""Per-entity profiles: every trained fact that names an entity, restated together under its full name.

A pair teaches one fact in one direction; a profile puts all of an entity's facts side by side, so the memory has
seen them as one body of knowledge about that name (what "What do you know about X?" from an executive asks for).
Entities are the capitalised names in the reflections' questions and answers (training/idk.py finds them); a
one-word name that is the first or last word of exactly one longer name is that name ("Odile" -> "Odile
Brakspear"). A fact is the reflection restated: a statement's sentence as it is, a pair as "question answer.";
the other phrasings of one fact are left out (their words are a subset of the fullest one's).
Each entity's facts are shuffled into several orders (one per pass) and cut into passages that fit a training
example. Profiles are made from the TRAINING split only: a held-out fact in a profile would be trained on.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from memo_edge.records import Reflection

from .idk import entities

# One per pass over the entities, so the profile question is not one fixed string either.
ASK = ("Tell me about {}.", "Tell me everything you know about {}.", "Summarise what you know about {}.")


@dataclass(frozen=True)
class Profile:
    name: str
    facts: tuple[str, ...]


def restate(r: Reflection) -> str:
    """A reflection as one line of text: the statement's sentence, or the question followed by its answer."""
    if r.type == "statement":
        return r.answer.strip()
    if r.type == "cloze" and (filled := fill_blank(r.question, r.answer)):
        return filled
    answer = r.answer.strip()
    return f"{r.question.strip()} {answer}{'' if answer.endswith(('.', '!', '?')) else '.'}"


def fill_blank(question: str, answer: str) -> str | None:
    """The sentence of a fill-in with its blank filled: 'What fills the blank in X: "a ___ b"?' -> 'a <answer> b.'"""
    m = re.search(r'"([^"]*___[^"]*)"', question)
    if not m:
        return None
    text = m.group(1).replace("___", answer.strip(), 1)
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


# Words that do not tell two facts apart: a question and its rewording differ only in these (and in order).
_FUNCTION = set(
    "a an the of to in on at by for from with as into is are was were be been has have had do does did what who "
    "whom whose which when where why how and or it its this that there than".split()
)
# Capitalised abbreviations that name no entity (dated logs: "Mon easy 5 km").
_NOT_NAMES = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep"}


def _words(fact: str) -> frozenset[str]:
    """Content words, a final -s / -d dropped ("exposes", "expose"; "required", "requires") so that rewordings
    that change the verb's form compare equal."""
    words = (w.strip(".") for w in re.findall(r"[\w.+-]+", fact.lower()))
    return frozenset(w[:-1] if len(w) > 4 and w[-1] in "sd" else w for w in words if w and w not in _FUNCTION)


def distinct(facts: list[str]) -> list[str]:
    """Drop each fact whose content words another fact already holds: the phrasings of one fact ("What does X
    expose? Y." / "What exposes Y? X.") become the fullest of them, kept in first-seen order."""
    sets = [_words(f) for f in facts]
    keep = []
    for i, f in enumerate(facts):
        covered = any(j != i and (sets[i] < sets[j] or (sets[i] == sets[j] and j < i)) for j in range(len(facts)))
        if not covered:
            keep.append(f)
    return keep


def _full_names(names: set[str]) -> dict[str, str]:
    """Each name -> its full form: a one-word name that starts or ends exactly one longer name is that name."""
    longer = [n for n in names if len(n.split()) > 1]
    full = {}
    for n in names:
        if len(n.split()) == 1:
            owners = {m for m in longer if m.split()[0] == n or m.split()[-1] == n}
            full[n] = owners.pop() if len(owners) == 1 else n
        else:
            full[n] = n
    return full


def build_profiles(rows: list[Reflection], min_facts: int = 2) -> list[Profile]:
    """Entities named by at least `min_facts` reflections, most facts first (ties by name)."""
    rows = [r for r in rows if r.type != "idk"]
    found = [(r, set(entities(r.question)) | set(entities(r.answer))) for r in rows]
    full = _full_names({n for _, ns in found for n in ns if n not in _NOT_NAMES})
    facts: dict[str, dict[str, None]] = defaultdict(dict)  # insertion-ordered set of facts per entity
    for r, names in found:
        for n in {full[n] for n in names if n in full}:
            facts[n][restate(r)] = None
    out = [Profile(n, tuple(distinct(list(f)))) for n, f in facts.items()]
    out = [p for p in out if len(p.facts) >= min_facts]
    return sorted(out, key=lambda p: (-len(p.facts), p.name))


def passages(profile: Profile, order: int, max_words: int, seed: int) -> list[str]:
    """The profile's facts in the `order`-th shuffled order, cut into passages of at most `max_words` words."""
    facts = list(profile.facts)
    if order:
        random.Random(f"{seed}:{order}:{profile.name}").shuffle(facts)
    out, cur, n = [], [], 0
    for f in facts:
        w = len(f.split())
        if cur and n + w > max_words:
            out.append(" ".join(cur))
            cur, n = [], 0
        cur.append(f)
        n += w
    if cur:
        out.append(" ".join(cur))
    return out


def profile_texts(profiles: list[Profile], n: int, max_words: int, seed: int) -> list[tuple[str, str, int]]:
    """`n` (name, passage, order) items: every profile in order 0, then every profile in a new order, and so on."""
    out: list[tuple[str, str, int]] = []
    if not profiles:
        return out
    order = 0
    while len(out) < n:
        for p in profiles:
            for text in passages(p, order, max_words, seed):
                out.append((p.name, text, order))
        order += 1
    return out[:n]


def profile_reflections(items: list[tuple[str, str, int]]) -> list[Reflection]:
    """Profiles as "Tell me about X." -> passage pairs (trained in the memory prompt, like every pair)."""
    return [
        Reflection(
            id=f"profile-{k}",
            question=ASK[order % len(ASK)].format(name),
            answer=text,
            type="entity",
            generator="profile",
        )
        for k, (name, text, order) in enumerate(items)
    ]
