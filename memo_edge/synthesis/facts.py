"""Facts first: what a clause states, as typed records, before any question is written.

qgen.Writer reads a parsed sentence into Clauses (subject, verb, arguments) and asks each argument in the text's own
words. `clause_facts` turns the same clause into `Fact`s: one per argument that is a concrete answer (subject,
relation = verb lemma + how the argument hangs on it, object, what kind of thing each side is, negation).
phrasings.py then writes the questions people ask about a fact in the common relation words, both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["person", "place", "date", "number", "thing"]

_PLACE_LABELS = {"GPE", "LOC", "FAC"}
_NUMBER_LABELS = {"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"}


@dataclass(frozen=True)
class Fact:
    """One thing a clause states about its subject: "Ada Quell was born in Varnholm" is (Ada Quell, bear/in,
    Varnholm, place)."""

    subject: str  # as written in a question (pronouns resolved: "Frobnitz", not "it")
    subject_answer: str  # as an answer (no article)
    subject_kind: Kind
    subject_named: bool  # a name, not a description ("the team"): only names are asked about by relation
    verb: str  # lemma
    key: str  # how the object hangs on the verb: "dobj", "agent" (of a passive), "attr" or the preposition
    object: str  # as an answer (minimal: "MIT License", not "the MIT License")
    object_text: str  # as written in a question ("the film Blue Moon")
    object_kind: Kind
    object_named: bool
    object_category: str | None = None  # "film", "band": what "which ..." asks for the object
    subject_category: str | None = None
    negated: bool = False
    passive: bool = False  # "was created a Baronet": its object is no thing the subject made

    @property
    def relation(self) -> tuple[str, str]:
        return (self.verb, self.key)


def kind_of(writer, tok) -> Kind:
    """What kind of thing a phrase headed by `tok` names, from the entity recognizer and the Writer's person test."""
    ent = writer.ent(tok)
    label = ent.label_ if ent is not None else ""
    if label in ("DATE", "TIME"):
        return "date"
    if label in _NUMBER_LABELS or (tok.like_num and not label):
        return "number"
    if writer.is_person(tok):
        return "person"
    if label in _PLACE_LABELS:
        return "place"
    return "thing"


def clause_facts(writer, cl, code_of) -> list[Fact]:
    """The facts of one clause: its subject related to each argument the Writer can ask as a concrete answer.
    `code_of(token)` is the one code token of the phrase a token heads, if any: it alone is the answer ("the --x
    option" -> "--x")."""
    if not cl.subject_answer or any(a.tag_ == "MD" for a in cl.aux):
        return []  # "must be released under X" is a rule, not the licence: relation words would drop the modal
    subject_named = writer._named(cl.subj) or cl.subj.head.i in writer.subst
    out = []
    for a in cl.core + cl.mods:
        if not writer.asks(a, cl):  # no concrete answer (a pronoun, a vague noun, a relative span)
            continue
        answer, category = writer.answer(a)
        answer = code_of(a.head) or answer
        if not answer:
            continue
        out.append(
            Fact(
                subject=cl.subject_text,
                subject_answer=cl.subject_answer,
                subject_kind=kind_of(writer, cl.subj.head),
                subject_named=subject_named,
                verb=cl.verb.lemma_.lower(),
                key="agent" if a.role == "agent" else (a.prep_word or a.role),
                object=answer,
                object_text=writer.arg_text(a),
                object_kind=kind_of(writer, a.head),
                object_named=writer._named(a),
                object_category=category,
                subject_category=writer.index.category(cl.subject_answer),
                negated=bool(cl.neg),
                passive=bool(cl.passive),
            )
        )
    return out
