"""Pairs that join facts: entity questions (an entity described by 2-3 facts, not named), cross-document
questions (facts about one entity from two documents), two-hop rewrites ("the main rival of Quillfen Robotics"
in place of "Drossel Dynamics"), and consolidated per-entity summaries."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import verbs
from .clauses import Clause
from .dataset import Pair as QA
from .entities import entity_names
from .phrases import Wording, as_question, entity_of, lower_the, trim_of_place
from .resolve import CorpusInfo, Sentence
from .text import normalize

MAX_FACT_WORDS = 14
SYMMETRIC = {"marry", "meet", "divorce", "partner"}


@dataclass
class Fact:
    """One clause about a named entity, kept for entity / cross-document / consolidated questions."""

    entity: str
    text: str          # the predicate: "founded Quillfen Robotics in 2016"
    doc_id: str
    chunk_id: str


def subject_fact(c: Clause, s: Sentence) -> Fact | None:
    ent = entity_of(c.subject)
    if not ent or c.negated:
        return None
    pred = c.predicate()
    if s.as_of is not None:
        pred += f" as of {s.as_of}"
    if not pred or len(pred.split()) > MAX_FACT_WORDS or ent in pred:
        return None
    return Fact(ent, pred, s.doc_id, s.chunk_id)


def object_fact(c: Clause, s: Sentence) -> Fact | None:
    """"Ysolde Marrick founded Quillfen Robotics in 2016" is also a fact about Quillfen Robotics:
    "was founded by Ysolde Marrick in 2016"."""
    ent = entity_of(c.obj) if c.kind == "active" and not c.aux and c.obj else None
    if not ent or c.negated or c.verb.tense not in ("past", "pastpart", "s3") or c.verb.base in ("have", "be"):
        return None
    be = "was" if c.verb.tense in ("past", "pastpart") else "is"
    mods = " ".join(m.text for m in c.all_mods if m.kind != "purpose")
    if c.verb.base in SYMMETRIC:  # "Ysolde Marrick married Emrys Vantongeren": he married her too
        pred = f"{c.verb_text} {lower_the(c.subject)} {mods}".strip()
    else:
        particles = " ".join(c.verb_text.split()[1:])  # "set up" -> "was set up by"
        pred = f"{be} {verbs.inflect(c.verb.base, 'participle')} {particles} by {lower_the(c.subject)} {mods}"
        pred = " ".join(pred.split())
    if len(pred.split()) > MAX_FACT_WORDS or ent in pred or re.search(r"\b(its|his|her|their)\b", pred):
        return None
    return Fact(ent, pred, s.doc_id, s.chunk_id)


def _describe(g: Wording, ent: str, preds: list[str]) -> str:
    wh = "Who" if g.info.is_person(ent) else (f"Which {g.info.category(ent)}" if g.info.category(ent) else "What")
    if len(preds) == 2:
        body = f"{preds[0]} and {preds[1]}"
    else:
        body = ", ".join(preds[:-1]) + f" and {preds[-1]}"
    return f"{wh} {body}"


def entity_pairs(g: Wording, facts: list[Fact], per_entity: int = 2) -> list[QA]:
    """Questions that describe an entity by 2-3 facts of one document without naming it."""
    out = []
    by = {}
    for f in facts:
        by.setdefault((f.entity, f.doc_id), []).append(f)
    for (ent, doc), fs in sorted(by.items()):
        fs = _distinct(fs)
        combos = [fs[i:i + 2] for i in range(0, len(fs) - 1, 2)][:per_entity]
        if len(fs) >= 3:
            combos.append(fs[:3])
        for combo in combos[:per_entity]:
            out.append(QA(as_question(_describe(g, ent, [f.text for f in combo])), ent, "entity", [doc],
                          sorted({f.chunk_id for f in combo}), step="entity"))
    return out


def _distinct(fs: list[Fact]) -> list[Fact]:
    seen, out = set(), []
    for f in fs:
        k = normalize(f.text)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return out


def crossdoc_pairs(g: Wording, facts: list[Fact], per_entity: int = 3) -> list[QA]:
    """Converging clues: one fact from each of two documents about the same entity."""
    by: dict[str, dict[str, list[Fact]]] = {}
    for f in facts:
        by.setdefault(f.entity, {}).setdefault(f.doc_id, []).append(f)
    out = []
    for ent, docs in sorted(by.items()):
        if len(docs) < 2:
            continue
        doc_ids = sorted(docs)
        made = 0
        for i, da in enumerate(doc_ids):
            for db in doc_ids[i + 1:]:
                fa, fb = docs[da][made % len(docs[da])], docs[db][-1 - made % len(docs[db])]
                if normalize(fa.text) == normalize(fb.text):
                    continue
                out.append(QA(as_question(_describe(g, ent, [fa.text, fb.text])), ent, "crossdoc", [da, db],
                              sorted({fa.chunk_id, fb.chunk_id}), step="crossdoc"))
                made += 1
                if made >= per_entity:
                    break
            if made >= per_entity:
                break
    return out


_NP_BEFORE = re.compile(r"(?:^|\b(?:the|of|by|to|for|from|with|at|in|on|does|did|do|is|was|has|had|were|are|"
                        r"founded|built|launched|won|joined|designed|licensed|sued|developed|captained|left|"
                        r"directed|married|name|named|what|who|which) )$", re.I)


_YEAR = re.compile(r"\b(?:1[0-9]|20)\d\d\b")
_ASKS_TIME = re.compile(r"^(?:In what year|When|Since when|During which years|For how long)\b")


def _whole_np(q: str, start: int, end: int) -> bool:
    """The entity at q[start:end] is a noun phrase of its own, not part of one ("six Wrenlet R2 robots")."""
    if not _NP_BEFORE.search(q[:start]):
        return False
    after = q[end:]
    if after.startswith(("?", ",")):
        return True
    nxt = after.split()[0] if after.split() else ""
    vf = verbs.lookup(nxt) if nxt[:1].islower() else None
    return nxt in ("in", "on", "at", "to", "for", "from", "with", "by", "as", "and", "over", "under") or bool(vf)


def bridge_pairs(pairs: list[QA], descriptions: dict[str, list[tuple[str, str, str]]], limit: int = 3,
                 max_words: int = 12) -> list[QA]:
    """Two-hop questions: "How many people does Drossel Dynamics employ?" + "Drossel Dynamics is the main rival of
    Quillfen Robotics" -> "How many people does the main rival of Quillfen Robotics employ?"."""
    out = []
    used: dict[str, int] = {}
    for qa in pairs:
        if qa.type not in ("direct", "indirect") or qa.short or len(qa.question.split()) > max_words:
            continue
        # only entities the question names (an index lookup, not a scan of every description: large corpora)
        for ent in sorted({n for n in entity_names(qa.question) if n in descriptions}):
            descs = descriptions[ent]
            m = re.search(rf"\b(?:the )?{re.escape(ent)}\b", qa.question)
            if not m or normalize(ent) == normalize(qa.answer) or not _whole_np(qa.question, m.start(), m.end()):
                continue
            for desc, doc_id, chunk_id in descs:
                key = f"{ent}|{desc}"
                owner = re.sub(r"^.* (?:of|that) (?:the )?", "", desc)
                if used.get(key, 0) >= limit or normalize(desc) in normalize(qa.question) \
                        or normalize(qa.answer) in normalize(desc) or owner in qa.question \
                        or (_YEAR.search(desc) and (_YEAR.search(qa.question) or _ASKS_TIME.match(qa.question))):
                    continue  # two years in one question would be ambiguous about which one is asked
                tail = qa.question[m.end():].split()
                if " that " in desc and tail and tail[0] != "?" and not (verbs.lookup(tail[0].rstrip("?")) and
                                                                        tail[0][:1].islower()):
                    continue  # "the company that X in 2016": a relative clause swallows what follows it
                q = qa.question[: m.start()] + desc + qa.question[m.end():]
                q = q[:1].upper() + q[1:]
                cross = doc_id not in qa.doc_ids
                out.append(QA(q, qa.answer, "crossdoc" if cross else "indirect",
                              sorted(set(qa.doc_ids) | {doc_id}), sorted(set(qa.chunk_ids) | {chunk_id}),
                              step="crossdoc"))
                used[key] = used.get(key, 0) + 1
                break
    return out


