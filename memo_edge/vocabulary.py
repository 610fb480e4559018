"""What a memory has heard of: the content words of its training reflections, and how much of a question they cover.

A 135M memory answers every question with something from its weights: "What is the capital of France?" gets "Paris"
from the base model, a question about a company the corpus never names gets a company it does name. Training on
"I don't know." examples teaches abstention only for questions shaped like the corpus's. This is the second
opinion, and it needs no model: a question whose content words are mostly unknown to the memory (none of its
reflections uses them), or that names something no reflection names (a capitalized word after the first: "Who
chairs the Falcon migration sync?" when the corpus knows a Ledger migration), is about something the corpus does not
hold, and is answered "I don't know." without running the model. Words are folded (lower case, a plural's "s"
dropped, code tokens also split at . / _ -) so that "backups" meets "backup" and "textwrap.indent" meets "indent".

The export writes the terms into the pack (`known_terms.txt`, one per line) and the share below which a question is
refused into its manifest (`abstain.min_known_share`); the runtime applies it in `Memory.complete`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# English function words, question words, auxiliaries and pronouns: they say nothing about what a question is about.
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those there here some any no not none all both each every either neither other another
    such own same so than too very just only also even ever still yet already again once more most much many few
    less least several enough
    i me my mine we us our ours you your yours he him his she her hers it its they them their theirs one ones
    myself yourself himself herself itself ourselves themselves
    who whom whose what which when where why how whatever whichever whoever
    is am are was were be been being do does did done doing have has had having get gets got
    can could shall should will would may might must ought need
    and or but nor if then else because as while until unless although though whether since
    of in on at by for from with without within into onto upon about above below over under between among through
    during before after against across along around behind beyond near off out up down toward towards via per
    to like
    name named called kind sort type thing things way ways something anything everything nothing
    yes please tell say said give given know known
    """.split()
)
_WORD = re.compile(r"[A-Za-z0-9][\w./+-]*")
_PARTS = re.compile(r"[./_+-]+")


def fold(word: str) -> str:
    """One spelling per word: lower case, no possessive, a plural's "s" dropped ("backups" -> "backup")."""
    w = word.lower().strip("./-+_")
    w = re.sub(r"['’]s$", "", w)
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def terms(text: str) -> set[str]:
    """The content words of a text, folded; a code token also gives its parts ("textwrap.indent": textwrap,
    indent)."""
    out: set[str] = set()
    for m in _WORD.finditer(text):
        word = m.group(0)
        for w in (word, *(_PARTS.split(word) if _PARTS.search(word.strip("./-+_")) else ())):
            f = fold(w)  # "does" folds to "doe": a function word is known by its own spelling too
            if f and f not in FUNCTION_WORDS and w.lower() not in FUNCTION_WORDS and (len(f) > 1 or f.isdigit()):
                out.add(f)
    return out


class KnownTerms:
    """The folded content words a memory was trained on."""

    def __init__(self, known: Iterable[str]):
        self.known = frozenset(known)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> KnownTerms:
        known: set[str] = set()
        for t in texts:
            known |= terms(t)
        return cls(known)

    @classmethod
    def load(cls, path: Path) -> KnownTerms:
        return cls(line for line in path.read_text(encoding="utf-8").splitlines() if line)

    def dump(self) -> str:
        return "".join(t + "\n" for t in sorted(self.known))

    def share(self, question: str) -> float | None:
        """Share of the question's content words the memory knows; None when the question has none."""
        words = terms(question)
        return len(words & self.known) / len(words) if words else None

    def unknown_names(self, question: str, words: set[str] | None = None) -> set[str]:
        """The capitalized content words after the first word that the memory never saw ("Falcon"); `words`: the
        question's terms() when the caller has them."""
        capitalized = {fold(w) for w in _WORD.findall(question)[1:] if w[:1].isupper()}
        return capitalized & (terms(question) if words is None else words) - self.known

    def unknown_to(self, question: str, min_share: float) -> bool:
        """True when the question is about something the memory never saw: share below min_share, or a name it
        never saw. A question with no content word is never refused."""
        words = terms(question)
        if not words:
            return False
        return len(words & self.known) / len(words) < min_share or bool(self.unknown_names(question, words))
