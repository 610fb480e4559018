"""What the question writer knows about names across the corpus, and which name a pronoun stands for.

`EntityIndex` reads every parsed document once: the NER labels each name gets (majority vote, since the small
model labels the same name differently in different sentences), the categories the text gives it ("Free Guy is a
... film" -> film; "the cartographer Ilse Varga" -> cartographer) and whether it names a person.
`DocContext` walks one document in order and resolves subject pronouns ("He directed 20 films") and definite
descriptions of the document's topic ("The film was released in 1968") to a name, so every question stands alone.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .lexicon import CATEGORY_NOUNS, PERSON_NOUNS

_FIRST_PERSON = re.compile(r"\b(?:my|our|me|we|us|I)\b", re.I)
_LEADING_THE = re.compile(r"^(?:the|The)\s+")
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")


def name_key(text: str) -> str:
    return _LEADING_THE.sub("", " ".join(text.split())).lower()


# a title's second part after ": ", " - ", " — " or " -> ": "Lab notebook: soil sensor trials", "a -> b"
_SUBTITLE = re.compile(r"(?::|\s[-–—>]+)\s+(?P<rest>\S.*)$")
_ABBREVIATED = re.compile(r"^(?P<long>.+)\s\((?P<short>[A-Z][A-Z0-9]+)\)$")  # "... in Applications (IDNA)"
_ONE_WORD = re.compile(r"^[^\s:]+$")


def _title_case(text: str) -> bool:
    """ "Infinity War", "A Town, a Team, and a Dream": every word of four letters or more capitalized, as in a
    work's name; "week of 7 April", "powerful extensions to datetime" describe a page instead."""
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    return bool(words) and all(w[:1].isupper() for w in words if len(w) >= 4 or w is words[0])


def subtitle(title: str) -> tuple[str, str] | None:
    """ "To-do — week of 7 April" -> ("To-do", "week of 7 April"): a title that is a page's name and what the
    page holds. A subtitle in title case is part of a work's name ("Avengers: Infinity War"): None."""
    m = _SUBTITLE.search(title)
    if not m or _title_case(m.group("rest")):
        return None
    return title[: m.start()].strip(), m.group("rest")


def _initials(words: str) -> str:
    return "".join(w[0] for w in words.split() if w[:1].isupper())


def topic_of(title: str, text: str = "") -> str:
    """ "Forbidden Ground (2013 film)" -> "Forbidden Ground": the name as the text itself writes it. A title that
    is one word and a tagline ("dateutil - powerful extensions to datetime", "httpx: a next-generation HTTP client")
    is named by the word, when the document's text uses it outside the title (a "To-do — week of 7 April" does not
    call itself "To-do"); a title with its initials ("Internationalized Domain Names in Applications (IDNA)") by
    them, when the text uses them more than the long name ("Labour Party (UK)" keeps its name)."""
    body = text.replace(title, "")
    split = subtitle(title)
    if split and _ONE_WORD.match(split[0]) and re.search(rf"(?<![\w-]){re.escape(split[0])}(?![\w-])", body):
        return split[0]
    long = _DISAMBIGUATION.sub("", title).strip()
    a = _ABBREVIATED.match(title)
    if a and _initials(a.group("long")).upper() == a.group("short").upper():
        used = Counter(re.findall(rf"(?<![\w-])({re.escape(a.group('short'))})(?![\w-])", body, re.I))
        if used and sum(used.values()) > body.count(long):
            return used.most_common(1)[0][0]  # the short name, as the text writes it most
    return long


_MAKE_IT_VERBS = ("make", "find", "consider", "keep")


def _dummy_it(tok) -> bool:
    """ "It's possible to pass X", "it is recommended that ...", "it rains": an "it" that stands for nothing (an
    expletive); naming it by the document's subject makes a false sentence."""
    if tok.dep_ == "expl":
        return True
    head = tok.head
    if head.pos_ == "ADJ" and head.dep_ in ("ccomp", "oprd", "xcomp") and head.head.lemma_ in _MAKE_IT_VERBS:
        return True  # "These two make it possible to view the heap as a list": "it" is the viewing
    if tok.dep_ != "nsubj" or head.lemma_ != "be":
        return False
    return any(c.dep_ in ("acomp", "attr") for c in head.children) and any(
        c.dep_ in ("xcomp", "ccomp") or any(g.dep_ in ("xcomp", "ccomp") for g in c.children)
        for c in head.children
        if c.dep_ in ("xcomp", "ccomp", "acomp", "attr")
    )


def ent_at(doc) -> dict[int, object]:
    """token index -> the entity span that contains it."""
    out = {}
    for e in doc.ents:
        for i in range(e.start, e.end):
            out[i] = e
    return out


