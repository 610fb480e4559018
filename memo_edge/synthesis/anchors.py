"""A question that names nothing is asked with its document.

"What is the backup?" -> Jonas says nothing about whose backup. Trained as it is, it binds the word "backup" to
Jonas for every document (and two documents' "What is the backup?" with different answers are both dropped as
ambiguous), while a user's "Who covers if Ravindra is off sick during my leave?" shares no word with it. A
wh-question that holds no name, number, code token or word of its document's name, and fewer than three content
words, is asked with the document instead: "In Handover notes for my leave, what is the backup?".
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from ..vocabulary import FUNCTION_WORDS, terms
from .codemask import is_placeholder
from .dataset import Pair

MIN_CONTENT_WORDS = 3
_WORD = re.compile(r"\w[\w'-]*")


@lru_cache(maxsize=256)
def _topic_terms(topic: str) -> frozenset[str]:
    return frozenset(terms(topic))  # once per document, not once per question


def names_something(question: str, topic: str) -> bool:
    """Whether a question carries its own key: a name (a capitalized word), a number, a code token (here still a
    codemask placeholder: extractive.py puts the tokens back at the end), a word of its document's name, or three
    content words or more."""
    words = _WORD.findall(question)
    # the first word is capitalized anyway: it names something when it is no question or function word ("Jonas ...")
    named = [w for k, w in enumerate(words) if w[:1].isupper() and w != "I" and (k or w.lower() not in FUNCTION_WORDS)]
    if named or any(is_placeholder(w) or any(c.isdigit() for c in w) for w in words):
        return True
    found = terms(question)
    return bool(found & _topic_terms(topic)) or len(found) >= MIN_CONTENT_WORDS


def with_document(p: Pair, topic: str, always: bool = False, common: str = "") -> Pair:
    """The pair, its question asked "In <document>, ..." where it names nothing (see the module's docstring), or
    `always` (its subject is a thing only the document names: "the cutover freeze" of a to-do list). `common`: the
    sentence's first word when it is no name ("Logs"): capitalized only for opening the sentence."""
    if not topic or p.type not in ("direct", "indirect") or p.question.startswith(f"In {topic},"):
        return p
    if not always and names_something(p.question, topic):
        return p
    return replace(p, question=f"In {topic}, {_after_comma(p.question, common)}")


def for_section(p: Pair, section: str, common: str = "") -> Pair:
    """A pair from a "Key: clause" line of a section, asked for the thing the section is about: "What should you
    not run during business hours?" under "## ldg-db-03" -> "For ldg-db-03, what should you not run during
    business hours?". A question that names the section's thing already (or a name of it: "Petra") stays."""
    named = {w for w in _WORD.findall(section) if w[:1].isupper() and len(w) > 2} | {section}
    if p.type not in ("direct", "indirect") or any(
        re.search(rf"(?<!\w){re.escape(w)}(?!\w)", p.question) for w in named
    ):
        return p
    return replace(p, question=f"For {section}, {_after_comma(p.question, common)}")


def _after_comma(q: str, common: str) -> str:
    """The question as it reads after "In X, ": a question word ("What is ...") or the sentence's first word when
    it is no name ("Logs go ...") loses its capital; a name keeps it."""
    first = q.split()[0] if q.split() else ""
    return q[:1].lower() + q[1:] if first.lower() in FUNCTION_WORDS or (common and first == common) else q
