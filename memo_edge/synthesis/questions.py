"""Questions from one clause: subject, object, every modifier (when / where / how long / how many / in what
role), numbers and money, identity and category sentences, and relations asked in reverse."""

from __future__ import annotations

import re

from . import verbs
from .clauses import Clause, Mod
from .dataset import Pair as QA
from .phrases import (MEASURES, MONEY, NUMBER_NP, Wording, answer_form, as_question, entity_of, lower_the,
                      trim_of_place)
from .resolve import Sentence
from .text import normalize

_DANGLING = re.compile(r"\b(?:the|a|an|of|to|and|or|with|for|by|in|on|at|from|that|which|its|their|his|her|be|"
                       r"been|being|is|are|was|were|must|may|can|shall|will|should|would|could)$", re.I)


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


def clause_pairs(g: Wording, c: Clause, s: Sentence) -> list[QA]:
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
        out.append(QA(_as_of(as_question(q), s.as_of), a, typ, [s.doc_id], [s.chunk_id], short, slot=normalize(slot)))

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


def _mod_questions(g: Wording, c: Clause, m: Mod, body: str) -> list[tuple[str, str]]:
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


def _object_pairs(g: Wording, c: Clause, s: Sentence, add, subj: str) -> list[QA]:
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


def _copula_pairs(g: Wording, c: Clause, s: Sentence, add, subj: str, subj_ans: str) -> list[QA]:
    comp = c.obj
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


def _reverse_relation(g: Wording, add, desc: str, name: str, be: str, inv) -> None:
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
