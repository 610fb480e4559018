"""The `extractive` generator: deterministic question-answer pairs from the corpus text, no LLM.

Each short declarative sentence is split into subject / verb / object / modifiers (clauses.py) after its references
and relative times are resolved (resolve.py); every part that is a concrete fact becomes a question:
who/what did it (subject), what was done (object), when/where/how long/how many (modifiers, numbers), and the
reverse direction of relations ("X is the father of Y" -> "Whose father is X?"). On top: entity questions that
describe an entity by two or three facts without naming it, cross-document questions that join facts about one
entity from two documents or substitute a description from another document ("the main rival of Quillfen
Robotics"), and consolidated per-entity summaries.

Quality is below an LLM generator's: heuristics miss facts inside complex sentences and sometimes phrase a
question awkwardly; they never invent an answer that is not in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..corpus import ChunkingConfig, chunk_document
from ..records import Document
from . import verbs
from .clauses import Clause, Mod, parse
from .dataset import Pair as QA
from .entities import cap_spans, entity_names, possessive, strip_article
from .resolve import CorpusInfo, Sentence, corpus_info, resolve_sentences
from .text import detok, normalize, tokenize

PROMPT_VERSION = "extractive-v1"
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_APPROX = r"(?:about|around|nearly|almost|over|more than|up to|some|roughly|approximately|at least)"
_NUM = rf"(?:\d[\d,.]*|{'|'.join(NUMBER_WORDS)})(?:\s+(?:million|billion|thousand|hundred))?"
NUMBER_NP = re.compile(rf"^(?:{_APPROX}\s+)?(?P<num>{_NUM})\s+(?P<noun>[^,:;]+?)$", re.I)
MONEY = {"euros", "euro", "dollars", "dollar", "pounds", "pound", "francs", "yen", "crowns", "kroner"}
MEASURES = {"minutes", "minute", "hours", "hour", "days", "weeks", "months", "years", "metres", "meters", "metre",
            "kilometres", "kilometers", "km", "kilograms", "kg", "tonnes", "tons", "percent", "%", "miles", "feet",
            "litres", "liters", "generations", "seconds"}
ROLE_WORDS = {"mayor", "director", "chief", "president", "founder", "chair", "chairman", "minister", "engineer",
              "composer", "chemist", "painter", "teacher", "captain", "owner", "professor", "winner", "father",
              "mother", "brother", "sister", "son", "daughter", "wife", "husband", "executive", "supervisor",
              "co-inventor", "inventor", "student", "students", "people", "residents", "author", "manager"}
MAX_FACT_WORDS = 14
SYMMETRIC = {"marry", "meet", "divorce", "partner"}
MAX_SENTENCE_WORDS = 35
_NOT_PROSE = re.compile(r"[=_{}<>|\\`#@$^~*]|\(\s*\w\s*\)|https?:|www\.|\.\w{2,4}\b/|\s[-/]{2,}")


_DANGLING = re.compile(r"\b(?:the|a|an|of|to|and|or|with|for|by|in|on|at|from|that|which|its|their|his|her|be|"
                       r"been|being|is|are|was|were|must|may|can|shall|will|should|would|could)$", re.I)


def usable_sentence(text: str) -> bool:
    """Short declarative prose: the shape the clause rules understand. Code, legal boilerplate and long sentences
    produce wrong questions, so they produce none."""
    words = text.split()
    return 3 <= len(words) <= MAX_SENTENCE_WORDS and not _NOT_PROSE.search(text) and text.count('"') % 2 == 0


@dataclass
class Fact:
    """One clause about a named entity, kept for entity / cross-document / consolidated questions."""

    entity: str
    text: str          # the predicate: "founded Quillfen Robotics in 2016"
    doc_id: str
    chunk_id: str


@dataclass
class ExtractiveResult:
    pairs: list[QA]
    stats: dict = field(default_factory=dict)


# ---------------------------------------------------------------- noun-phrase helpers

_LOWER_FIRST = re.compile(r"^(The|A|An|Each|All|Most|Every|Some|" + "|".join(w.capitalize() for w in NUMBER_WORDS) + ") ")


def lower_the(np: str) -> str:
    return np[0].lower() + np[1:] if _LOWER_FIRST.match(np) else np


def answer_form(np: str) -> str:
    """How an answer is written: no leading article, "the ferry Gullwind" -> "Gullwind"."""
    np = np.strip(" ,;:")
    toks = tokenize(np)
    spans = cap_spans(toks)
    if len(toks) >= 3 and toks[0].lower() == "the" and toks[1][:1].islower() and spans and spans[0][0] == 2 \
            and spans[0][1] == len(toks):
        return detok(toks[2:])
    np = re.sub(r"^(?:each|every|all)\s+", "", strip_article(np), flags=re.I)
    first = np.split(" ", 1)[0]
    return np[0].lower() + np[1:] if first.lower() in NUMBER_WORDS and first[:1].isupper() else np


def trim_of_place(name: str, info: CorpusInfo) -> str:
    """"Drossel Dynamics of Port Ilsen" -> "Drossel Dynamics" when the corpus also names it on its own."""
    m = re.match(r"^(.+?) of ([A-Z].*)$", name)
    if m and len(info.docs_of.get(m.group(1), ())) >= 2 and len(info.docs_of.get(m.group(2), ())) >= 1:
        return m.group(1)
    return name


def entity_of(np: str) -> str | None:
    """The named entity an NP is, if it is exactly one ("The Corvane Lab" -> "Corvane Lab")."""
    toks = tokenize(np)
    spans = cap_spans(toks)
    if len(spans) != 1:
        return None
    a, b = spans[0]
    lead = [t.lower() for t in toks[:a]]
    if b == len(toks) and (lead in ([], ["the"]) or (len(lead) == 2 and lead[0] == "the" and toks[1][:1].islower())):
        return detok(toks[a:b])
    return None


def number_answer(num: str) -> str:
    return num


def _q(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,")
    text = re.sub(r"\s+([,?])", r"\1", text)
    return text[:1].upper() + text[1:] + ("" if text.endswith("?") else "?")


class _Gen:
    def __init__(self, info: CorpusInfo):
        self.info = info

    # ---- wh-words
    def wh_subject(self, np: str) -> str:
        ent = entity_of(np)
        if ent and self.info.is_person(ent):
            return "Who"
        if ent and self.info.category(ent):
            return f"Which {self.info.category(ent)}"
        if self._is_role(np):
            return "Who"
        return "What"

    def _is_role(self, np: str) -> bool:
        words = re.findall(r"[a-z\-]+", np.lower())
        head = words[: words.index("of")] if "of" in words else words
        return bool(head) and head[-1] in ROLE_WORDS

    def wh_object(self, np: str) -> str:
        ent = entity_of(np)
        if (ent and self.info.is_person(ent)) or self._is_role(np):
            return "Whom"
        return "What"

    # ---- verb groups
    def do_form(self, c: Clause, subj: str) -> str:
        """"did Ysolde Marrick found", "has Hesper Glount directed", "is the council planning"."""
        words = c.verb_text.split()
        tail = " ".join(words[1:])
        if c.kind == "passive" or (c.kind == "copula" and c.aux):
            be = c.aux or words[0]
            be_words = be.split()
            rest = " ".join(w for w in words if w not in be_words)
            return f"{be_words[0]} {subj} {' '.join(be_words[1:])} {rest}".replace("  ", " ").strip()
        if c.kind == "copula":
            return f"{words[0]} {subj} {tail}".strip()
        if c.aux:
            rest = " ".join(words[1:])
            return f"{c.aux} {subj} {rest}"
        t = c.verb.tense
        do = "did" if t in ("past", "pastpart") else ("does" if t == "s3" else "do")
        base = c.verb.base
        return f"{do} {subj} {base} {tail}".strip()

    def active_form(self, c: Clause) -> str | None:
        """Passive "is chaired" -> active "chairs" (for a question about the agent)."""
        be = (c.aux or c.verb_text.split()[0]).split()[0]
        if be in ("is", "are"):
            return verbs.inflect(c.verb.base, "s3")
        if be in ("was", "were"):
            return verbs.inflect(c.verb.base, "past")
        if be in ("has", "have"):
            return "has " + verbs.inflect(c.verb.base, "participle")
        return None


def _mods_text(mods: list[Mod], skip: Mod | None = None) -> str:
    return " ".join(m.text for m in mods if m is not skip and m.kind != "purpose")


def _as_of(q: str, as_of: int | None) -> str:
    return q if as_of is None else q.rstrip("?") + f" as of {as_of}?"


def _split_number_conj(obj: str) -> list[re.Match]:
    """"up to 180 passengers and 24 cars" -> two number phrases; a non-number part ends the list."""
    out = []
    for part in re.split(r",\s+|\s+and\s+", obj):
        m = NUMBER_NP.match(part.strip())
        if not m:
            break
        out.append(m)
    return out


def clause_pairs(g: _Gen, c: Clause, s: Sentence) -> list[QA]:
    subj = lower_the(c.subject)
    subj_ans = answer_form(c.subject)
    indirect = s.changed or c.derived or s.as_of is not None
    base_type = "indirect" if indirect else "direct"
    out: list[QA] = []

    def add(q: str, a: str, typ: str = base_type, short: bool = False, slot: str = ""):
        a = a.strip(" ,;:")
        if not a or len(a.split()) > 20 or not normalize(a) or re.search(r"[\"()\[\]]", q + a):
            return
        if _DANGLING.search(q.rstrip(" ?")) or _DANGLING.search(a):
            return  # "What must retain the?": a clause split in the wrong place
        if f" {normalize(a)} " in f" {normalize(q)} ":
            return  # the question gives the answer away
        out.append(QA(_as_of(_q(q), s.as_of), a, typ, [s.doc_id], [s.chunk_id], short, slot=normalize(slot)))

    mods = c.all_mods
    mtext = _mods_text(mods)
    obj = c.obj
    if c.negated:
        return []
    if c.kind in ("active", "passive", "have") or (c.kind == "copula" and c.aux):
        # subject question
        if c.subject[:1].isupper() or c.subject.startswith("the "):
            wh = g.wh_subject(c.subject)
            vt = c.verb_text
            if c.kind == "active" and not c.aux and c.verb.tense == "base":
                # "Ferrosod cells contain ..." -> "What contains ...?" (the wh-word is singular)
                vt = " ".join([verbs.inflect(c.verb.base, "s3")] + vt.split()[1:])
            add(f"{wh} {vt} {obj} {mtext}", subj_ans, slot=f"{c.verb_text} {obj} {mtext}")
            if mods and obj:
                add(f"{wh} {vt} {obj}", subj_ans, short=True, slot=f"{c.verb_text} {obj}")
            timed = [m for m in mods if m.kind in ("year", "date")]
            if timed and len(mods) > 1:
                # "Which river burst its banks on 14 November 2022?" without the other circumstances
                t = _mods_text(timed)
                add(f"{wh} {vt} {obj} {t}", subj_ans, short=True, slot=f"{c.verb_text} {obj} {t}")
    if c.kind == "copula":
        out.extend(_copula_pairs(g, c, s, add, subj, subj_ans))
    elif obj:
        out.extend(_object_pairs(g, c, s, add, subj))
    # modifier questions
    for m in mods:
        others = _mods_text(mods, skip=m)
        df = g.do_form(c, subj)
        body = f"{df} {obj if c.kind != 'copula' else c.obj} {others}"
        short_body = f"{df} {obj if c.kind != 'copula' else c.obj}"
        qs = _mod_questions(g, c, m, body)
        for q, a in qs:
            add(q, a)
            if others.strip() and m.kind in ("year", "place", "date", "duration", "range", "since"):
                sq = _mod_questions(g, c, m, short_body)
                for q2, a2 in sq:
                    add(q2, a2, short=True)
        if m.kind == "agent" and c.kind == "passive":
            act = g.active_form(c)
            if act:
                add(f"{g.wh_subject(m.np)} {act} {subj} {others}", answer_form(m.np), "indirect")
                add(f"{g.wh_subject(c.subject)} {c.verb_text} by {m.np} {others}", subj_ans, "indirect")
        if m.kind == "with":
            nm = NUMBER_NP.match(m.np)
            if nm and c.subject:
                add(f"How many {nm.group('noun')} does {subj} have", nm.group("num"))
    return out


def _mod_questions(g: _Gen, c: Clause, m: Mod, body: str) -> list[tuple[str, str]]:
    np = m.np
    if m.kind == "year":
        return [(f"In what year {body}", np)]
    if m.kind == "date":
        year = re.search(r"\d{4}", np)
        out = [(f"When {body}", np)]
        if year and year.group(0) != np:
            out.append((f"In what year {body}", year.group(0)))
        return out
    if m.kind == "range":
        return [(f"When {body}", f"from {np}"), (f"During which years {body}", np.replace(" to ", "-"))]
    if m.kind == "since":
        if np.startswith("it "):
            return []
        return [(f"Since when {body}", np)]
    if m.kind == "duration":
        return [(f"For how long {body}", np)]
    if m.kind == "when":
        return [(f"When {body}", np)]
    if m.kind == "role":
        subj_ent = entity_of(c.subject)
        if subj_ent and g.info.is_person(subj_ent):
            return [(f"In what role {body}", answer_form(np))]
        return [(f"As what {body}", answer_form(np))]
    if m.kind == "place":
        ent = entity_of(np)
        cat = g.info.category(ent) if ent else None
        if ent and g.info.is_person(ent):
            return [(f"{m.prep.capitalize()} whom {body}", ent)]
        if m.prep in ("in", "at", "inside"):
            return [(f"Where {body}", answer_form(np))]
        if cat:
            return [(f"{m.prep.capitalize()} which {cat} {body}", answer_form(np))]
        return [(f"Where {body} {m.prep}" if m.prep in ("to", "from") else f"Where {body}", answer_form(np))]
    if m.kind == "other":
        if not np or re.match(r"^[a-z]+ing\b", np) or np.split()[0] in ("this", "that", "it", "its", "which"):
            return []
        if re.match(r"^(?:the )?(?:mouth|bank|banks|edge|shore|foot|top|centre|center|heart)\b", np) or \
                m.prep in ("near", "above", "below", "inside", "at", "in"):
            return [(f"Where {body}", np)]
        ent = entity_of(np)
        if ent and g.info.is_person(ent):
            return [(f"{m.prep.capitalize()} whom {body}", answer_form(np))]
        if ent and g.info.category(ent):
            return [(f"{m.prep.capitalize()} which {g.info.category(ent)} {body}", answer_form(np))]
        if m.prep in ("for", "over", "on", "with", "after", "against", "about", "under", "from", "to"):
            return [(f"What {body} {m.prep}", np)]
    return []


def _object_pairs(g: _Gen, c: Clause, s: Sentence, add, subj: str) -> list[QA]:
    obj = c.obj
    df = g.do_form(c, subj)
    # a list after a colon: "three ferries: the Gullwind, the Marl Star and the Petrel"
    if ":" in obj:
        head, items = [x.strip() for x in obj.split(":", 1)]
        nm = NUMBER_NP.match(head)
        if nm:
            add(f"How many {nm.group('noun')} {df}", nm.group("num"))
            add(f"Which {nm.group('noun')} {df}", items)
        return []
    if obj.split()[0].lower() == "of" and len(obj.split()) > 1:
        prep, rest = obj.split(" ", 1)
        add(f"What {df} {prep}", rest)
        return []
    if obj.split()[0].lower() == "where":
        add(f"Where {df}", obj)
        return []
    nums = _split_number_conj(obj)
    if nums:
        for nm in nums:
            noun, num = nm.group("noun"), nm.group("num")
            words = noun.split()
            if words[0].lower() in MONEY:
                add(f"How much {df}", f"{num} {noun}")
            elif words[-1].lower() in MEASURES and len(words) == 1:
                unit = words[0]
                if unit in ("minutes", "hours", "days", "weeks", "months", "years", "seconds"):
                    add(f"How long {df}", f"{num} {unit}")
                else:
                    add(f"How many {noun} {df}", num)
            else:
                add(f"How many {noun} {df}", num)
        if len(nums) == 1 and obj.strip() == nums[0].group(0).strip():
            return []
    if nums and c.verb.base == "have":
        return []
    # money followed by more things ("50,000 euros and a bronze statuette"): ask for the whole object too
    wh = "What" if c.kind == "passive" else g.wh_object(obj)
    add(f"{wh} {df}", answer_form(obj) if c.verb.base != "have" else obj)
    return []


def _copula_pairs(g: _Gen, c: Clause, s: Sentence, add, subj: str, subj_ans: str) -> list[QA]:
    comp = c.obj
    be = c.verb_text.split()[0]
    be_full = c.verb_text

    def inv(x: str) -> str:  # "is X" / "has X been"
        return g.do_form(c, x)

    comp_ent = entity_of(comp)
    subj_ent = entity_of(c.subject)
    low = comp.lower()
    if low.startswith(("a ", "an ")) or (not comp_ent and not low.startswith(("the ", "its ")) and "'" not in comp
                                         and not comp[:1].isupper()):
        # a category: "What is the Copperhall?" -> "a covered market with a green copper roof"
        if subj_ent:
            wh = "Who" if g.info.is_person(subj_ent) else "What"
            add(f"{wh} {inv(subj)}", comp if len(comp.split()) <= 16 else " ".join(comp.split()[:16]))
        return []
    if comp_ent and not subj_ent:
        # "The mayor of Varrowick is Odile Fanshaw": description -> name, and the relation backwards
        add(f"{g.wh_subject(comp)} {be_full} {subj}", trim_of_place(answer_form(comp), g.info))
        _reverse_relation(g, add, c.subject, trim_of_place(answer_form(comp), g.info), be_full, inv)
    elif subj_ent and not comp_ent:
        add(f"{g.wh_subject(c.subject)} {be_full} {lower_the(comp)}", answer_form(c.subject))
        _reverse_relation(g, add, comp, c.subject, be_full, inv)
        if subj_ent and len(comp.split()) <= 12:
            add(f"{'Who' if g.info.is_person(subj_ent) else 'What'} {inv(subj)}", comp, "indirect", short=True)
    elif subj_ent and comp_ent:
        add(f"{g.wh_subject(c.subject)} {be_full} {lower_the(comp)}", answer_form(c.subject))
        add(f"{g.wh_subject(comp)} {inv(subj)}", answer_form(comp))
    return []


def _reverse_relation(g: _Gen, add, desc: str, name: str, be: str, inv) -> None:
    """"the father of Ysolde Marrick" + "Aldous Marrick" -> "Whose father is Aldous Marrick?" -> "Ysolde Marrick"."""
    desc = lower_the(desc)
    name_m = lower_the(name)
    m = re.match(r"^the ([a-z\-]+(?: [a-z\-]+){0,2}) of (.+)$", desc)
    poss = re.match(r"^(.+?)['’]s? ([a-z\-]+(?: [a-z\-]+){0,2})$", desc)
    if m:
        role, owner = m.group(1), m.group(2)
    elif poss:
        owner, role = poss.group(1), poss.group(2)
    else:
        return
    ent = entity_of(owner)
    if ent and g.info.is_person(ent):
        add(f"Whose {role} {be} {name_m}", answer_form(owner), "indirect")
    elif ent and g.info.category(ent):
        add(f"Of which {g.info.category(ent)} {inv(name_m)} the {role}", answer_form(owner), "indirect")
    elif ent:
        add(f"What {inv(name_m)} the {role} of", answer_form(owner), "indirect")


# ---------------------------------------------------------------- entity-level questions

def _fact(c: Clause, s: Sentence) -> Fact | None:
    ent = entity_of(c.subject)
    if not ent or c.negated:
        return None
    pred = c.predicate()
    if s.as_of is not None:
        pred += f" as of {s.as_of}"
    if not pred or len(pred.split()) > MAX_FACT_WORDS or ent in pred:
        return None
    return Fact(ent, pred, s.doc_id, s.chunk_id)


def _object_fact(c: Clause, s: Sentence) -> Fact | None:
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


def _describe(g: _Gen, ent: str, preds: list[str]) -> str:
    wh = "Who" if g.info.is_person(ent) else (f"Which {g.info.category(ent)}" if g.info.category(ent) else "What")
    if len(preds) == 2:
        body = f"{preds[0]} and {preds[1]}"
    else:
        body = ", ".join(preds[:-1]) + f" and {preds[-1]}"
    return f"{wh} {body}"


def entity_pairs(g: _Gen, facts: list[Fact], per_entity: int = 2) -> list[QA]:
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
            out.append(QA(_q(_describe(g, ent, [f.text for f in combo])), ent, "entity", [doc],
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


def crossdoc_pairs(g: _Gen, facts: list[Fact], per_entity: int = 3) -> list[QA]:
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
                out.append(QA(_q(_describe(g, ent, [fa.text, fb.text])), ent, "crossdoc", [da, db],
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


def consolidated_pairs(g: _Gen, facts: list[Fact], max_facts: int = 4) -> list[QA]:
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
        out.append(QA(_q(f"What are the key facts about {name}"), f"{ent} {facts_text}.", "consolidated", [doc],
                      sorted({f.chunk_id for f in fs[:max_facts]}), step="consolidated"))
    return out


def _descriptions(clauses: list[tuple[Clause, Sentence]], info: CorpusInfo) -> dict[str, list[tuple[str, str, str]]]:
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


def _question_descriptions(pairs: list[QA], info: CorpusInfo) -> dict[str, list[tuple[str, str, str]]]:
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


def generate(docs: list[Document], chunking: ChunkingConfig = ChunkingConfig(), progress=None) -> ExtractiveResult:
    info = corpus_info(docs)
    g = _Gen(info)
    pairs: list[QA] = []
    facts: list[Fact] = []
    all_clauses: list[tuple[Clause, Sentence]] = []
    n_sent = skipped = 0
    for d in docs:
        for s in resolve_sentences(d, chunk_document(d, chunking), info):
            n_sent += 1
            if not usable_sentence(s.resolved):
                skipped += 1
                continue
            for c in parse(s.resolved):
                all_clauses.append((c, s))
                pairs.extend(clause_pairs(g, c, s))
                facts += [f for f in (_fact(c, s), _object_fact(c, s)) if f]
        if progress:
            progress(1)
    for p in pairs:
        p.step = "facts"
    ent = entity_pairs(g, facts)
    cross = crossdoc_pairs(g, facts)
    descs = _descriptions(all_clauses, info)
    for name, ds in _question_descriptions(pairs, info).items():
        descs.setdefault(name, []).extend(ds)
    bridges = bridge_pairs(pairs, descs)
    cons = consolidated_pairs(g, facts)
    stats = {"sentences": n_sent, "sentences_skipped": skipped, "clauses": len(all_clauses), "facts": len(facts)}
    return ExtractiveResult(pairs + ent + cross + bridges + cons, stats)
