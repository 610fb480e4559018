"""Prose clean-up before parsing, and the facts that live in parentheses.

The parser reads "Pál Gábor (2 November 1932 – 21 October 1987) was a Hungarian film director" badly (the dates
become appositions of the name), yet the parenthesis is one of the most fact-dense spots of encyclopedic and
biographical text. So parentheses are read here with a small date grammar (birth / death dates and places) and
removed before the sentence goes to spaCy; quotes, which web text pads inconsistently, are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MON = rf"(?:{MONTHS}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_YEAR = r"(?:[1-9]\d{2,3})(?:\s*(?:BC|BCE|AD|CE))?"
# "2 November 1932", "November 2, 1932", "November 1932", "1932", "c. 1932", "2025-03-11"
DATE = (
    rf"(?:(?:c\.|ca\.|circa|about)\s*)?(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}\s+{_MON}\s+{_YEAR}|{_MON}\s+\d{{1,2}},?\s+"
    rf"{_YEAR}|{_MON}\s+{_YEAR}|{_YEAR})"
)
_DASH = r"\s*(?:–|—|-|−|to)\s*"
_PLACE = r"(?:,?\s+in\s+|,\s+)(?P<{0}>[A-Z][^;,()]*(?:,\s*[A-Z][^;,()]*)?)"
_PLACE_NAME = r"(?P<{0}>[A-Z][^;,()–—]*?(?:,\s*[A-Z][^;,()–—]*?)?)(?=\s*(?:[;,)–—]|$|\s(?:died|to|–)))"
_IN = r"(?:,?\s+in\s+" + _PLACE_NAME + ")?"
# searched anywhere in the parenthesis: "known as X; 11 December 1928 – 1 December 1997",
# "born Seetharama Sharma, 1 December 1933 – 5 June 1985", "born 5 December 1919 in Nærøy, died ... in Nedstrand"
_SPAN = re.compile(
    rf"(?:^|[;,(]\s*|\b(?i:born)\s+)(?P<bdate>{DATE}){_IN.format('bplace')}{_DASH}(?:(?i:died)\s+)?"
    rf"(?P<ddate>{DATE}){_IN.format('dplace')}"
)
_BORN = re.compile(rf"\b(?i:born|b\.)\s+(?:[^;()]*?,\s*)??(?:on\s+)?(?P<bdate>{DATE}){_IN.format('bplace')}")
_BORN_IN = re.compile(r"\b(?i:born|b\.)\s+in\s+" + _PLACE_NAME.format("bplace"))
_DIED = re.compile(rf"\b(?i:died|d\.)\s+(?:on\s+)?(?P<ddate>{DATE}){_IN.format('dplace')}")
_PAREN = re.compile(r"\s*\(([^()]*)\)")
_QUOTES = re.compile(r"[\"“”„«»]")
_CITATION = re.compile(r"\[(?:\d+|[a-z][a-z ]{0,30}|citation needed|clarification needed)\]|\[[A-Z]$", re.I)
_SPACES = re.compile(r"\s+")
_YEAR_ONLY = re.compile(r"\b([1-9]\d{2,3})\b")


@dataclass(frozen=True)
class LifeFact:
    """A fact read from a parenthesis: `kind` is born_date | born_place | died_date | died_place."""

    subject: str
    kind: str
    value: str


def year_of(date: str) -> str | None:
    m = _YEAR_ONLY.search(date)
    return m.group(1) if m and m.group(0) != date.strip() else None


def _life_facts(subject: str, inner: str) -> list[LifeFact]:
    inner = " ".join(inner.split())
    keys = {"bdate": "born_date", "bplace": "born_place", "ddate": "died_date", "dplace": "died_place"}
    found: dict[str, str] = {}
    for pat in (_SPAN, _BORN, _BORN_IN, _DIED):
        m = pat.search(inner)
        if m:
            for g, v in m.groupdict().items():
                if v and g not in found:
                    found[g] = v.strip().rstrip(",.")
    return [LifeFact(subject, keys[g], v) for g, v in found.items()]


def _subject_before(text: str, start: int, fallback: str | None) -> str | None:
    """The name a parenthesis describes: the words between the sentence start and the parenthesis when they are a
    short name ("Martin Copping (born ...)"), else the document's own subject for the first sentence."""
    head = re.split(r"(?<=[.!?])\s+", text[:start])[-1].strip()
    words = head.split()
    if 1 <= len(words) <= 8 and words[0][:1].isupper() and not re.search(r"\b(?:is|was|are|were)\b", head):
        return head
    return fallback if start < 200 else None


def clean(text: str, subject: str | None = None) -> tuple[str, list[LifeFact]]:
    """Text without parentheses and quotes, plus the birth/death facts those parentheses held."""
    facts: list[LifeFact] = []
    text = re.sub(r"(\w)\(", r"\1 (", text)  # "Copping( born" in scraped text
    text = _SPACES.sub(" ", text)
    for m in _PAREN.finditer(text):
        who = _subject_before(text, m.start(), subject)
        if who:
            facts += _life_facts(_QUOTES.sub("", who), m.group(1).strip())
    while _PAREN.search(text):  # nested: "(/ˈkɑːm/ (listen); 15 October 1931 – ...)"
        text = _PAREN.sub("", text)
    text = _CITATION.sub("", text)
    text = _QUOTES.sub("", text).replace(" -- ", " – ")
    text = re.sub(r"\s+([,.;:!?])", r"\1", _SPACES.sub(" ", text)).strip()
    return text, facts


_REL = [
    (
        re.compile(r"\b(This|Last|Next) year\b,?"),
        lambda m, y: f"In {y + {'This': 0, 'Last': -1, 'Next': 1}[m.group(1)]}",
    ),
    (re.compile(r"\b(this|last|next) year\b"), lambda m, y: f"in {y + {'this': 0, 'last': -1, 'next': 1}[m.group(1)]}"),
]


_NOW = re.compile(r"\b(?:currently|nowadays|at present|today|now)\b(?!['’])", re.I)


def resolve_relative_years(text: str, date: str | None) -> str:
    """ "this year" / "last year" in a dated document become the year itself and "currently" becomes "as of
    <year>", so a question stays true after the document has aged."""
    m = re.match(r"^\s*(\d{4})", date or "")
    if not m:
        return text
    year = int(m.group(1))
    for pat, fn in _REL:
        text = pat.sub(lambda mm: fn(mm, year), text)
    return _NOW.sub(lambda mm: f"{'As' if mm.group(0)[:1].isupper() else 'as'} of {year}", text)
