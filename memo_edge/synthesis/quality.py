"""The quality filter every extractive pair passes before training, with a count per reason for the card.

A pair is dropped when its question gives the answer away or runs past 25 words, its answer is longer than the question's wh-type
allows ("When ...?" is answered by a date, not a clause), the question has no wh-word or auxiliary, it is a
fragment (ends on a dangling function word, unbalanced brackets), its in-place wh-word stands where no question
word can ("Grace and whom 's daughter", "the son of X, what?", "Who, the manager, may call?", "fathered whom and
Mike Todd?", "Who won X with whom?"), or it is not self-contained (an unresolved
pronoun or "this/these" that needs the document to make sense).
"""

from __future__ import annotations

import re

from .dataset import Pair
from .text import normalize

_WHOLE_SENTENCES = {"statement"}
MAX_QUESTION_WORDS = 25  # a user's question is short; a 40-word echo of a sentence teaches little
_WH = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.I)
_AUX_START = re.compile(r"^(is|are|was|were|do|does|did|has|have|had|can|will)\b", re.I)
_DANGLING = re.compile(
    r"\b(the|a|an|of|and|or|that|which|its|their|his|her|is|was|be|been|to)\s*\?$|\s[+*&]\s*\?$", re.I
)
# "What 's ...?", "'s an example of what?": a contraction cut from its word ("here's") is no question
_DETACHED_CLITIC = re.compile(r"(?:^|[\s,])'(?:s|re|ll|ve|d)\b")
# lower case only: a capitalized pronoun inside a question is part of a title ("A League of Their Own")
_UNRESOLVED = re.compile(r"(?:^|(?<=\s))(?:he|she|it|they|him|them|his|her|hers|its|their|theirs|this|these|those)\b")
_UNRESOLVED_START = re.compile(r"^(?:He|She|It|They|His|Her|Its|Their|This|These|Those)\b")
# an in-place question word that replaced a possessor ("Grace and whom 's daughter") or an apposition/list member set
# off by commas ("James' successor, whom, attempted?", "the son of X, what?"): the sentence's shape, not a question
_WH_MISPLACED = re.compile(
    r"\b(?:whom|what|which \w+)\s*'s\b|,\s*(?:whom|what(?: \w+)?|which \w+)\s*(?:,|\?$)|^(?:who|whom|what|which \w+),"
    # a list member asked in place ("fathered whom and Mike Todd?", "with which option or -d?", "and whom;"), a
    # second wh-word ("Who won X with whom?", "Whose date is what?"), a clause boundary after it ("Which org; NFS")
    r"|\b(?:whom|what) and [A-Z]|\w\s+(?:whom|what|which \w+) or\b|\b(?:whom|what|which \w+)\s*;"
    r"|^(?:who|whom|whose|what|which|when|where)\b.+\b(?:whom|what)\?$"
    # a possessive split from its noun by the tokenizer ("H11 's got what?")
    r"|\w 's\b",
    re.I,
)
_DEMONSTRATIVE_ANSWER = re.compile(r"^(?:this|that|these|those)\s+\S+$")
_PRONOUN_ANSWER = re.compile(r"^(?:he|she|it|they|him|her|them|this|that|these|those|one|some)$", re.I)


def _limit(question: str) -> int:
    """How many words an answer to this kind of question may have."""
    q = question.lower()
    if re.search(r"\bhow (many|much)\b", q):
        return 5
    if re.search(r"\b(when|what year|what date|since when|until when)\b", q):
        return 6
    if re.search(r"\b(who|whom)\b", q):
        return 12 if re.match(r"^who (is|was|are|were) [A-Z]", question) or q.endswith(" who?") else 8
    if re.search(r"\b(where|which)\b", q):
        return 8
    if q.startswith("what are the key facts"):
        return 80
    return 14


_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*")
_POSSESSIVE = re.compile(r"['’]s?$")


