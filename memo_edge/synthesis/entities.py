"""Named entities by capitalisation, and document-level reference resolution for the extractive generator.

Heuristics, not NLP: a capitalised span is an entity; a two- or three-word span without organisation or place words
is a person; "She"/"Its"/"the company"/"this chemistry" are resolved against the document's title entity and the
previous sentence. Wrong guesses cost a few odd questions, never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .text import tokenize

ORG_PLACE_WORDS = set(
    """
Robotics Dynamics Lab Laboratory Institute University College School Ferries Ferry Council Coast Festival Prize
Court Island Cove Strait Hall Meadow Sea River Fund Orchestra Star Company Corporation Corp Inc Ltd Group Bank
Agency Association Society Museum Library Hospital Street Road Avenue Square Park Bridge Harbour Harbor Port Bay
Lake Mount Mountain Valley Forest Fort Cape Town City Village County Region State Republic Kingdom Empire Ministry
Department Office Centre Center Foundation Trust Club League Team Band Lanterns Batteries Battery Systems Labs
Industries Works Airlines Motors Energy Technologies Technology Studio Studios Records Press Times News Church
Cathedral Castle Palace Tower Station Airport Market Mall Flood Storm War Treaty Act Award Cup Games Year Day
Citizen Engine Chemistry
""".split()
)
PLACE_PREFIX = {
    "Port",
    "Mount",
    "Lake",
    "Saint",
    "St",
    "Fort",
    "Cape",
    "New",
    "North",
    "South",
    "East",
    "West",
    "River",
    "Gannet",
    "Upper",
    "Lower",
}
FUNCTION_CAPS = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "After",
    "Before",
    "During",
    "Since",
    "From",
    "For",
    "By",
    "This",
    "That",
    "These",
    "Those",
    "It",
    "Its",
    "He",
    "She",
    "His",
    "Her",
    "They",
    "Their",
    "We",
    "Our",
    "I",
    "Today",
    "Now",
    "Currently",
    "Last",
    "Next",
    "Each",
    "Every",
    "All",
    "Most",
    "Some",
    "Many",
    "Other",
    "Both",
    "Nobody",
    "However",
    "When",
    "While",
    "Although",
    "Because",
    "As",
    "Until",
    "Over",
    "Under",
    "With",
    "Without",
    "Also",
    "Then",
    "There",
    "Here",
    "About",
}
MONTH_WORDS = set("January February March April May June July August September October November December".split())
_CAP_TOKEN = re.compile(r"^[A-Z][\w’'\-]*$")
_CODE_TOKEN = re.compile(r"^(?:[A-Z]{1,4}-?\d[\w\-]*|\d{1,3}[A-Z]?)$")
_CONNECT = {"of", "de", "van", "von", "der", "la", "du"}


def cap_spans(tokens: list[str]) -> list[tuple[int, int]]:
    """[start, end) index ranges of capitalised spans ("Tamsick Institute of Technology", "Saltcell SC-90")."""
    spans, i, n = [], 0, len(tokens)
    while i < n:
        if _CAP_TOKEN.match(tokens[i]) and tokens[i] not in MONTH_WORDS and not (i == 0 and tokens[i] in FUNCTION_CAPS):
            j = i + 1
            while j < n:
                if _CAP_TOKEN.match(tokens[j]) or (_CODE_TOKEN.match(tokens[j]) and j > i):
                    j += 1
                elif (
                    tokens[j] in _CONNECT
                    and j + 1 < n
                    and _CAP_TOKEN.match(tokens[j + 1])
                    and tokens[j + 1] not in FUNCTION_CAPS
                ):
                    j += 2
                elif tokens[j] in _CONNECT and j + 2 < n and tokens[j + 1] == "the" and _CAP_TOKEN.match(tokens[j + 2]):
                    j += 3
                else:
                    break
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def entity_names(sentence: str) -> list[str]:
    toks = tokenize(sentence)
    return [" ".join(toks[a:b]) for a, b in cap_spans(toks)]


def looks_like_person(name: str, not_people: set[str] = frozenset()) -> bool:
    parts = name.split()
    if not 2 <= len(parts) <= 3 or name in not_people:
        return False
    if any(p in ORG_PLACE_WORDS or any(c.isdigit() for c in p) or p in _CONNECT for p in parts):
        return False
    return parts[0] not in PLACE_PREFIX and parts[0] not in FUNCTION_CAPS


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def strip_article(text: str) -> str:
    return re.sub(r"^(?:the|The|a|A|an|An)\s+", "", text.strip())


@dataclass
class DocContext:
    """What the reference resolver remembers while walking one document."""

    title: str
    year: int | None
    not_people: set[str]
    title_is_person: bool = False
    categories: set[str] = field(default_factory=set)
    last_person: str | None = None
    last_thing: str | None = None
    last_place: str | None = None
    prev_sentence: str = ""

    @property
    def topic(self) -> str:
        """The title as it reads mid-sentence ("the Corvane Lab", "Varrowick")."""
        return self.title

    def topic_name(self) -> str:
        return strip_article(self.title)
