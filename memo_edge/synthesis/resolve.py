"""Resolve what a sentence leaves to its context, so every question stands alone.

Per document: "She"/"Her"/"It"/"Its" -> the last person/thing named, "the company"/"the lab" -> the title entity,
"this chemistry"/"The batteries" -> the fuller noun phrase of the previous sentence, "there" -> the last place,
relative time -> years. Per corpus: which capitalised spans are people, and a category noun for each entity
("river", "company", "harbour robot") so a question can say "Which river ..." instead of "What ...".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..records import Document
from . import verbs
from .clauses import ADVERBS, PREPS
from .entities import ORG_PLACE_WORDS, cap_spans, looks_like_person, possessive, strip_article
from .text import detok, doc_year, paragraphs, resolve_relative_time, sentences, tokenize

_HEAD_STOP = {"of", "in", "on", "at", "for", "based", "held", "made", "built", "with", "from", "that", "which", "who",
              "where", "developed", "located", "founded", "by", "to", "near", "above", "inside", "employed"}
_COPULA_DEF = re.compile(r"^(?:The\s+)?(?P<name>[A-Z][\w\-]*(?: [A-Z0-9][\w\-]*| of| of the){0,5})\s+(?:is|was|are|were)\s+"
                         r"(?P<art>a|an|the)\s+(?P<desc>[^,.;:]+)")
PERSON_NOUNS = set("""
engineer entrepreneur chemist professor composer painter schoolteacher teacher writer author poet singer musician
artist scientist physicist doctor lawyer politician mayor farmer fisherman captain pilot founder director student
actor actress architect designer journalist inventor businessman businesswoman banker economist historian
philosopher mathematician biologist nurse officer soldier sailor priest bishop king queen prince princess
""".split())
CATEGORY_WORDS = set("""River Lake Sea Island Cove Strait Meadow Hall Street Court Council Orchestra Festival Prize Fund
Lab Laboratory Institute University College School Museum Hospital Bridge Park Square Mountain Valley Forest Castle
Tower Station Airport Market Church Cathedral Company Bank Foundation Band Flood Storm Award Harbour Bay""".split())
_TITLE_NOUN = {w.lower() for w in ORG_PLACE_WORDS} | {"lab", "company", "town", "festival", "prize", "ferry"}


@dataclass
class Sentence:
    doc_id: str
    chunk_id: str
    text: str             # as written
    resolved: str         # references and relative time resolved
    as_of: int | None     # "currently" -> the document's year
    changed: bool         # resolution changed the text (the pair is "indirect")


@dataclass
class CorpusInfo:
    not_people: set[str] = field(default_factory=set)
    categories: dict[str, str] = field(default_factory=dict)   # entity name -> category noun phrase
    docs_of: dict[str, set[str]] = field(default_factory=dict)  # entity name -> doc ids that name it

    def is_person(self, name: str) -> bool:
        name = strip_article(name)
        cat = self.categories.get(name)
        if cat and cat.split()[-1] not in PERSON_NOUNS:
            return False  # "Blorvex Mills is a paper company": named like a person, but a company
        return looks_like_person(name, self.not_people)

    def category(self, name: str) -> str | None:
        return self.categories.get(strip_article(name))


def head_noun(desc: str) -> str:
    """'battery and robotics company based in Varrowick' -> 'company'; 'coastal region on the ...' -> 'region'."""
    words = []
    for w in desc.split():
        if w in _HEAD_STOP:
            break
        words.append(w)
    return words[-1].lower() if words else ""


def corpus_info(docs: list[Document]) -> CorpusInfo:
    info = CorpusInfo()
    trailing: Counter = Counter()
    for d in docs:
        for p in paragraphs(d.text):
            for s in sentences(p):
                toks = tokenize(s)
                for a, b in cap_spans(toks):
                    name = " ".join(toks[a:b])
                    info.docs_of.setdefault(name, set()).add(d.doc_id)
                    if a > 0 and toks[a - 1].lower() == "the":
                        info.not_people.add(name)
                    # "the Wrenlet R2 harbour robot", "the Fulmar 6 marine engine": a category after the name
                    if a > 0 and toks[a - 1].lower() == "the" and b < len(toks) and toks[b][:1].islower():
                        k = b
                        while (k < len(toks) and toks[k][:1].islower() and toks[k] not in _HEAD_STOP
                               and toks[k] not in PREPS and toks[k] not in ADVERBS and verbs.lookup(toks[k]) is None
                               and toks[k] not in ("and", "or", "the", "a", "an")
                               and (toks[k].isalpha() or "-" in toks[k])):
                            k += 1
                        after = toks[k] if k < len(toks) else "."
                        if 0 < k - b <= 2 and (after in PREPS or after in (".", ",", ";", "and", "or")):
                            trailing[(name, " ".join(toks[b:k]))] += 1
                    # "the ferry Gullwind", "the composer Emrys Vantongeren"
                    if a >= 2 and toks[a - 2].lower() == "the" and toks[a - 1][:1].islower() and toks[a - 1].isalpha():
                        info.categories.setdefault(name, toks[a - 1])
                m = _COPULA_DEF.match(s)
                if m and m.group("art") != "the" and not looks_like_person(m.group("name")):
                    head = head_noun(m.group("desc"))
                    if head and m.group("name")[:1].isupper():
                        info.categories[m.group("name")] = head
    for (name, noun), n in trailing.most_common():
        if n >= 2:  # once may be a compound ("the Ilsen Strait waterfront"); twice is a naming habit
            info.categories.setdefault(name, noun)
    for name in list(info.docs_of):
        last = name.split()[-1]
        if name not in info.categories and last in CATEGORY_WORDS and 1 < len(name.split()) <= 4:
            info.categories[name] = last.lower()
    return info


@dataclass
class _State:
    title: str
    title_has_article: bool
    title_is_person: bool
    categories: set[str]
    year: int | None
    last_person: str | None = None
    last_thing: str | None = None
    last_place: str | None = None
    prev: str = ""

    def mention(self, capital: bool, year: str = "") -> str:
        if self.title_has_article:
            return f"{'The' if capital else 'the'} {year}{self.title}"
        return self.title


def _title_state(doc: Document, info: CorpusInfo) -> _State:
    title = doc.title.strip()
    has_article = title.startswith("The ")
    name = strip_article(title)
    cats = set()
    last = name.split()[-1].lower()
    if last in _TITLE_NOUN or last.rstrip("s") in _TITLE_NOUN:
        cats.add(last)
    if name in info.categories:
        cats.add(info.categories[name].split()[-1])
    paras = paragraphs(doc.text)
    first_sents = sentences(paras[0]) if paras else []
    first = first_sents[0] if first_sents else ""
    m = _COPULA_DEF.match(first)
    if m and strip_article(m.group("name")) == name:
        cats.add(head_noun(m.group("desc")))
    is_person = info.is_person(name)
    return _State(name, has_article, is_person, {c for c in cats if c and c.isalpha()} if not is_person else set(),
                  doc_year(doc.date), last_person=name if is_person else None, last_thing=None if is_person else
                  (f"the {name}" if has_article else name))


def _np_ending_with(noun: str, sentence: str) -> str | None:
    """The fullest noun phrase of `sentence` that ends with `noun` ("Saltcell SC-120 batteries")."""
    toks = tokenize(sentence)
    for i, t in enumerate(toks):
        if t == noun and i > 0:
            k = i
            while k > 0 and (toks[k - 1][:1].isupper() or toks[k - 1].endswith(("'", "'s", "’s")) or
                             re.match(r"^[A-Z0-9\-]+$", toks[k - 1]) or (toks[k - 1][:1].islower() and
                                                                         toks[k - 1] not in ("a", "an", "the", "its",
                                                                                             "his", "her", "their")
                                                                         and "-" in toks[k - 1])):
                k -= 1
            return detok(toks[k: i + 1]) if k < i else ""
    return None


def _resolve_refs(s: str, st: _State) -> str:
    poss_person = possessive(st.last_person) if st.last_person else None
    thing = st.last_thing
    if st.last_person:
        s = re.sub(r"^(She|He) ", st.last_person + " ", s)
        s = re.sub(r"^(Her|His) ", poss_person + " ", s)
    if thing:
        s = re.sub(r"^It (?!is \w+ to)", (thing[:1].upper() + thing[1:]) + " ", s)
        s = re.sub(r"^Its ", possessive(thing[:1].upper() + thing[1:]) + " ", s)
    for cat in sorted(st.categories, key=len, reverse=True):
        s = re.sub(rf"\b([Tt]he) (\d{{4}} )?{cat}'s\b", lambda m: possessive(st.mention(m.group(1) == "The",
                                                                                        m.group(2) or "")), s)
        s = re.sub(rf"\b([Tt]he) (\d{{4}} )?{cat}\b(?! of\b)(?! [A-Z])",
                   lambda m: st.mention(m.group(1) == "The", m.group(2) or ""), s)
    if st.last_place:
        s = re.sub(r"\bthere\b(?! (?:is|are|was|were)\b)", st.last_place, s)

    def demonstrative(m):
        np = _np_ending_with(m.group(2), st.prev)
        return (("The " if m.group(1)[0].isupper() else "the ") + np) if np else m.group(0)

    s = re.sub(r"\b([Tt]his|[Tt]hat|[Tt]hese|[Tt]hose) ([a-z\-]+)\b", demonstrative, s)
    m = _bare_definite(s)
    if m and m.group(2) not in st.categories:
        s = _definite_subject(s, m, st)
    return s


def _bare_definite(s: str) -> re.Match | None:
    """"The prize ceremony takes ..." (lowercase words straight up to the verb), else None."""
    m = re.match(r"^The ((?:[a-z\-]+ ){0,2}?)([a-z\-]+) ([a-z]+)\b", s)
    if not m or verbs.lookup(m.group(3)) is None or m.group(3) in PREPS:
        return None
    vf = verbs.lookup(m.group(3))
    if vf.tense == "base" and vf.base not in ("be", "have") and not m.group(2).endswith("s"):
        return None
    if any(verbs.lookup(w) for w in (m.group(1) + m.group(2)).split() if verbs.lookup(w) and
           verbs.lookup(w).tense != "base"):
        return None
    return re.match(rf"^The ({re.escape(m.group(1))})({re.escape(m.group(2))}) ", s)


def _definite_subject(s: str, m: re.Match, st: _State) -> str:
    """"The batteries replaced ..." -> "The Saltcell SC-120 batteries replaced ..." (from the previous sentence),
    else "The winner ..." -> "The winner of the Pellory Innovation Prize ..." (the document's topic)."""
    mods, noun, rest = m.group(1), m.group(2), s[m.end():]
    np = _np_ending_with(noun, st.prev)
    if np and ("'" in np or "’" in np):
        return f"{np} {rest}"
    if np and np[:1].isupper():
        return f"The {np} {rest}"
    prev_spans = cap_spans(tokenize(st.prev))
    if np is not None and prev_spans and prev_spans[0][0] <= 1:
        toks = tokenize(st.prev)
        owner = " ".join(toks[prev_spans[0][0]: prev_spans[0][1]])
        return f"{possessive(owner)} {mods}{noun} {rest}"
    if st.title_is_person or not st.title_has_article:
        return f"{possessive(st.mention(False))} {mods}{noun} {rest}"
    return f"The {mods}{noun} of {st.mention(False)} {rest}"


def _update(st: _State, s: str, info: CorpusInfo) -> None:
    toks = tokenize(s)
    spans = cap_spans(toks)
    if spans and spans[0][0] <= 1:
        name = " ".join(toks[spans[0][0]: spans[0][1]])
        if info.is_person(name):
            st.last_person = name
        elif name != st.title or True:
            st.last_thing = (f"the {name}" if spans[0][0] == 1 and toks[0] == "The" else name)
    for a, b in spans:
        if a > 0 and toks[a - 1] in ("at", "in") and not info.is_person(" ".join(toks[a:b])):
            st.last_place = f"{toks[a - 1]} {' '.join(toks[a:b])}"
        elif a > 1 and toks[a - 1] == "the" and toks[a - 2] in ("at", "in"):
            st.last_place = f"{toks[a - 2]} the {' '.join(toks[a:b])}"
    st.prev = s


def resolve_sentences(doc: Document, chunks, info: CorpusInfo) -> list[Sentence]:
    """Every sentence of a document with its references resolved, attributed to the first chunk containing it."""
    st = _title_state(doc, info)
    out = []
    for p in paragraphs(doc.text):
        for s in sentences(p):
            timed, as_of = resolve_relative_time(s, st.year)
            resolved = _resolve_refs(timed, st)
            chunk_id = next((c.chunk_id for c in chunks if s[:60] in " ".join(c.text.split())), chunks[0].chunk_id)
            out.append(Sentence(doc.doc_id, chunk_id, s, resolved, as_of, resolved != s))
            _update(st, resolved, info)
    return out