_OPENERS = {
    "What",
    "Who",
    "Whom",
    "Whose",
    "Which",
    "When",
    "Where",
    "How",
    "In",
    "On",
    "At",
    "By",
    "From",
    "To",
    "With",
    "For",
    "Of",
    "As",
    "The",
    "A",
    "An",
    "Is",
    "Was",
    "Are",
    "Were",
    "Do",
    "Does",
    "Did",
    "Has",
    "Had",
    "Name",
    "Since",
    "Until",
    "During",
    "After",
    "Before",
    "Between",
}


def _repeats_name(q: str, a: str) -> bool:
    """ "What did Mido start?" -> "Mido's career": an answer that holds a whole name the question already names
    says nothing new ("Thomas Baring was the brother of whom?" -> "Edward Baring" shares only a surname, "Who is the
    Mach number named after?" -> "Ernst Mach" names more than "Mach": fine)."""
    names = set()
    for m in _NAME.finditer(q):
        words = m.group(0).split()
        while words and words[0] in _OPENERS:  # a capitalized question word is no part of a name
            words = words[1:]
        if words:  # "What burst the River Oddle's banks?" names the River Oddle
            names.add(_POSSESSIVE.sub("", " ".join(words)))
    # the whole name, possessive or not; a longer name that holds it ("Mach" -> "Ernst Mach") is new information
    if set(re.findall(r"\d+", a)) - set(re.findall(r"\d+", q)):
        return False  # "Python 3.10" for "minimum Python version": the number is the new information
    runs = {_POSSESSIVE.sub("", m.group(0)) for m in _NAME.finditer(a)}
    return any(n in runs for n in names if len(n) > 2)


def _unresolved(q: str) -> bool:
    return bool(_UNRESOLVED.search(q) or _UNRESOLVED_START.match(q))


_QUOTED = re.compile(r'"([^"]*)"')


def _unresolved_cloze(q: str) -> bool:
    """A fill-in quotes its sentence: a pronoun inside the quote after a noun may refer to it ("once a file grows
    past ___, it is moved"), one that opens the quote has nothing to refer to."""
    m = _QUOTED.search(q)
    if not m:
        return _unresolved(q)
    first = (m.group(1).split() or [""])[0]
    return _unresolved(q[: m.start()] + q[m.end() :]) or _unresolved(first) or _unresolved(first.capitalize())


def rejection(p: Pair) -> str | None:
    """Why a pair is unfit for training, or None."""
    q, a = p.question.strip(), p.answer.strip()
    if not normalize(a) or _PRONOUN_ANSWER.match(a):
        return "empty or pronoun answer"
    if p.type not in _WHOLE_SENTENCES and _DEMONSTRATIVE_ANSWER.match(a):
        return "vague answer"  # "What should you update? -> this file": which file only the document knows
    if len(q.split()) < 3 or not q.endswith("?"):
        return "fragment"
    if len(q.split()) > MAX_QUESTION_WORDS:
        return "question too long"
    if not (_WH.search(q) or _AUX_START.match(q)):
        return "no wh-word or auxiliary"
    if (
        _DANGLING.search(q)
        or _DETACHED_CLITIC.search(q)
        or any(x.count(o) != x.count(c) for x in (q, a) for o, c in ("()", "[]"))
        or q.count('"') % 2
    ):
        return "fragment"
    if _WH_MISPLACED.search(q):
        return "wh-word where no question word can stand"
    if p.type in _WHOLE_SENTENCES:  # a statement answers with its sentences: no short-answer rules
        return "not self-contained" if _unresolved(q) else None
    if p.type != "consolidated" and f" {normalize(a)} " in f" {normalize(q)} ":
        return "question contains its answer"
    if p.type != "consolidated" and _repeats_name(q, a):
        return "answer repeats the question's name"
    if p.type != "consolidated" and len(a.split()) > _limit(q):
        return "answer too long for its wh-type"
    if _unresolved_cloze(q) if p.type == "cloze" else _unresolved(q):
        return "not self-contained"
    return None


def apply(pairs: list[Pair]) -> tuple[list[Pair], dict[str, int]]:
    kept, dropped = [], {}
    for p in pairs:
        why = rejection(p)
        if why:
            dropped[why] = dropped.get(why, 0) + 1
        else:
            kept.append(p)
    return kept, dict(sorted(dropped.items()))
