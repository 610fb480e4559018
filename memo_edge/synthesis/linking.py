"""Pairs that join facts (the paper's steps 2, 4 and 5 for the extractive generator): consolidated answers per
entity, entity questions (an entity described by two or three facts, not named), cross-document questions (facts
about one entity from two documents) and two-hop rewrites (a name replaced by a description the corpus gives of it:
"How many people does the main rival of Quillfen Robotics employ?")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .dataset import Pair
from .mentions import EntityIndex
from .text import normalize

MAX_FACT_WORDS = 14


@dataclass
class Predicate:
    """One predicate about a named entity: "directed 20 films between 1962 and 1987"."""

    entity: str
    text: str
    doc_id: str
    chunk_id: str
    wh: str = "What"  # how a question asks for this entity: Who / Which film / What


def _question(wh: str, preds: list[str]) -> str:
    body = f"{preds[0]} and {preds[1]}" if len(preds) == 2 else ", ".join(preds[:-1]) + f" and {preds[-1]}"
    return f"{wh} {body}?"


def _distinct(facts: list[Predicate]) -> list[Predicate]:
    seen, out = set(), []
    for f in facts:
        key = normalize(f.text)
        if key not in seen and normalize(f.entity) not in key:
            seen.add(key)
            out.append(f)
    return out


def _by(facts: list[Predicate], key) -> dict:
    out: dict = {}
    for f in facts:
        out.setdefault(key(f), []).append(f)
    return out


def entity_pairs(facts: list[Predicate], per_entity: int = 2) -> list[Pair]:
    """Describe an entity by 2-3 facts of one document without naming it."""
    out = []
    for (ent, doc), fs in sorted(_by(facts, lambda f: (f.entity, f.doc_id)).items()):
        fs = _distinct(fs)
        combos = [fs[i : i + 2] for i in range(0, len(fs) - 1, 2)][:per_entity]
        if len(fs) >= 3:
            combos = [fs[:3]] + combos
        for combo in combos[:per_entity]:
            out.append(
                Pair(
                    _question(combo[0].wh, [f.text for f in combo]),
                    ent,
                    "entity",
                    [doc],
                    sorted({f.chunk_id for f in combo}),
                    step="entity",
                )
            )
    return out


def crossdoc_pairs(facts: list[Predicate], per_entity: int = 3) -> list[Pair]:
    """Converging clues: one fact from each of two documents about the same entity."""
    out = []
    for ent, fs in sorted(_by(facts, lambda f: f.entity).items()):
        docs = _by(_distinct(fs), lambda f: f.doc_id)
        ids = sorted(docs)
        made = 0
        for i, da in enumerate(ids):
            for db in ids[i + 1 :]:
                fa, fb = docs[da][made % len(docs[da])], docs[db][-1 - made % len(docs[db])]
                out.append(
                    Pair(
                        _question(fa.wh, [fa.text, fb.text]),
                        ent,
                        "crossdoc",
                        [da, db],
                        sorted({fa.chunk_id, fb.chunk_id}),
                        step="crossdoc",
                    )
                )
                made += 1
                if made >= per_entity:
                    break
            if made >= per_entity:
                break
    return out


def consolidated_pairs(facts: list[Predicate], max_facts: int = 4) -> list[Pair]:
    """One multi-fact answer per entity and document: what this document says about it."""
    out = []
    for (ent, doc), fs in sorted(_by(facts, lambda f: (f.entity, f.doc_id)).items()):
        fs = _distinct(fs)
        if len(fs) < 3:
            continue
        answer = f"{ent} " + "; ".join(f.text for f in fs[:max_facts]) + "."
        out.append(
            Pair(
                f"What are the key facts about {ent}?",
                answer,
                "consolidated",
                [doc],
                sorted({f.chunk_id for f in fs[:max_facts]}),
                step="consolidated",
            )
        )
    return out


_NUMBERISH = re.compile(r"\d")
_NAMES = re.compile(r"\b[A-Z][\w'’-]{2,}")
_REL_DESC = re.compile(r"^(?:Who|What) (?:is|was) (the [a-z][\w\- ]{0,40} of [A-Z][^?]{0,60})\?$")


def descriptions(pairs: list[Pair], index: EntityIndex) -> dict[str, list[tuple[str, str, str]]]:
    """name -> definite descriptions the corpus gives of it ("the mayor of Varrowick"), with doc and chunk:
    read off the reversed copula questions ("Who is the mayor of Varrowick?" -> "Odile Fanshaw")."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for p in pairs:
        m = _REL_DESC.match(p.question)
        # a date or number is no thing a description names ("born in the date of birth of X")
        if m and p.type in ("direct", "indirect") and len(p.answer.split()) <= 5 and not _NUMBERISH.search(p.answer):
            out.setdefault(p.answer, []).append((m.group(1), p.doc_ids[0], p.chunk_ids[0]))
    del index
    return out


def _shares_name(desc: str, rest: str) -> bool:
    """ "When was Ada born in the place of birth of Ada?": the description leans on a name the question already
    holds, so it comes from the same fact, not from another sentence."""
    return bool(set(_NAMES.findall(desc)) & set(_NAMES.findall(rest)))


def bridge_pairs(
    pairs: list[Pair], descs: dict[str, list[tuple[str, str, str]]], limit: int = 3, max_words: int = 14
) -> list[Pair]:
    """Two-hop questions: a name in a question replaced by a description of it from another sentence."""
    out = []
    used: dict[str, int] = {}
    names = sorted(descs, key=len, reverse=True)
    for qa in pairs:
        if qa.type not in ("direct", "indirect") or qa.short or len(qa.question.split()) > max_words:
            continue
        for name in names:
            m = re.search(rf"\b{re.escape(name)}\b(?!'s)", qa.question)
            if not m or normalize(name) == normalize(qa.answer) or m.start() == 0:
                continue
            for desc, doc_id, chunk_id in descs[name]:
                key = f"{name}|{desc}"
                if (
                    used.get(key, 0) >= limit
                    or normalize(qa.answer) in normalize(desc)
                    or normalize(desc) in normalize(qa.question)
                    or _shares_name(desc, qa.question[: m.start()] + qa.question[m.end() :])
                ):
                    continue
                q = qa.question[: m.start()] + desc + qa.question[m.end() :]
                cross = doc_id not in qa.doc_ids
                out.append(
                    Pair(
                        q,
                        qa.answer,
                        "crossdoc" if cross else "indirect",
                        sorted(set(qa.doc_ids) | {doc_id}),
                        sorted(set(qa.chunk_ids) | {chunk_id}),
                        step="crossdoc",
                    )
                )
                used[key] = used.get(key, 0) + 1
                break
            break
    return out