def full_names(parsed, topic: str, index: EntityIndex) -> dict[str, str]:
    """Surname -> the full name it stands for in one document ("Peel" -> "Robert Peel"), so an answer read off a
    later sentence names the person as a reader outside the document would. The document's own subject wins (like
    its pronouns); otherwise a surname shared by two full names ("Robert Peel", "Arthur Peel") is left alone."""
    found: dict[str, set[str]] = defaultdict(set)
    for doc in parsed:
        for e in doc.ents:
            if e.label_ != "PERSON":
                continue
            start = e.start  # the small model often leaves a first name outside: "Aldous [Fenwick]"
            while start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].is_title:
                start -= 1
            words = doc[start : e.end].text.split()
            if words and words[-1][:1].isupper() and len(words) <= 4:
                found[words[-1].lower()].add(" ".join(words))
    out = {key: max(names, key=len) for key, names in found.items() if len(_longest(names)) == 1}
    words = topic.split()
    if 1 < len(words) <= 4 and words[-1].lower() in found and (index.is_person(topic) or index.is_person(words[-1])):
        out[words[-1].lower()] = topic
    return {key: full for key, full in out.items() if " " in full}


def _longest(names: set[str]) -> set[str]:
    """The distinct full names among the forms seen: "Fenwick" is a form of "Aldous Fenwick", not another name."""
    return {n for n in names if not any(o != n and o.endswith(" " + n) for o in names)}


class EntityIndex:
    def __init__(self):
        self.labels: dict[str, Counter] = defaultdict(Counter)
        self.categories: dict[str, Counter] = defaultdict(Counter)
        self.person_votes: Counter = Counter()
        self.titles: set[str] = set()  # document titles are names even when NER misses them

    def add_title(self, title: str) -> None:
        self.titles.add(name_key(topic_of(title)))

    def observe(self, doc) -> None:
        ents = ent_at(doc)
        for e in doc.ents:
            self.labels[name_key(e.text)][e.label_] += 1
        for tok in doc:
            if tok.dep_ == "attr" and tok.head.lemma_ == "be" and tok.pos_ == "NOUN":
                for subj in (c for c in tok.head.children if c.dep_ == "nsubj" and c.i in ents):
                    self._category(ents[subj.i].text, tok)
            elif tok.dep_ == "appos" and tok.pos_ == "NOUN" and tok.head.i in ents:
                self._category(ents[tok.head.i].text, tok)
            elif (
                tok.dep_ == "compound"
                and tok.pos_ == "NOUN"
                and tok.head.pos_ == "PROPN"
                and tok.head.i in ents
                and tok.i < ents[tok.head.i].start
            ):
                self._category(ents[tok.head.i].text, tok)

    def _category(self, name: str, noun) -> None:
        lemma = noun.lemma_.lower()
        self.categories[name_key(name)][lemma] += 1
        if lemma in PERSON_NOUNS:
            self.vote_person(name)

    def vote_person(self, name: str) -> None:
        """A name known to be a person; its last word too ("Ann Hui" -> "Hui"), which the text uses alone."""
        self.person_votes[name_key(name)] += 1
        if len(name.split()) > 1:
            self.person_votes[name_key(name.split()[-1])] += 1

    def label(self, name: str) -> str | None:
        votes = self.labels.get(name_key(name))
        return votes.most_common(1)[0][0] if votes else None

    def is_person(self, name: str) -> bool:
        key = name_key(name)
        cats = self.categories.get(key)
        if cats:  # what the text calls it beats the NER label: "The Gullwind is the first ... ferry"
            people = sum(n for c, n in cats.items() if c in PERSON_NOUNS)
            if people * 2 < sum(cats.values()):
                return False
        if self.person_votes[key]:
            return True
        votes = self.labels.get(key)
        return bool(votes) and votes["PERSON"] * 2 > sum(votes.values())

    def category(self, name: str) -> str | None:
        """The most frequent category noun the corpus gives this name, if it is a usable "which ..." word."""
        cats = self.categories.get(name_key(name))
        if cats:
            noun = cats.most_common(1)[0][0]
            if noun in CATEGORY_NOUNS:
                return noun
        last = name.split()[-1].lower() if name.split() else ""
        if self.label(name) in ("WORK_OF_ART", "PERSON", "PRODUCT", "EVENT", "LAW"):
            return None  # "The Deep Blue Sea" is a film, not a sea
        return last if last in CATEGORY_NOUNS and len(name.split()) > 1 else None


def _noun_argument_before(tok):
    """A common-noun subject or object earlier in the sentence ("a file", "the server", "read data off the
    network"): what a following "it"/"its" refers to, rather than the document ("the server would send back ... its
    own EndOfMessage", "When you read data off the network, pass it to receive_data()")."""
    return next(
        (t for t in tok.sent if t.i < tok.i and t.dep_ in ("nsubj", "nsubjpass", "dobj") and t.pos_ == "NOUN"),
        None,
    )


