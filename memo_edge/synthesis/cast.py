"""Cast facts: who plays whom, read from the two ways plot summaries and cast lists write it.

"Doris's daughter Susan (Natalie Wood) ..." puts the performer in a parenthesis after the role, which prose.clean
drops before parsing; a cast list runs "Maureen O'Hara as Doris Walker John Payne as Fred Gailey ..." with no
punctuation a parser can use. Both are read here from the raw text, only in documents about a performed work (a
film, series, play...): elsewhere "Springfield (Illinois)" is no cast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = r"[A-Z][\w'’.-]*"
_NAME = rf"{_WORD}(?:\s{_WORD}){{1,3}}"  # two to four capitalized words: a performer
_ROLE = rf"{_WORD}(?:\s(?:(?:in|of|the)\s)?{_WORD}){{0,2}}"  # "Puss in Boots", "Keeper of the Keys"
_PAREN_CAST = re.compile(
    # "Susan (Natalie Wood)", "Ted Mosby (played by Josh Radnor)", "Fairy God Mother (voiced by Saunders)"
    rf"\b(?P<role>{_ROLE})\s*\(\s*(?:(?P<by>(?:played|voiced|portrayed)\s+by)\s+)?(?P<actor>{_NAME}|{_WORD})\s*\)"
)
_PERFORMED = re.compile(r"\b(?:film|movie|series|sitcom|show|play|musical|opera|cast|starring|episode|voiced)\b", re.I)
_INITIAL = re.compile(r"^[A-Z]\.$")
_NOT_ROLE = {"The", "A", "An", "In", "On", "At", "By", "Of", "And", "But", "He", "She", "It", "They"}


@dataclass(frozen=True)
class CastFact:
    actor: str
    role: str


def performed(text: str, title: str) -> bool:
    """A performed work: named so ("(film)", "the series"), or a plot whose roles carry performers in
    parentheses at least twice ("Walter Harvey (Garry Marshall) ... Ira Lowenstein (David Strathairn)")."""
    if _PERFORMED.search(title) or _PERFORMED.search(text[:2000]) or len(_paren_casts(text)) >= 2:
        return True
    return any(len(_as_list(line)) >= 3 for line in text.split("\n"))  # a bare cast list: "A as X B as Y C as Z"


def cast_facts(text: str) -> list[CastFact]:
    """Every role/performer pair of a passage (the caller checks that the document is about a performed work)."""
    out = [CastFact(m.group("actor"), _trim_role(m.group("role"))) for m in _paren_casts(text)]
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        out += _as_list(sentence)
    seen, unique = set(), []
    for f in out:
        if (f.actor, f.role) not in seen and f.actor != f.role:
            seen.add((f.actor, f.role))
            unique.append(f)
    return unique


def _paren_casts(text: str) -> list:
    """A role and its performer in parentheses; a one-word performer only after "played by" / "voiced by"
    ("Springfield (Illinois)" is no cast)."""
    return [
        m
        for m in _PAREN_CAST.finditer(text)
        if _trim_role(m.group("role")) and (m.group("by") or " " in m.group("actor"))
    ]


def _trim_role(role: str) -> str:
    words = role.split()
    while words and words[0] in _NOT_ROLE:
        words = words[1:]
    return " ".join(words)


def _name_tail(words: list[str]) -> tuple[list[str], list[str]]:
    """Split capitalized words into (what comes before, the performer's name at the end): the last two words, or
    three with a middle initial ("Henry X. Harper")."""
    n = 3 if len(words) >= 3 and _INITIAL.match(words[-2]) else 2
    return words[:-n], words[-n:]


def _as_list(sentence: str) -> list[CastFact]:
    """ "A as X B C as Y ...": performers and roles between the "as" of a run of at least two."""
    parts = re.split(r"\s+as\s+", sentence)
    if len(parts) < 3:
        return []
    segments = [p.split() for p in parts]
    if not all(seg and all(w[:1].isupper() or _INITIAL.match(w) for w in seg[-3:]) for seg in segments[:-1]):
        return []
    out = []
    _, actor = _name_tail([w for w in segments[0] if w[:1].isupper()])
    for k, seg in enumerate(segments[1:], 1):
        caps = []
        for w in seg:  # the role and the next performer: capitalized words up to the first lower-case one
            if not (w[:1].isupper() or _INITIAL.match(w)):
                break
            caps.append(w.rstrip(",;"))
        last = k == len(segments) - 1
        role, nxt = (caps, []) if last else _name_tail(caps)
        if len(actor) >= 2 and role:
            out.append(CastFact(" ".join(actor), " ".join(role)))
        actor = nxt
    return out


def cast_questions(f: CastFact, work: str) -> list[tuple[str, str, str]]:
    """(question, answer, slot) for one fact, asked both ways."""
    into = f" in {work}" if work else ""
    return [
        (f"Who played {f.role}{into}?", f.actor, f"cast|{f.role}|{work}"),
        (f"Who plays {f.role}{into}?", f.actor, f"cast|{f.role}|{work}"),
        (f"Which actor played {f.role}{into}?", f.actor, f"cast|{f.role}|{work}"),
        (f"Which character did {f.actor} play{into}?", f.role, f"cast-role|{f.actor}|{work}"),
        (f"Whom did {f.actor} play{into}?", f.role, f"cast-role|{f.actor}|{work}"),
    ]
