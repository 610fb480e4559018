"""Statement reflections: every sentence is kept as knowledge, asked by its key terms.

A sentence that no construction can turn into a short-answer question still states something ("The build is
reproducible since 2.1", a long clause the parser misreads, a note in shorthand). It is stored whole, its names
resolved (pronouns and "the tests" already replaced by the writer), under questions made of its key terms:
"What does <document title> say about <term>?" (one answer per document and term: the sentences that mention it,
in order). Every sentence, asked or not, is also gathered under the names and code tokens it holds: "What do you
know about <term>?" (one answer across the corpus: a profile of up to three sentences). The
paper's own reflections are 1-4 full sentences; these give the executive something to find when it grounds a
question ("What do you know about X?"), while typed questions carry recall in the user's own wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .codemask import is_placeholder
from .dataset import Pair
from .lexicon import VAGUE_HEADS
from .text import CALENDAR_WORDS, normalize

MAX_TERMS = 3  # key terms asked per sentence: names and code tokens first, then the longest noun phrases
MAX_SENTENCES = 3  # sentences gathered under one term
MAX_WORDS = 80
_SKIP_LABELS = {"ORDINAL", "CARDINAL", "PERCENT", "QUANTITY", "MONEY", "TIME", "DATE"}
_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")  # reST markup: ".. code-block:: python3"
# terms that are about nothing on their own: "What do you know about MB?" (a hand-read failure: a unit, a lone letter
# or number is in many sentences and the subject of none); a day or month name is asked only in its document
_UNITS = set("b kb mb gb tb kib mib gib tib k m cm mm km g kg mg l ml s ms h min hz khz mhz ghz c f v w kw".split())
_BARE = re.compile(r"^(?:[A-Za-z]|[+-]?\d[\d,]*(?:\.\d+)?%?|\W+)$")  # "C", "d", "2%", "+10", "2015"; not "0.9.3", "S07"


def is_markup(text: str) -> bool:
    """reST the Markdown reader keeps: no sentence of the text (the generator skips it before stating or asking)."""
    return bool(_DIRECTIVE.match(text))


def states_something(sent) -> bool:
    """A sentence that states something: three words or more, not a question ("Should I use h11?")."""
    return len(sent.text.split()) >= 3 and not sent.text.rstrip().endswith("?")


_LEADING = re.compile(r"^(?:the|a|an|this|these|that|those|our|my|your|its|their)\s+", re.I)


@dataclass
class _Said:
    doc_id: str
    chunk_id: str
    text: str


@dataclass
class Statements:
    """Sentences gathered by (document, term) and by named term across the corpus."""

    titles: dict[str, str] = field(default_factory=dict)
    by_doc_term: dict[tuple[str, str], list[_Said]] = field(default_factory=dict)
    by_name: dict[str, list[_Said]] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)  # normalized term -> as written
    sentences: int = 0
    filed: int = 0

    def add(self, sent, text: str, doc_id: str, title: str, chunk_id: str, render, asked: bool = False) -> None:
        """One sentence (spaCy span) and its resolved text; `render(tokens)` writes a term as the writer would.
        `asked`: short-answer questions were made from it, so it is kept only under its names (a profile the
        executive can ground on), not under every term of its document. `filed` counts the sentences kept."""
        text = " ".join(text.split())
        text = text[:1].upper() + text[1:]
        if len(text.split()) < 3:
            return
        self.titles[doc_id] = title
        said = _Said(doc_id, chunk_id, text if text.endswith((".", "!", "?")) else text + ".")
        self.sentences += 1
        kept = False
        for term, named in key_terms(sent, render, title):
            key = normalize(term)
            self.shown.setdefault(key, term)
            if not asked:
                self.by_doc_term.setdefault((doc_id, key), []).append(said)
                kept = True
            if named:
                self.by_name.setdefault(key, []).append(said)
                kept = True
        self.filed += kept

    def pairs(self) -> list[Pair]:
        out = []
        for (doc_id, key), said in self.by_doc_term.items():
            title = self.titles[doc_id]
            if not title or normalize(title) == key:
                continue
            out.append(_pair(f"What does {title} say about {self.shown[key]}?", said, f"statement|{doc_id}|{key}"))
        for key, said in self.by_name.items():
            out.append(_pair(f"What do you know about {self.shown[key]}?", said, f"know|{key}"))
        return out


def _pair(question: str, said: list[_Said], slot: str) -> Pair:
    texts: list[str] = []
    for s in said:
        if s.text not in texts and len(" ".join(texts + [s.text]).split()) <= MAX_WORDS:
            texts.append(s.text)
        if len(texts) == MAX_SENTENCES:
            break
    texts = texts or [" ".join(said[0].text.split()[:MAX_WORDS])]
    keep = [s for s in said if s.text in texts]
    return Pair(
        question,
        " ".join(texts),
        "statement",
        sorted({s.doc_id for s in keep}),
        sorted({s.chunk_id for s in keep}),
        step="statements",
        slot=slot,
    )


def key_terms(sent, render, title: str) -> list[tuple[str, bool]]:
    """(term, is a name or code token) of a sentence: entities, code tokens and content noun phrases."""
    found: dict[str, tuple[str, bool, int]] = {}

    def keep(toks, named: bool, code: bool = False) -> None:
        text = _LEADING.sub("", render(toks)).strip(" ,;:.")
        key = normalize(text)
        words = text.split()
        if not key or len(words) > 8 or text.lower() in VAGUE_HEADS or normalize(title) == key:
            return
        if not named and len(words) == 1 and words[0].islower() and len(words[0]) < 4:
            return
        if len(words) == 1 and not code and (key in _UNITS or _BARE.match(text)):
            return
        if len(words) == 1 and key in CALENDAR_WORDS:
            named = False  # "Mon" anchors a log's entry in its document; across the corpus it is about nothing
        if key not in found:
            found[key] = (text, named, len(words))

    for t in sent:
        if is_placeholder(t.text):
            keep([t], True, code=True)
    for e in sent.ents:
        if e.label_ not in _SKIP_LABELS:
            keep(list(e), True)
    for nc in sent.noun_chunks:
        toks = [t for t in nc if t.tag_ not in ("PRP", "PRP$", "WP", "WDT", "DT")]
        if toks and not all(t.is_stop for t in toks) and nc.root.lower_ not in VAGUE_HEADS:
            keep(toks, any(t.pos_ == "PROPN" for t in toks))
    ranked = sorted(found.values(), key=lambda x: (not x[1], -x[2]))
    return [(text, named) for text, named, _ in ranked[:MAX_TERMS]]