def _bound_name(tok) -> str | None:
    """ "the River Oddle burst its banks", "Drossel Dynamics launched its first harbour robot": an "its" after its
    own clause's subject, when that subject is a name, is the name (not the document's subject, which the sentence
    may not be about)."""
    verb = tok.head
    while verb.pos_ not in ("VERB", "AUX") and verb.head.i != verb.i:
        verb = verb.head
    subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and c.i < tok.i), None)
    if subj is None or subj.pos_ != "PROPN":
        return None
    ent = next((e for e in tok.sent.ents if e.start <= subj.i < e.end), None)
    if ent is not None:
        if ent.label_ == "PERSON":
            return None
        return "the " + ent.text[4:] if ent.text.startswith("The ") else ent.text
    names = [t for t in subj.subtree if t.i <= subj.i and (t.pos_ == "PROPN" or t.dep_ == "compound")]
    return " ".join(t.text for t in names) or None


def _object_of_a_logged_act(tok) -> bool:
    """ "Sealed it with conformal coating": a note's subjectless past-tense line; its "it" is the thing the notes
    were just about, not the document (an imperative, "Install it with pip", is about the document)."""
    head = tok.head
    return (
        tok.dep_ == "dobj"
        and head.dep_ == "ROOT"
        and head.tag_ in ("VBD", "VBN")
        and not any(c.dep_ in ("nsubj", "nsubjpass") for c in head.children)
    )


def _earlier_subject_person(tok) -> str | None:
    """ "Jonas pointed out ...; he suggested X": the person who is the subject earlier in the same sentence (the
    clauses are read root first, so the document-wide last person is not Jonas yet)."""
    for ent in reversed(tok.sent.ents):
        if ent.end <= tok.i and ent.label_ == "PERSON" and ent.root.dep_ in ("nsubj", "nsubjpass"):
            return ent.text
    return None


# words a text uses in turn for one kind of thing: "an engineering company ... The firm hired ..."
_KINDS = (
    frozenset({"company", "firm", "business", "corporation", "manufacturer", "maker", "startup"}),
    frozenset({"town", "city", "village", "municipality"}),
    frozenset({"band", "group"}),
    frozenset({"film", "movie"}),
    frozenset({"university", "institute", "college", "school"}),
    frozenset({"library", "package", "module", "project", "tool"}),
)


def same_kind(noun: str, category: str | None) -> bool:
    """Does "the <noun>" name a thing of the document's category ("the firm" in a company's document)?"""
    return category is not None and (noun == category or any(noun in k and category in k for k in _KINDS))


@dataclass
class DocContext:
    """Reference state while one document is read sentence by sentence."""

    topic: str
    index: EntityIndex
    last_person: str | None = None
    last_thing: str | None = None
    topic_is_person: bool = False
    topic_category: str | None = None
    seen: set[str] = field(default_factory=set)

    def __post_init__(self):
        # a title like "Handover notes for my leave" names no thing "it" or "the laptop" could belong to; nor does a
        # title with a subtitle ("Lab notebook: soil sensor trials", "To-do — week of 7 April"): it says what the
        # page is, and "To-do — week of 7 April's cutover freeze" is no name a reader would use
        self.topic_nameable = (
            bool(self.topic)
            and len(self.topic.split()) <= 6
            and not _FIRST_PERSON.search(self.topic)
            and subtitle(self.topic) is None
        )
        self.topic_is_person = self.index.is_person(self.topic) and not self.index.category(self.topic)
        cats = self.index.categories.get(name_key(self.topic))
        self.topic_category = cats.most_common(1)[0][0] if cats else None

    def stand_in(self, tok) -> str | None:
        """The name a subject pronoun or a "the <category>" description refers to, or None."""
        low = tok.lower_
        # the document's own subject first: encyclopedic and note-like text keeps returning to it
        if low in ("he", "she", "him", "her", "his", "hers"):
            if self.topic_is_person:
                return self.topic
            return _earlier_subject_person(tok) or self.last_person
        if low == "it" and _dummy_it(tok):
            return None
        if low in ("it", "its") and (before := _noun_argument_before(tok)) is not None:
            # "Once a file grows past 1 MiB, it is moved ...": the file, which has no name; "The band released its
            # first album": the band, named where "the band" names the document's subject
            return self.stand_in(before)
        if low == "it" and _object_of_a_logged_act(tok):
            return None
        if low == "its" and tok.head.lower_ == "own" and tok.head.head.lower_ in ("on", "of"):
            return None  # "WireGuard came up on its own": an idiom, not "on WireGuard's own"
        if low == "its" and (bound := _bound_name(tok)):
            return bound
        if low in ("it", "its"):
            return self.last_thing if self.topic_is_person or not self.topic_nameable else self.topic
        if (
            tok.pos_ == "NOUN"
            and same_kind(tok.lemma_.lower(), self.topic_category)
            and [c.lower_ for c in tok.children] == ["the"]
        ):
            return self.topic
        return None

    def saw_subject(self, name: str, is_person: bool) -> None:
        if is_person:
            self.last_person = name
        else:
            self.last_thing = name
