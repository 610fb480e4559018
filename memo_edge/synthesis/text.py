"""Plain-text helpers shared by the generators: markdown stripping, sentences, tokens, relative time, normalization."""

from __future__ import annotations

import re
import string

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+.*$", re.M)
_MD_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_MD_EMPH = re.compile(r"(\*\*|__|\*|`)")
_ABBREV = (
    "Dr",
    "Mr",
    "Mrs",
    "Ms",
    "Prof",
    "St",
    "Mt",
    "Jr",
    "Sr",
    "Inc",
    "Ltd",
    "Co",
    "No",
    "vs",
    "e.g",
    "i.e",
    "approx",
    "Fig",
    "U.S",
    "U.K",
)
_SENT_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9])")

MONTHS = ("January February March April May June July August September October November December").split()
YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_SHORT = {m[:3]: m for m in MONTHS if m != "May"} | {"Sept": "September"} | {d[:3]: d for d in WEEKDAYS}
_SHORT |= {"Tues": "Tuesday", "Thur": "Thursday", "Thurs": "Thursday"}
# day and month names, full and abbreviated, lower case: "Mon", "march", "Thurs"
CALENDAR_WORDS = frozenset(w.lower() for w in (*MONTHS, *WEEKDAYS, *_SHORT))
# "14 Mar", "Sun 18 May", "Mar 2025": next to a number an abbreviation is a date's; alone only a month is taken as
# one ("Feb actual"), and not "Jan" (a name) nor a weekday ("Sun", "Sat" are words and names too)
_NEAR_NUMBER = re.compile(
    rf"\b({'|'.join(sorted(_SHORT, key=len, reverse=True))})\.?(?=,?\s+\d)|(?<=\d\s)({'|'.join(_SHORT)})\b\.?"
)
_ALONE = re.compile(r"\b(Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b(?![.'’]?\w)")
DATE_RE = re.compile(
    rf"^(?:(?:\d{{1,2}}\s+)?(?:{'|'.join(MONTHS)})\s+)?{YEAR}$|^(?:{'|'.join(MONTHS)})\s+\d{{1,2}},\s+{YEAR}$"
)


_MD_CODE_BLOCK = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_MD_NOISE = re.compile(
    r"^(?: {4,}|\t).*$|^\s*\|.*\|\s*$|^\s*(?:[-*_=]\s*){3,}$|^\s*\[[^\]]+\]:\s*\S+.*$|<[^>\n]+>", re.M
)


def clean_markdown(text: str) -> str:
    """Prose only: code blocks, indented code, tables, rules, link definitions and HTML tags are not facts."""
    text = _MD_CODE_BLOCK.sub("", text)
    text = _MD_NOISE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_BULLET.sub("", text)
    return _MD_EMPH.sub("", text)


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", clean_markdown(text)) if p.strip()]


def sentences(paragraph: str) -> list[str]:
    """Split on sentence punctuation, keeping abbreviations ("Dr. X") and decimals ("1.4 metres") intact."""
    out: list[str] = []
    for piece in _SENT_END.split(paragraph):
        if out and (out[-1].endswith(tuple(a + "." for a in _ABBREV)) or re.search(r"\b[A-Z]\.$", out[-1])):
            out[-1] = out[-1] + " " + piece
        else:
            out.append(piece)
    return [s.strip() for s in out if len(s.strip()) > 3]


_TOKEN = re.compile(r"\d[\d,.]*\d|[€$£]|[\w’'\-]+|[^\w\s]")


def tokenize(sentence: str) -> list[str]:
    return _TOKEN.findall(sentence)


def detok(tokens: list[str]) -> str:
    out = ""
    for t in tokens:
        if not out:
            out = t
        elif t in ",.;:?!)%" or t.startswith(("'s", "’s")) or out.endswith(("(", "€", "$", "£")):
            out += t
        else:
            out += " " + t
    return out


def doc_year(date: str | None) -> int | None:
    if date and re.match(r"^\d{4}", date):
        return int(date[:4])
    return None


_REL = [
    (
        re.compile(r"^(This|Last|Next) year,?\s+"),
        lambda m, y: f"In {y + {'This': 0, 'Last': -1, 'Next': 1}[m.group(1)]}, ",
    ),
    (re.compile(r"\b(this|last|next) year\b"), lambda m, y: f"in {y + {'this': 0, 'last': -1, 'next': 1}[m.group(1)]}"),
    (re.compile(r"\bin (\d{4}) in (\d{4})\b"), lambda m, y: f"in {m.group(2)}"),
]
_AS_OF = re.compile(
    r"^(?:Today|Now|Currently|At present|Nowadays),?\s+|\b(?:currently|today|now|at present|nowadays)\s+"
)


def resolve_relative_time(sentence: str, year: int | None) -> tuple[str, int | None]:
    """'This year' -> the document's year, 'last year' -> year - 1; 'currently'/'today' are removed and
    reported as an as-of year, so a question can say "as of 2021" instead of a time that drifts."""
    if year is None:
        return sentence, None
    for pat, fn in _REL:
        sentence = pat.sub(lambda m: fn(m, year), sentence)
    as_of = None
    if _AS_OF.search(sentence):
        as_of = year
        sentence = _AS_OF.sub("", sentence)
        sentence = sentence[:1].upper() + sentence[1:]
    return sentence, as_of


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace (MuSiQue-style; used for de-duplication)."""
    text = text.lower().replace("’", "'")
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def is_date(text: str) -> bool:
    return bool(DATE_RE.match(text.strip()))


def word_count(text: str) -> int:
    return len(text.split())


def as_question(text: str) -> str:
    """Words joined into one question: single spaces, no space before punctuation, capitalized, one "?"."""
    text = " ".join(text.split()).strip(" ,;:")
    if not text:
        return ""
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    return text[:1].upper() + text[1:].rstrip("?.") + "?"


def possessive(name: str) -> str:
    """ "Ann Hui" -> "Ann Hui's", "Savings" -> "Savings'". A masked code token's placeholder ends in "ton"
    (codemask), so it takes "'s" whatever the token is."""
    return name + ("'" if name.endswith("s") else "'s")


def spelled_out(text: str) -> str:
    """Abbreviated months and weekdays written in full, as people ask: "What is the Feb actual of Groceries?" ->
    "What is the February actual of Groceries?", "Sun 18 May" -> "Sunday 18 May"."""
    text = _NEAR_NUMBER.sub(lambda m: _SHORT[m.group(1) or m.group(2)], text)
    return _ALONE.sub(lambda m: _SHORT[m.group(1)], text)