def consolidated_pairs(g: Wording, facts: list[Fact], max_facts: int = 4) -> list[QA]:
    """One multi-fact answer per entity and document: everything this document says about it."""
    by: dict[tuple[str, str], list[Fact]] = {}
    for f in facts:
        by.setdefault((f.entity, f.doc_id), []).append(f)
    out = []
    for (ent, doc), fs in sorted(by.items()):
        fs = _distinct(fs)
        if len(fs) < 3:
            continue
        name = ent if g.info.is_person(ent) or not g.info.category(ent) else f"the {ent}" \
            if ent in g.info.not_people else ent
        facts_text = "; ".join(f.text for f in fs[:max_facts])
        out.append(QA(as_question(f"What are the key facts about {name}"), f"{ent} {facts_text}.", "consolidated", [doc],
                      sorted({f.chunk_id for f in fs[:max_facts]}), step="consolidated"))
    return out


def identity_descriptions(clauses: list[tuple[Clause, Sentence]], info: CorpusInfo) -> dict[str, list[tuple[str, str, str]]]:
    """name -> definite descriptions of it ("the main rival of Quillfen Robotics") with their doc and chunk."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for c, s in clauses:
        if c.kind != "copula" or c.negated:
            continue
        a, b = c.subject, c.obj
        ea, eb = entity_of(a), entity_of(b)
        name, desc = (eb, a) if eb and not ea else ((ea, b) if ea and not eb else (None, None))
        if not name or not re.match(r"^(?:the|The) [a-z\-]+(?: [a-z\-]+){0,3} of [A-Z]", desc):
            continue
        out.setdefault(trim_of_place(name, info), []).append((lower_the(desc), s.doc_id, s.chunk_id))
    return out


def question_descriptions(pairs: list[QA], info: CorpusInfo) -> dict[str, list[tuple[str, str, str]]]:
    """"Which company built the diesel engines of the Petrel?" -> Drossel Dynamics is "the company that built the
    diesel engines of the Petrel": a description another question can use in its place (a two-hop question)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for p in pairs:
        cat = info.category(p.answer)
        if not cat or p.short or p.type not in ("direct", "indirect") or len(p.question.split()) > 12 \
                or " as of " in p.question or not p.question.startswith(f"Which {cat} "):
            continue
        rest = p.question[len(f"Which {cat} "):].rstrip("?")
        if re.match(r"^(is|was|are|were|has been)\b", rest):
            continue  # "the company that is X" adds nothing over the identity descriptions
        out.setdefault(p.answer, []).append((f"the {cat} that {rest}", p.doc_ids[0], p.chunk_ids[0]))
    return out
