"""The questions people ask about a fact in the common relation words, both directions.

qgen.Writer asks each fact in the text's own verb ("Who directed Blue Moon?"). A user asks as often with the noun
for the relation ("Who is the director of Blue Moon?", "Blue Moon's director?") or from the other side ("Hale is the
director of what?"). `RELATIONS` is data: (verb lemma, how the object hangs on the verb) -> the relation nouns it
states and which side of the clause is the relation's value. `relation_questions` writes every phrasing of one
(fact, relation); adding a relation is one line of the table (tests/test_synthesis_phrasings.py holds one invented
sentence per kind of entry: subject-valued, object-valued, split by the value's kind, symmetric).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .dataset import Pair
from .facts import Fact, Kind
from .qgen import QA
from .quality import MAX_QUESTION_WORDS
from .text import normalize, possessive


@dataclass(frozen=True)
class Relation:
    noun: str  # "director", "place of birth"
    value: str  # "object": "X was born in Oslo" -> the place of birth of X is Oslo;
    #             "subject": "X directed Y" -> the director of Y is X
    kinds: frozenset[str] = frozenset()  # the value's kinds it applies to ("in 1990" is no place of birth); any
    people: bool = False  # both sides are people whatever the recognizer said ("married", "succeeded")


def _r(noun: str, value: str = "object", *kinds: Kind) -> Relation:
    return Relation(noun, value, frozenset(kinds))


def _people(noun: str, value: str) -> Relation:
    return Relation(noun, value, people=True)


_AUTHORS = {
    "write": "author",
    "direct": "director",
    "compose": "composer",
    "design": "designer",
    "create": "creator",
    "develop": "developer",
    "found": "founder",
    "produce": "producer",
    "publish": "publisher",
    "maintain": "maintainer",
    "draw": "illustrator",
    "illustrate": "illustrator",
    "paint": "painter",
    "invent": "inventor",
    "build": "builder",
    "own": "owner",
    "lead": "leader",
    "coach": "coach",
    "manage": "manager",
    "sing": "singer",
    "perform": "performer",
}

# (verb lemma, "dobj" | "agent" | "attr" | preposition) -> relations. A passive clause's agent is keyed "agent":
# "Y was directed by X" and "X directed Y" state the same director.
RELATIONS: dict[tuple[str, str], tuple[Relation, ...]] = {
    **{(verb, "agent"): (_r(noun, "object", "person", "thing", "place"),) for verb, noun in _AUTHORS.items()},
    **{(verb, "dobj"): (_r(noun, "subject", "person", "thing", "place"),) for verb, noun in _AUTHORS.items()},
    ("release", "under"): (_r("licence"),),
    ("license", "under"): (_r("licence"),),
    ("licence", "under"): (_r("licence"),),
    ("distribute", "under"): (_r("licence"),),
    ("publish", "under"): (_r("licence"),),
    ("release", "in"): (_r("release date", "object", "date"),),
    ("release", "on"): (_r("release date", "object", "date"),),
    ("write", "in"): (_r("programming language", "object", "thing"),),
    ("depend", "on"): (_r("dependency", "object", "thing"),),
    ("require", "dobj"): (_r("requirement", "object", "thing", "number"),),
    ("listen", "on"): (_r("port", "object", "number"),),
    ("run", "on"): (_r("port", "object", "number"), _r("platform", "object", "thing")),
    ("marry", "dobj"): (_people("spouse", "object"), _people("spouse", "subject")),
    ("bear", "in"): (_r("place of birth", "object", "place"), _r("date of birth", "object", "date")),
    ("bear", "on"): (_r("date of birth", "object", "date"),),
    ("die", "in"): (_r("place of death", "object", "place"), _r("date of death", "object", "date")),
    ("die", "on"): (_r("date of death", "object", "date"),),
    ("bury", "in"): (_r("burial place", "object", "place"),),
    ("bury", "at"): (_r("burial place", "object", "place", "thing"),),
    ("locate", "in"): (_r("location", "object", "place", "thing"),),
    ("base", "in"): (_r("location", "object", "place", "thing"),),
    ("headquarter", "in"): (_r("headquarters", "object", "place", "thing"),),
    ("found", "in"): (_r("founding date", "object", "date"),),
    ("establish", "in"): (_r("founding date", "object", "date"),),
    ("educate", "at"): (_r("alma mater", "object", "thing", "place"),),
    ("graduate", "from"): (_r("alma mater", "object", "thing", "place"),),
    ("work", "for"): (_r("employer", "object", "thing"),),
    ("employ", "agent"): (_r("employer", "object", "thing"),),
    ("play", "for"): (_r("team", "object", "thing", "place"),),
    ("succeed", "dobj"): (_people("predecessor", "object"), _people("successor", "subject")),
    ("precede", "dobj"): (_people("successor", "object"), _people("predecessor", "subject")),
    ("flow", "into"): (_r("mouth", "object", "place", "thing"),),
    ("speak", "dobj"): (_r("language", "object", "thing"),),
    # technical documentation: "heappop() returns the smallest item" is heappop()'s return value; "idna
    # supersedes encodings.idna" makes idna the replacement for it
    ("return", "dobj"): (_r("return value", "object", "thing", "number"),),
    ("replace", "dobj"): (_r("replacement", "subject", "thing"),),
    ("supersede", "dobj"): (_r("replacement", "subject", "thing"),),
}


def _wh(kind: str, category: str | None) -> str:
    if kind == "person":
        return "Who"
    return f"Which {category}" if category else "What"


def relation_questions(f: Fact, rel: Relation) -> list[QA]:
    """Forward ("Who is the director of Y?", "Who is Y's director?", "The director of Y is who?") and, where both
    sides are names, backward ("X is the director of which film?", "Which film has X as its director?")."""
    if rel.value == "object":
        owner, owner_answer, owner_kind, owner_named, owner_cat = (
            f.subject,
            f.subject_answer,
            f.subject_kind,
            f.subject_named,
            f.subject_category,
        )
        value, value_kind, value_named = f.object, f.object_kind, f.object_named
    else:
        owner, owner_answer, owner_kind, owner_named, owner_cat = (
            f.object_text,
            f.object,
            f.object_kind,
            f.object_named,
            f.object_category,
        )
        value, value_kind, value_named = f.subject_answer, f.subject_kind, f.subject_named
    if rel.people:
        owner_kind = value_kind = "person"
    if f.negated or (f.passive and f.key == "dobj") or not owner_named or (rel.kinds and value_kind not in rel.kinds):
        return []
    if not owner or not value or normalize(value) == normalize(owner_answer) or normalize(value) in normalize(owner):
        return []
    noun = rel.noun
    wh = "Who" if value_kind == "person" else "What"
    slot = f"relation|{noun}|{normalize(owner_answer)}"
    out = [
        QA(f"{wh} is the {noun} of {owner}?", value, slot, "relation"),
        QA(f"{wh} is {possessive(owner)} {noun}?", value, slot, "relation"),
        QA(f"The {noun} of {owner} is {wh.lower()}?", value, slot, "relation"),
    ]
    if value_named and value_kind in ("person", "thing") and owner_kind != "date":
        back = f"relation-of|{noun}|{normalize(value)}"
        owner_wh = _wh(owner_kind, owner_cat)
        whose = "whom" if owner_kind == "person" else owner_wh.lower()
        out.append(QA(f"{value} is the {noun} of {whose}?", owner_answer, back, "short"))
        if owner_kind == "person":
            out.append(QA(f"Whose {noun} is {value}?", owner_answer, back, "short"))
        else:
            out.append(QA(f"{owner_wh} has {value} as {noun}?", owner_answer, back, "short"))
    return [QA(q.question[:1].upper() + q.question[1:], q.answer, q.slot, q.variant) for q in out]


def fact_questions(facts: list[Fact]) -> list[QA]:
    """Every relation phrasing of every fact."""
    return [qa for f in facts for rel in RELATIONS.get(f.relation, ()) for qa in relation_questions(f, rel)]


def full_name_variants(pairs: list[Pair], names: dict[str, str]) -> list[Pair]:
    """A question that names a person by surname, as a document does after the first mention ("When was Peel
    born?"), asked again with the full name a reader outside the document uses ("When was Robert Peel born?").
    `names`: surname (lower case) -> full name, one document's (mentions.full_names)."""
    out = []
    for p in pairs:
        if p.type not in ("direct", "indirect"):
            continue
        q = p.question
        for surname, full in names.items():
            if full not in q:
                q = _with_full_name(q, surname.title(), full)
        if q != p.question and len(q.split()) <= MAX_QUESTION_WORDS:
            out.append(dataclasses.replace(p, question=q, short=True))
    return out


def _with_full_name(q: str, surname: str, full: str) -> str:
    """Every bare `surname` in q replaced by `full`; a surname that ends a longer name ("Carrie Fisher",
    "Nadezhda Andreyevna Tolokonnikova") is another person or a fuller form, and stays."""
    parts, last = [], 0
    for m in re.finditer(rf"(?<![\w'’-]){re.escape(surname)}\b", q):
        before = q[: m.start()].split()
        if before and before[-1][:1].isupper():
            continue
        parts += [q[last : m.start()], full]
        last = m.end()
    return "".join(parts) + q[last:] if parts else q
