"""Noun phrases and wording for the extractive generator: answer forms, entity detection, wh-words, do-support.

"The ferry Gullwind" is answered "Gullwind"; a question about a company says "Which company ...", about a person
"Who ..."; "Ysolde Marrick founded X" is asked as "What did Ysolde Marrick found?" (verbs.py re-inflects).
"""

from __future__ import annotations

import re

from . import verbs
from .clauses import ADVERBS, Clause
from .entities import cap_spans, strip_article
from .resolve import CorpusInfo
from .text import detok, tokenize

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

def as_question(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,")
    text = re.sub(r"\s+([,?])", r"\1", text)
    return text[:1].upper() + text[1:] + ("" if text.endswith("?") else "?")

class Wording:
    """Wh-words and verb groups, knowing which entities are people and what category the others are."""

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
        if c.kind == "copula":  # "Varrowick is also home to X" -> "What is Varrowick?", not "is Varrowick also"
            return f"{words[0]} {subj} {' '.join(w for w in words[1:] if w not in ADVERBS)}".strip()
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
