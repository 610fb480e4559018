"""Question-answer pairs from a clause: each of its parts asked with the wh-word its type calls for.

clauses.py reads a sentence's clauses (subject, verb, auxiliaries, arguments, modifiers); the Writer asks each part
that is a concrete answer (a name, a date, a number with its unit, an amount, a place, a short noun phrase) with
the wh-word its type calls for (who / whom / which <category> / when / in what year / where / how many / how much /
how tall ...), by inverting the auxiliary or adding do-support, and phrased several ways (knowledge augmentation: a
small model recalls a fact from an unseen phrasing only if it saw it phrased several ways):
- with all modifiers, and with the asked part's own modifiers only (short);
- with a modifier moved to the front ("In 1958, whom did Tobias Wren marry?");
- with the preposition stranded ("Which island is Hinagdanan Cave on?") or the wh-word in place
  ("Hinagdanan Cave is on which island?");
- in the other voice ("Who completed the lighthouse?" / "By whom was the lighthouse completed?").
Answers are short spans of the sentence, never a clause fragment; negated, modal and vague-subject clauses are
skipped (and counted). What no clause rule asks is asked in place by insitu.py. The Writer is one per document and
holds the reading both share: entities, resolved pronouns ("it" -> the document's topic), the corpus index.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from lemminflect import getInflection

from .lexicon import (
    CATEGORY_NOUNS,
    CONTENT_PREPS,
    CURRENCY_NOUNS,
    MEASURE_ADJECTIVES,
    NO_PASSIVE_VERBS,
    PERSON_NOUNS,
    PLACE_PREPS,
    SYMMETRIC_VERBS,
    VAGUE_HEADS,
)
from .mentions import DocContext, EntityIndex, name_key
from .prose import year_of
from .text import as_question as _question
from .text import possessive

MAX_VARIANTS = 4  # phrasings kept per asked part
MAX_ANSWER_WORDS = 10
PRUNE_ARG = {"relcl", "acl", "advcl", "appos", "parataxis", "ccomp", "punct", "mark", "dep", "neg"}
PRUNE_SUBJ = PRUNE_ARG | {"prep"}
_DO = {"VBD": "did", "VBZ": "does", "VBP": "do", "VB": "do"}
_AGREE = {"are": "is", "were": "was", "have": "has", "do": "does"}
_CONTRACTED = {
    "'ll": "will",
    "’ll": "will",
    "'ve": "have",
    "’ve": "have",
    "'re": "are",
    "’re": "are",
    "'m": "am",
    "ca": "can",
    "wo": "will",
    "sha": "shall",
}  # "you'll", "can't", "won't": the auxiliary in full


def _aux(tok) -> str:
    return _CONTRACTED.get(tok.lower_, tok.lower_)


_NOT = {"n't": "not", "nt": "not"}
_DATE_PREPS = {"in", "on", "at", "during", "by", "around"}
# a length of time, not a point in it: "41 days", "an estimated two weeks", "about 3 hours"
_DURATION = re.compile(
    r"^(?:(?:an?|about|around|roughly|some|nearly|almost|over|an estimated)\s+)*(?:\d[\d.,]*|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|eleven|twelve|a few|several)\s+(?:second|minute|hour|day|week|month|year|"
    r"decade)s?$",
    re.I,
)
YEAR = re.compile(r"^[1-9]\d{2,3}$")
APPROX = {"about", "around", "approximately", "roughly", "nearly", "almost", "some", "over", "circa", "c."}
_LOWER_AT_START = {"DET", "PRON", "ADP", "CCONJ", "SCONJ", "ADV"}
NUMERIC_LABELS = {"CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME"}


_DESCRIBED_NAMES = {"PERSON", "ORG", "GPE", "FAC", "LOC"}  # names a description may precede


@dataclass
class Arg:
    role: str  # subj | dobj | dative | attr | acomp | prep | agent | npadv
    head: object  # spaCy Token
    prep: object = None  # the preposition token of a prepositional phrase
    toks: list = field(default_factory=list)
    prep_text: str = ""  # a two-word preposition ("as of")

    @property
    def prep_word(self) -> str:
        return self.prep_text or (self.prep.lower_ if self.prep is not None else "")


@dataclass
class Clause:
    verb: object
    subj: Arg
    aux: list
    passive: bool
    copula: bool
    prt: list
    core: list[Arg]
    mods: list[Arg]
    subject_text: str = ""  # subject as written in questions (pronouns resolved)
    subject_answer: str = ""
    tag: str = ""  # the verb's tense tag (a reduced relative "starring" reads as "stars": VBZ)
    xcomp: str = ""  # a verb complement that carries the arguments: "hosting", "to build"
    neg: str = ""  # "not" / "never": a negated clause is asked as a negation ("Who has not released ...?")

    def __post_init__(self):
        self.tag = self.tag or self.verb.tag_

    @property
    def verb_text(self) -> str:
        if self.tag != self.verb.tag_:
            return (getInflection(self.verb.lemma_, self.tag) or (self.verb.text,))[0]
        return self.verb.text


@dataclass
class QA:
    question: str
    answer: str
    slot: str  # what is asked, wording aside (two answers to one slot make it ambiguous)
    variant: str  # full | short | fronted | stranded | insitu | voice | year


@dataclass
class Ask:
    """One way to ask for an argument: the fronted wh-phrase, the answer, and optional other placements."""

    front: str  # "On which island" / "When" / "Whom"
    answer: str
    strand: str | None = None  # "Which island" (+ the preposition at the end)
    insitu: str | None = None  # "on which island"
    keep_prep: bool = False
    tag: str = ""
    extra: tuple[str, ...] = ()  # whole questions that say it differently ("How many residents does X have?")


def _list_comma(c) -> bool:
    """A comma between conjuncts ("A, B and C"), kept so lists read as lists."""
    return c.text == "," and any(g.dep_ == "conj" and g.i > c.i for g in c.head.children)


def subtree(tok, prune: set[str]) -> list:
    out = [tok]
    for c in tok.children:
        if c.dep_ in prune and not (c.dep_ == "punct" and (c.text in {"-", "–", "'", "&", "/"} or _list_comma(c))):
            if not (c.dep_ == "appos" and numbered_noun(c) == tok):  # "port 8080" is one phrase
                continue
        if c.dep_ == "cc" and c.i < tok.i:
            continue
        out.extend(subtree(c, prune))
    return sorted(out, key=lambda t: t.i)


def contiguous(toks: list) -> list:
    """The longest run of consecutive tokens containing the first (pruning can leave gaps: "X, Y and Z")."""
    if not toks:
        return toks
    keep = [toks[0]]
    for t in toks[1:]:
        if t.i - keep[-1].i > 2:
            break
        keep.append(t)
    return keep


class Writer:
    """Question writer for one document: holds the corpus index and the document's reference context."""

    def __init__(self, index: EntityIndex, ctx: DocContext):
        self.index = index
        self.ctx = ctx
        self.subst: dict[int, str] = {}
        self.title_toks: set[int] = set()  # tokens of a document title (never lower-cased: "My Cousin ...")
        self.ents: dict[int, object] = {}
        self.skipped: dict[str, int] = {}
        self.last_clauses: list[Clause] = []  # the clauses of the sentence being asked
        self.in_document = False  # the sentence's questions name a thing only its document names: asked in it

    # ---- rendering ---------------------------------------------------------------------------------------------
    def render(self, toks: list, lower_first: bool = True, strip: bool = True) -> str:
        parts = []
        for k, t in enumerate(toks):
            text = self.subst.get(t.i, t.text)
            if t.i - 1 in self.subst and t.lower_ in ("'s", "’s") and t.tag_ == "VBZ":
                text = " is"  # "it's possible" with "it" resolved: "Attrs is possible", not "Attrs's possible"
            if (
                k == 0
                and lower_first
                and t.i == t.sent.start
                and t.pos_ in _LOWER_AT_START
                and t.text != "I"
                and t.i not in self.subst
                and t.i not in self.title_toks
            ):
                text = text[:1].lower() + text[1:]
            ws = t.whitespace_ if k < len(toks) - 1 else ""
            if k < len(toks) - 1 and toks[k + 1].i != t.i + 1:
                ws = " "
            parts.append(text + ws)
        s = "".join(parts)
        s = re.sub(r"\s+([,.;:!?%])", r"\1", s)
        s = re.sub(r"\s+('s|’s)\b", r"\1", s)
        s = " ".join(s.split())
        return s.strip(" ,;:-–") if strip else s

    def arg_text(self, a: Arg) -> str:
        body = self.render(a.toks)
        return f"{a.prep_word} {body}" if a.prep is not None else body

    def phrase(self, tok, prune: set[str]) -> list:
        """A head's phrase; a name is never cut ("Payment on Demand" keeps its "on Demand")."""
        whole = contiguous(subtree(tok, PRUNE_ARG))
        if (
            len(whole) <= 10
            and self.index.titles
            and name_key(self.render(whole, lower_first=False)) in self.index.titles
        ):
            self.title_toks.update(t.i for t in whole if t.dep_ != "det")
            return whole  # a document title: "Payment on Demand", "My Cousin from Warsaw"
        toks = subtree(tok, prune)
        e = self.ents.get(tok.i)
        # a date is never cut either ("Saturday 19 April": the parser may hang "April" elsewhere); ranges are split
        # before parsing questions (extractive._split_ranges), so a date entity is one date
        if e is not None and (e.label_ not in NUMERIC_LABELS or (e.label_ == "DATE" and e.root.i == tok.i)):
            toks = sorted({t.i: t for t in toks + list(e)}.values(), key=lambda t: t.i)
        return contiguous(toks)

    # ---- typing answers -------------------------------------------------------------------------------------------
    def ent(self, tok):
        return self.ents.get(tok.i)

    def is_person(self, tok) -> bool:
        if tok.i in self.subst:
            return tok.lower_ in ("he", "she", "him", "her", "his") or self.index.is_person(self.subst[tok.i])
        e = self.ent(tok)
        if e is not None:
            return self.index.is_person(e.text) and not self.index.category(e.text)
        return tok.pos_ == "NOUN" and tok.lemma_.lower() in PERSON_NOUNS

    def _who_like(self, tok) -> bool:
        """People, and organisations the text calls nothing else, are asked with "who" ("Uvicorn is an ASGI web
        server implementation": an ORG to the small model, and no "who")."""
        e = self.ent(tok)
        return self.is_person(tok) or (
            e is not None and e.label_ in ("ORG", "NORP") and not self.index.categories.get(name_key(e.text))
        )

    def answer(self, a: Arg) -> tuple[str, str | None]:
        """(short answer, category for "which ...") of an argument phrase."""
        head = a.head
        toks = a.toks
        # "the municipality of Dauis" -> ("Dauis", "municipality")
        if head.pos_ == "NOUN" and head.lemma_.lower() not in PERSON_NOUNS:
            of = next((c for c in head.children if c.dep_ == "prep" and c.lower_ == "of"), None)
            pobj = next((g for g in of.children if g.dep_ == "pobj"), None) if of is not None else None
            det = [c.lower_ for c in head.children if c.dep_ == "det"]
            if (
                pobj is not None
                and det == ["the"]
                and (pobj.pos_ == "PROPN" or pobj.i in self.ents)
                and len([c for c in head.children if c.dep_ in ("amod", "compound")]) == 0
            ):
                return self.render(subtree(pobj, PRUNE_ARG)), head.lemma_.lower()
        e = self.ent(head)
        if (
            e is not None
            and e.label_ not in ("CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT")
            and len(e) >= len([t for t in toks if t.dep_ not in ("det", "amod", "compound")])
            and not any(c.dep_ == "conj" for c in head.children)
        ):
            text = re.sub(r"^[Tt]he\s+", "", e.text)
            return text, self.index.category(text)
        # "Austrian physicist and philosopher Ernst Mach" -> "Ernst Mach": words before a closing name describe it
        # (the parser may make "physicist" the head and the name its conjunct)
        end = max(toks, key=lambda t: t.i) if toks else None
        last = self.ent(end) if end is not None else None
        if last is not None and last.label_ in _DESCRIBED_NAMES and last.end == end.i + 1:
            before = [t for t in toks if t.i < last.start]
            if before and all(
                t.pos_ in ("ADJ", "NOUN", "CCONJ", "DET", "PUNCT") or t.ent_type_ == "NORP" for t in before
            ):
                text = re.sub(r"^[Tt]he\s+", "", last.text)
                return text, self.index.category(text)
        if len(toks) > 8:
            toks = subtree(head, PRUNE_ARG | {"prep"})
        text = self.render(contiguous(toks))
        text = re.sub(r"^(?:the|The)\s+", "", text)
        return text, self.index.category(text) if head.pos_ == "PROPN" else None

    def asks(self, a: Arg, cl: Clause) -> list[Ask]:
        """The ways to ask for argument `a` (empty when it is no concrete answer)."""
        head = a.head
        if (
            head.pos_ in ("PRON", "DET")
            or head.tag_ in ("WDT", "WP")
            or (head.lower_ in VAGUE_HEADS and not any(c.dep_ == "nummod" for c in head.children))
        ):
            return []
        ans, cat = self.answer(a)
        if not ans or len(ans.split()) > MAX_ANSWER_WORDS:
            return []
        e = self.ent(head)
        label = e.label_ if e is not None else ""
        prep = a.prep_word
        if prep in ("as of", "as at"):
            return []  # the time a statement holds: context of the fact, not a fact to ask
        cap = prep.capitalize()
        numbered = _which_number(head, self.ents)
        if numbered is not None and a.role in ("dobj", "prep"):  # "in version 4.2.7": in which version
            noun, number = numbered
            which = which_phrase([noun])
            front = f"{cap} {which}" if prep else which.capitalize()
            return [
                Ask(front, number.text, strand=which.capitalize(), insitu=f"{prep} {which}".strip(), keep_prep=True)
            ]
        if a.role == "agent":
            if self._who_like(head):
                return [Ask("By whom", ans, strand="Who", insitu="by whom", keep_prep=True, tag="agent")]
            what = f"which {cat}" if cat else "what"
            return [Ask(f"By {what}", ans, strand=what.capitalize(), insitu=f"by {what}", keep_prep=True, tag="agent")]
        if label == "DATE" or (head.like_num and YEAR.match(head.text) and prep in _DATE_PREPS | {"since"}):
            return self._date_asks(a, ans, prep)
        if label == "TIME":
            return [Ask("At what time" if prep == "at" else "When", ans, insitu="when")]
        whole = self.render(contiguous(a.toks))
        if label == "MONEY" or head.lemma_.lower() in CURRENCY_NOUNS:
            if a.role in ("dobj", "attr") or prep == "for":
                return [
                    Ask(
                        f"{cap} how much" if prep == "for" else "How much",
                        whole,
                        insitu=f"{prep} how much".strip(),
                        keep_prep=prep == "for",
                    )
                ]
            return []
        if a.role == "acomp":
            meas = [c for c in head.children if c.dep_ == "npadvmod"]
            if head.lemma_.lower() in MEASURE_ADJECTIVES and meas:
                amount = self.render(subtree(meas[0], PRUNE_ARG))
                return [Ask(f"How {head.lower_}", amount, insitu=f"how {head.lower_}", tag="measure")]
            return []
        if label in ("QUANTITY", "PERCENT") and a.role == "dobj":
            return [Ask("How much", whole, insitu="how much", tag="amount")]
        count = next((c for c in head.children if c.dep_ == "nummod" and c.like_num), None)
        if count is not None and head.tag_ == "NNS" and label not in ("DATE", "QUANTITY"):
            number = self.render([t for t in subtree(count, PRUNE_ARG) if t.lower_ not in APPROX])
            noun = self.render([t for t in a.toks if t.i > count.i and t.i <= head.i and t.dep_ != "punct"])
            listed = next((c for c in head.children if c.dep_ == "appos"), None)
            if noun and number and listed is not None:  # "three ferries: the Gullwind, the Marl Star and X"
                items = self.render(contiguous(subtree(listed, PRUNE_ARG)))
                if items and len(items.split()) <= MAX_ANSWER_WORDS * 2:
                    return [
                        Ask(f"How many {noun}", number, insitu=f"how many {noun}", tag="count"),
                        Ask(f"Which {noun}", items, insitu=f"which {noun}", tag="list"),
                    ]
            if noun and number and not any(t.i in self.subst for t in a.toks):
                front = f"{cap} how many {noun}" if prep else f"How many {noun}"
                extra = ()
                if prep == "with":  # "Tandry is a town with about 9,000 residents": residents Tandry has
                    do = "did" if cl.tag == "VBD" else "does"
                    extra = (_question(f"How many {noun} {do} {cl.subject_text} have"),)
                return [
                    Ask(
                        front,
                        number,
                        insitu=f"{prep} how many {noun}".strip(),
                        keep_prep=bool(prep),
                        tag="count",
                        extra=extra,
                    )
                ]
        if prep:
            return self._prep_asks(a, ans, cat, label, prep)
        if a.role == "attr":
            return []  # copulas are asked by _copula_pairs
        if self.is_person(head) and a.role != "oprd":  # "elected him president": a role, asked with "what"
            return [Ask("Whom", ans, insitu="whom")]
        if head.pos_ not in ("NOUN", "PROPN", "NUM") or _anaphoric(head):
            return []
        if cat:
            return [Ask(f"Which {cat}", ans, insitu=f"which {cat}"), Ask("What", ans, tag="what")]
        return [Ask("What", ans, insitu="what")]

    def _prep_asks(self, a: Arg, ans: str, cat: str | None, label: str, prep: str) -> list[Ask]:
        head, cap = a.head, prep.capitalize()
        if prep == "as":  # "served as president": a role, even when the noun names people
            return [Ask("As what", ans, strand="What", insitu="as what", keep_prep=True)]
        if self.is_person(head):
            return [Ask(f"{cap} whom", ans, strand="Who", insitu=f"{prep} whom", keep_prep=True)]
        place = (
            label in ("GPE", "LOC", "FAC")
            or cat is not None
            or (head.pos_ == "PROPN" and label not in ("WORK_OF_ART", "EVENT", "PRODUCT", "NORP", "LAW", "PERSON"))
        )
        out = []
        if cat:
            out.append(
                Ask(f"{cap} which {cat}", ans, strand=f"Which {cat}", insitu=f"{prep} which {cat}", keep_prep=True)
            )
        if place and prep in PLACE_PREPS:
            region = next((c for c in head.children if c.dep_ == "appos" and c.pos_ == "PROPN"), None)
            if region is not None:
                full = self.render(contiguous(subtree(head, PRUNE_ARG - {"appos"})))
                out.append(Ask("Where", full, insitu="where", tag="where"))
                out.append(Ask(f"Where in {self.render(self.phrase(region, PRUNE_ARG))}", ans, tag="where-in"))
            else:
                out.append(Ask("Where", ans, insitu="where", tag="where"))
        elif place and prep in ("to", "into", "from"):
            out.append(Ask(f"{cap} where", ans, strand="Where", insitu=f"{prep} where", keep_prep=True))
        elif not out and prep in CONTENT_PREPS and head.pos_ in ("NOUN", "PROPN") and len(ans.split()) <= 6:
            who = self._who_like(head)
            out.append(
                Ask(
                    f"{cap} {'whom' if who else 'what'}",
                    ans,
                    strand="Who" if who else "What",
                    insitu=f"{prep} {'whom' if who else 'what'}",
                    keep_prep=True,
                )
            )
        return out

    def _date_asks(self, a: Arg, ans: str, prep: str) -> list[Ask]:
        if _DURATION.match(ans) and prep in ("", "for"):
            return [Ask("How long", ans, insitu="how long")]  # "last an estimated 41 days": no "when"
        if prep == "since":
            return [Ask("Since when", ans, insitu="since when")]
        if prep in ("until", "till"):
            return [Ask("Until when", ans, insitu="until when")]
        if prep in ("from", "to", "for") and re.search(r"\d", ans):  # "to what date does X move?", "booked for"
            wh = "what year" if YEAR.match(ans) else "what date"
            return [
                Ask(f"{prep.capitalize()} {wh}", ans, strand=wh.capitalize(), insitu=f"{prep} {wh}", keep_prep=True)
            ]
        if prep in ("before", "after", "from", "to", "between", "within", "for", "over"):
            return []  # relative or spans: "before 1990" does not answer "when"
        out = [Ask("When", ans, insitu="when")]
        if YEAR.match(ans):
            out.append(Ask("In what year", ans, strand="What year", insitu="in what year", tag="year"))
        elif year_of(ans):
            out.append(Ask("In what year", year_of(ans), strand="What year", insitu="in what year", tag="year"))
            if re.search(r"\d{1,2}", ans.replace(year_of(ans), "")):
                out.append(Ask(f"{prep.capitalize() if prep else 'On'} what date", ans, insitu="on what date"))
        return out

    # ---- realization ----------------------------------------------------------------------------------------------
    @staticmethod
    def _order(cl: Clause, a: Arg) -> tuple[int, int]:
        """Sentence order, but a modifier that opened the sentence ("In 1958, ...") goes after the verb's
        arguments: questions front their wh-word, not the modifier."""
        i = (a.prep or a.head).i
        return (1 if i < cl.verb.i else 0, i)

    def _kept(self, cl: Clause, skip: Arg | None, short: bool) -> list[Arg]:
        """The other arguments: all of them, or (short) the core ones and the agent."""
        keep = [x for x in cl.core + cl.mods if x is not skip and (not short or x.role != "prep" and x.role != "npadv")]
        if cl.copula and skip is not None and skip.role != "attr":
            keep = [x for x in keep if not (x.role == "attr" and self._category_attr(cl, x))]
        return sorted(keep, key=lambda x: self._order(cl, x))

    def _category_attr(self, cl: Clause, attr: Arg) -> bool:
        """ "Hinagdanan Cave is a cave ...": an indefinite attribute that only names the subject's kind, dropped
        when a modifier is asked ("On which island is Hinagdanan Cave?")."""
        h = attr.head
        return any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in h.children) and not any(
            c.dep_ == "prep" and c.lower_ == "of" for c in h.children
        )

    def _others(self, cl: Clause, skip: Arg | None, short: bool) -> str:
        return " ".join(self.arg_text(x) for x in self._kept(cl, skip, short))

    def _verb_rest(self, cl: Clause) -> str:
        return " ".join([cl.verb_text.lower()] + [p.text.lower() for p in cl.prt] + [cl.xcomp] * bool(cl.xcomp))

    def subject_form(self, cl: Clause, agree: bool = True) -> str:
        """The verb group as it reads after a singular wh-subject ("Who has", "What contains"); `agree=False`: as
        it reads after the clause's own subject ("Logs go to which file?")."""
        neg = [_NOT.get(cl.neg, cl.neg)] if cl.neg else []
        if cl.aux:
            first = _aux(cl.aux[0])
            first = _AGREE.get(first, first) if agree else first
            return " ".join([first] + neg + [t.lower_ for t in cl.aux[1:]] + [self._verb_rest(cl)])
        if neg:  # "never married"
            return " ".join(neg + [self._verb_rest(cl)])
        if participle(cl.verb) and cl.passive:  # "a film directed by X": past passive
            return "was " + self._verb_rest(cl)
        verb = cl.verb_text.lower()
        if cl.tag == "VBP" and agree:
            verb = _AGREE.get(verb) or (getInflection(cl.verb.lemma_, "VBZ") or (verb,))[0]
        return " ".join([verb] + [p.text.lower() for p in cl.prt] + [cl.xcomp] * bool(cl.xcomp))

    def inverted(
        self, cl: Clause, wh: str, skip: Arg | None, short: bool, tail: str = "", front_mod: str = ""
    ) -> str | None:
        """ "<wh> <aux> <subject> <verb> <others>?" with do-support when there is no auxiliary."""
        subj = cl.subject_text
        if cl.neg:  # "What does the landlord not allow?", "Whom did Ada never marry?"
            subj = f"{subj} {_NOT.get(cl.neg, cl.neg)}"
        others = self._others(cl, skip, short)
        if cl.aux:
            body = f"{_aux(cl.aux[0])} {subj} {' '.join(_aux(t) for t in cl.aux[1:])} {self._verb_rest(cl)}"
        elif participle(cl.verb) and cl.passive:
            body = f"was {subj} {self._verb_rest(cl)}"
        elif cl.copula:
            body = f"{cl.verb.lower_} {subj}"
        elif cl.tag in _DO:
            verb = " ".join([cl.verb.lemma_.lower()] + [p.lower_ for p in cl.prt] + [cl.xcomp] * bool(cl.xcomp))
            body = f"{_DO[cl.tag]} {subj} {verb}"
        else:
            return None
        lead = f"{front_mod}, {wh[:1].lower()}{wh[1:]}" if front_mod else wh
        return _question(f"{lead} {body} {others} {tail}")

    def passive_form(self, cl: Clause) -> str | None:
        """ "was founded" for an active clause in the past ("What was founded by X?")."""
        if cl.neg or cl.aux or cl.copula or cl.xcomp or cl.verb.lemma_.lower() in NO_PASSIVE_VERBS:
            return None
        vbn = (getInflection(cl.verb.lemma_, "VBN") or (None,))[0]
        be = {"VBD": "was", "VBZ": "is", "VBP": "is"}.get(cl.tag)
        if not vbn or not be:
            return None
        return f"{be} {vbn} " + " ".join(p.lower_ for p in cl.prt)

    def active_form(self, cl: Clause) -> str | None:
        """ "completed" for a passive clause ("Who completed the lighthouse?")."""
        if not cl.passive or cl.xcomp or cl.neg:
            return None
        be = cl.aux[0].lower_ if cl.aux else "was"
        if be in ("was", "were") or participle(cl.verb):
            tag = "VBD"
        elif be in ("is", "are"):
            tag = "VBZ"
        else:
            return None
        form = getInflection(cl.verb.lemma_, tag)
        return (form[0] + " " + " ".join(p.lower_ for p in cl.prt)).strip() if form else None

    def pairs(self, cl: Clause) -> list[QA]:
        out: list[QA] = self._copula_pairs(cl) if cl.copula else self._subject_pairs(cl)
        for a in cl.core + cl.mods:
            if cl.copula and a.role == "attr":
                continue
            variants: list[QA] = []
            for ask in self.asks(a, cl):
                variants += self._arg_pairs(cl, a, ask)
            out += _spread(variants, MAX_VARIANTS + 1)
        return out

    def _subject_wh(self, cl: Clause) -> str:
        if self._who_like(cl.subj.head) and not self.index.category(cl.subject_answer):
            return "Who"
        cat = self.index.category(cl.subject_answer)
        return f"Which {cat}" if cat else "What"

    def has_name(self, toks: list) -> bool:
        """A proper noun, an entity, a resolved pronoun, or a document title ("Sno*Drift", tagged NN)."""
        return any(
            t.pos_ == "PROPN" or t.i in self.subst or (t.i in self.ents and self.ents[t.i].label_ not in NUMERIC_LABELS)
            for t in toks
        ) or (len(toks) <= 10 and name_key(self.render(toks)) in self.index.titles)

    def _named(self, a: Arg) -> bool:
        """The phrase holds a name (not just a number): it can stand as the subject of a passive question."""
        return any(
            t.pos_ == "PROPN" or (t.i in self.ents and self.ents[t.i].label_ not in NUMERIC_LABELS) for t in a.toks
        )

    def _subject_pairs(self, cl: Clause) -> list[QA]:
        ans = cl.subject_answer
        if ans.lower() == cl.subj.head.lower_ and (cl.subj.head.tag_ == "NNS" or ans.lower() == "you"):
            return []  # "Logs go to X": "logs" names a kind the document has, no answer ("What goes to X?")
        wh = self._subject_wh(cl)
        vg = self.subject_form(cl)
        slot = f"subj|{cl.verb.lemma_}|{self._others(cl, None, True)}"
        qs = [(_question(f"{wh} {vg} {self._others(cl, None, False)}"), "full")]
        if self._kept(cl, None, True) and len(self._kept(cl, None, True)) < len(self._kept(cl, None, False)):
            qs.append((_question(f"{wh} {vg} {self._others(cl, None, True)}"), "short"))
        obj = next((a for a in cl.core if a.role == "dobj"), None)
        pf = self.passive_form(cl)
        by = {"Who": "whom", "What": "what"}.get(wh, wh.lower())
        if obj is not None and pf and self._named(obj):
            be, vbn = pf.split(" ", 1)
            qs.append((_question(f"By {by} {be} {self.arg_text(obj)} {vbn} {self._others(cl, obj, False)}"), "voice"))
        if obj is not None and (named := self._appositive_name(obj.head)):
            # "launched its first harbour robot, the Skua H5": asked by the name, which gives nothing away
            qs.append((_question(f"{wh} {vg} {named}"), "member"))
        if obj is not None:  # "starring A, B and C": which film stars B? (each member of a list of names)
            members = [c for c in _conjuncts(obj.head)[1:] if c.pos_ == "PROPN" or c.i in self.ents]
            for m in [obj.head] + members if members else []:
                name = self.render(self.phrase(m, PRUNE_ARG | {"conj", "cc"}))
                if name:
                    qs.append((_question(f"{wh} {vg} {name}"), "member"))
        agent = next((a for a in cl.mods if a.role == "agent"), None)
        af = self.active_form(cl)
        if cl.passive and af and agent is not None:
            ag = self.render(agent.toks)
            qs.append(
                (
                    _question(
                        f"{ag[:1].upper()}{ag[1:]} {af} {'whom' if wh == 'Who' else wh.lower()} "
                        f"{self._others(cl, agent, False)}"
                    ),
                    "voice",
                )
            )
        base = [(q, v) for q, v in qs if v != "member"][:MAX_VARIANTS]
        return [QA(q, ans, slot, v) for q, v in base + [(q, v) for q, v in qs if v == "member"] if q]

    def _insitu(self, cl: Clause, a: Arg, phrase: str) -> str:
        """The declarative with the asked part replaced: core arguments stay in place, a modifier goes last."""
        core = [
            x
            for x in cl.core
            if not (cl.copula and x.role == "attr" and a.role != "attr" and self._category_attr(cl, x))
        ]
        parts = [(self._order(cl, x), self.arg_text(x) if x is not a else phrase) for x in core]
        parts += [(self._order(cl, x), self.arg_text(x)) for x in cl.mods if x is not a]
        tail = phrase if a in cl.mods else ""
        body = " ".join(p for _, p in sorted(parts, key=lambda t: t[0]))
        return _question(f"{cl.subject_text} {self.subject_form(cl, agree=False)} {body} {tail}")

    def _arg_pairs(self, cl: Clause, a: Arg, ask: Ask) -> list[QA]:
        slot = f"{a.role}|{cl.verb.lemma_}|{cl.subject_text}|{self._others(cl, a, True)}|{ask.tag}"
        qs = [(self.inverted(cl, ask.front, a, short=False), "full")] + [(q, "paraphrase") for q in ask.extra]
        others = [m for m in cl.mods if m is not a]
        if others:
            qs.append((self.inverted(cl, ask.front, a, short=True), "short"))
            dated = next(
                (
                    m
                    for m in others
                    if m.prep is not None
                    and self.ent(m.head) is not None
                    and self.ent(m.head).label_ == "DATE"
                    and m.prep_word not in ("from", *RANGE_ENDS)  # "From 5 April, to what date ...?": one range
                ),
                None,
            )
            if dated is not None:
                rest = [m for m in others if m is not dated]
                cl2 = dataclasses.replace(cl, mods=rest + [a])
                front = self.arg_text(dated)
                qs.append(
                    (self.inverted(cl2, ask.front, a, short=False, front_mod=front[:1].upper() + front[1:]), "fronted")
                )
        if ask.strand and a.prep is not None:
            qs.append((self.inverted(cl, ask.strand, a, short=True, tail=a.prep.lower_), "stranded"))
        other_dates = [m for m in others if self.ent(m.head) is not None and self.ent(m.head).label_ == "DATE"]
        if ask.insitu and not (a in cl.mods and other_dates):  # "... in 2000 when?" reads as the wrong date
            qs.append((self._insitu(cl, a, ask.insitu), "insitu"))
        if a.role == "dobj" and self._named(a) and cl.subject_answer != "you":  # "What is needed by you?"
            pf = self.passive_form(cl)
            if pf:
                wh = "Who" if ask.front == "Whom" else ask.front
                qs.append((_question(f"{wh} {pf} by {cl.subject_text} {self._others(cl, a, False)}"), "voice"))
        if a.role == "agent":
            af = self.active_form(cl)
            if af:
                wh = "Who" if ask.front == "By whom" else ask.front.removeprefix("By ").capitalize()
                qs.append((_question(f"{wh} {af} {cl.subject_text} {self._others(cl, a, False)}"), "voice"))
        seen, out = set(), []
        for q, v in qs:
            if q and q not in seen:
                seen.add(q)
                out.append(QA(q, ask.answer, slot, v))
        return out

    def relation_pairs(self, subj: str, subj_answer: str, subj_person: bool, be: str, noun) -> list[QA]:
        """ "Anna Benson is (the) ex-wife of Kris Benson": whose ex-wife is Anna Benson? who is the ex-wife of Kris
        Benson? Relational nouns are asked both ways."""
        of = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"), None)
        pobj = next((g for g in of.children if g.dep_ == "pobj"), None) if of is not None else None
        if pobj is None or noun.pos_ != "NOUN" or noun.lemma_.lower() in CATEGORY_NOUNS:
            return []
        obj = Arg("prep", pobj, of, self.phrase(pobj, PRUNE_ARG))
        if not self._named(obj):
            return []
        owner, _ = self.answer(obj)
        rel = self.render([t for t in subtree(noun, PRUNE_ARG | {"prep", "det", "poss"})])
        if not rel or len(rel.split()) > 4 or not owner:
            return []
        be_sg = _AGREE.get(be, be)
        owner_person = self.is_person(pobj)
        slot_a, slot_b = f"rel|{rel}|{subj}", f"rel-rev|{rel}|{owner}"
        out = [
            QA(
                _question(f"{'Who' if subj_person else 'What'} {be_sg} the {rel} of {owner}"),
                subj_answer,
                slot_b,
                "full",
            ),
            QA(
                _question(f"The {rel} of {owner} {be_sg} {'who' if subj_person else 'what'}"),
                subj_answer,
                slot_b,
                "insitu",
            ),
        ]
        if owner_person:
            out += [
                QA(_question(f"Whose {rel} {be} {subj}"), owner, slot_a, "full"),
                QA(_question(f"{subj} {be} the {rel} of whom"), owner, slot_a, "insitu"),
            ]
        else:
            the = "the " if any(c.dep_ == "det" for c in noun.children) else ""  # "is part of Y": no article
            out += [
                QA(_question(f"{subj} {be} {the}{rel} of what"), owner, slot_a, "insitu"),
                QA(_question(f"What {be} {subj} {the}{rel} of"), owner, slot_a, "full"),
            ]
        return out

    def _work_by(self, subj: str, be: str, noun) -> list[QA]:
        """ "X is a painting by Paul Kane": whose painting is X? (a work and its author)."""
        by = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "by"), None)
        pobj = next((g for g in by.children if g.dep_ == "pobj"), None) if by is not None else None
        if pobj is None or not self.is_person(pobj) or noun.pos_ != "NOUN":
            return []
        author, _ = self.answer(Arg("prep", pobj, by, self.phrase(pobj, PRUNE_ARG)))
        kind = noun.lower_
        slot = f"work-by|{subj}"
        return [
            QA(_question(f"Whose {kind} {be} {subj}"), author, slot, "full"),
            QA(_question(f"{subj} {be} a {kind} by whom"), author, slot, "insitu"),
            QA(_question(f"Who made the {kind} {subj}"), author, slot, "made"),
        ]

    def np_pairs(self, sent) -> list[QA]:
        """Facts inside noun phrases: a place attached to a name ("the Mountrail County Courthouse in Stanley"),
        and appositions that relate two names ("Tom Baring, the son of Henry Baring, ...")."""
        out: list[QA] = []
        for tok in sent:
            if (
                not (tok.pos_ == "PROPN" or tok.i in self.ents)
                or tok.dep_ == "compound"
                or (tok.i in self.ents and self.ents[tok.i].root.i != tok.i)
            ):
                continue
            name_arg = Arg("np", tok, None, self.phrase(tok, PRUNE_SUBJ))
            name, _ = self.answer(name_arg)
            if not name or (tok.i in self.ents and self.ents[tok.i].label_ in NUMERIC_LABELS):
                continue
            person = self.is_person(tok)
            if name_key(name) in self.index.titles and any(c.dep_ == "prep" for c in tok.children):
                continue  # "My Cousin from Warsaw" is a title, not a cousin who comes from Warsaw
            for c in tok.children:
                if c.dep_ == "prep" and c.lower_ in ("in", "at", "near", "from") and not person and tok.dep_ != "pobj":
                    pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
                    if pobj is None:
                        continue
                    place = Arg("prep", pobj, c, self.phrase(pobj, PRUNE_ARG))
                    label = self.ents[pobj.i].label_ if pobj.i in self.ents else ""
                    if label in ("GPE", "LOC", "FAC") or (pobj.pos_ == "PROPN" and label not in ("PERSON",)):
                        ans, cat = self.answer(place)
                        slot = f"np-place|{name}|{c.lower_}"
                        if c.lower_ == "from":
                            out += [QA(_question(f"Where is {name} from"), ans, slot, "full")]
                        else:
                            out += [
                                QA(_question(f"Where is {name}"), ans, slot, "full"),
                                QA(_question(f"Where is {name} located"), ans, slot, "located"),
                            ]
                        if cat:
                            out.append(
                                QA(
                                    _question(f"{c.lower_.capitalize()} which {cat} is {name}"),
                                    ans,
                                    slot + "|cat",
                                    "category",
                                )
                            )
                elif c.dep_ == "appos" and c.pos_ == "NOUN":
                    for noun in _conjuncts(c):
                        out += self.relation_pairs(name, name, person, "is", noun)
        return out

    def resolve_pronouns(self, sent) -> None:
        """Every pronoun of the sentence the context can name, not only the clause subjects ("its" -> "X's")."""
        for t in sent:
            if t.tag_ in ("PRP", "PRP$") and t.i not in self.subst and (who := self.ctx.stand_in(t)):
                self.subst[t.i] = possessive(who) if t.tag_ == "PRP$" else who

    def comma_appos(self, tok, start: int) -> bool:
        """ "its first harbour robot, the Skua H5": a name in apposition whose phrase (from `start`) follows a comma
        ("the Skua H5" is a name: H5 a noun to the parser, a facility to the recognizer); not "the painter Caspar
        Wennick", a title before a name."""
        if tok.dep_ != "appos" or start == 0 or tok.doc[start - 1].text != ",":
            return False
        e = self.ent(tok)
        return tok.pos_ == "PROPN" or (e is not None and e.label_ not in NUMERIC_LABELS)

    def _appositive_name(self, head) -> str | None:
        """The name after a comma that says which thing `head` is ("its first harbour robot, the Skua H5")."""
        c = next((c for c in head.children if c.i and self.comma_appos(c, c.left_edge.i)), None)
        return (self.render(contiguous(subtree(c, PRUNE_ARG))) or None) if c is not None else None

    def _year_of_kind(self, cl: Clause, attr: Arg, subj: str, be: str) -> list[QA]:
        """ "Boundaries of the Heart is a 1988 film": the year is asked on its own."""
        year = next(
            (
                t
                for t in attr.toks
                if t.i != attr.head.i
                and YEAR.match(t.text)
                and t.i in self.ents
                and self.ents[t.i].label_ == "DATE"
                and t.head.i == attr.head.i
            ),
            None,
        )
        if year is None or cl.mods:
            return []
        slot = f"kind-year|{subj}"
        return [
            QA(_question(f"What year {be} {subj} from"), year.text, slot, "full"),
            QA(_question(f"{subj} {be} from what year"), year.text, slot, "insitu"),
            QA(_question(f"In what year {be} {subj} from"), year.text, slot, "year"),
        ]

    def _copula_pairs(self, cl: Clause) -> list[QA]:
        """ "X is/was Y": the description, the relation both ways ("the mayor of Z"), a nationality."""
        attr = next((a for a in cl.core if a.role == "attr"), None)
        if attr is None:
            return []
        subj_person = self.is_person(cl.subj.head)
        be = cl.verb.lower_
        be_sg = _AGREE.get(be, be)
        subj = cl.subject_text
        desc = self.render(contiguous(attr.toks))
        out: list[QA] = []
        definite = any(c.dep_ in ("det", "poss") and c.lower_ != "a" and c.lower_ != "an" for c in attr.head.children)
        attr_named = attr.head.pos_ == "PROPN" or attr.head.i in self.ents
        subj_named = self._named(cl.subj) or cl.subj.head.i in self.subst
        out += self._year_of_kind(cl, attr, subj, be)
        for noun in _conjuncts(attr.head):
            out += self.relation_pairs(subj, cl.subject_answer, subj_person, be, noun)
            out += self._work_by(subj, be, noun)
        if attr_named and (not subj_named or cl.subj.head.pos_ == "NOUN"):
            # "The mayor of Varrowick is Odile Fanshaw": a description (its name only in a modifier) is a name
            ans, _ = self.answer(attr)
            role = cl.subj.head.pos_ == "NOUN" and cl.subj.head.lemma_.lower() in PERSON_NOUNS  # "the mayor of"
            wh = "Who" if role or self.is_person(attr.head) else "What"
            slot = f"attr-rev|{subj}"
            return [
                QA(_question(f"{wh} {be} {subj}"), ans, slot, "full"),
                QA(_question(f"{subj[:1].upper()}{subj[1:]} {be} {wh.lower()}"), ans, slot, "insitu"),
            ]
        if definite and not attr_named and len(desc.split()) <= 10:
            # "Odile Fanshaw is the mayor of Varrowick": who is the mayor of Varrowick?
            wh = "Who" if subj_person else "What"
            slot = f"attr-rev|{desc}"
            out += [
                QA(_question(f"{wh} {be_sg} {desc}"), cl.subject_answer, slot, "full"),
                QA(_question(f"{desc[:1].upper()}{desc[1:]} {be_sg} {wh.lower()}"), cl.subject_answer, slot, "insitu"),
            ]
            cat = self.index.category(cl.subject_answer)
            if cat and not subj_person:
                out.append(QA(_question(f"Which {cat} {be_sg} {desc}"), cl.subject_answer, slot, "category"))
        if not cl.mods and not attr_named and len(desc.split()) <= 12:
            # the description itself, only from undated copulas ("In 1979 he was a member ..." is no identity)
            wh = "Who" if subj_person else "What"
            slot = f"attr|{subj}"
            out.append(QA(_question(f"{wh} {be} {subj}"), desc, slot, "full"))
            if subj_person and attr.head.lemma_.lower() in PERSON_NOUNS:
                out.append(
                    QA(
                        _question(f"What {'was' if be == 'was' else 'is'} {possessive(subj)} occupation"),
                        desc,
                        slot,
                        "occupation",
                    )
                )
            out.append(QA(_question(f"{subj} {be} {'who' if subj_person else 'what'}"), desc, slot, "insitu"))
            if len(desc.split()) >= 3 and subj_named and not definite:
                # and back: "Who was a Hungarian film director and screenwriter?" -> Pál Gábor
                rslot = f"attr-rev|{desc}"
                out.append(QA(_question(f"{wh} {be} {desc}"), cl.subject_answer, rslot, "full"))
                if subj_person:
                    out.append(QA(_question(f"Name the person who {be} {desc}"), cl.subject_answer, rslot, "name"))
        norp = next(
            (
                c
                for c in attr.head.children
                if c.dep_ == "amod" and c.i in self.ents and self.ents[c.i].label_ == "NORP"
            ),
            None,
        )
        if norp is not None:
            slot = f"nationality|{subj}"
            out += [
                QA(_question(f"What nationality {be} {subj}"), norp.text, slot, "full"),
                QA(_question(f"{subj} {be} of what nationality"), norp.text, slot, "insitu"),
            ]
        return out


def participle(v) -> bool:
    """A participle without auxiliaries that modifies a noun or a clause ("a film directed by X and starring Y",
    "Born in Green Bay, Quinn ...")."""
    if (
        v.dep_ == "conj"
        and v.head.pos_ in ("VERB", "AUX")
        and not any(c.dep_ in ("aux", "auxpass") for c in v.children)
    ):
        return participle(v.head)
    return v.dep_ in ("acl", "advcl") and not any(c.dep_ in ("aux", "auxpass", "mark") for c in v.children)


# nouns a number names one of, when the parser makes the noun a compound of the number ("version 4.2.7")
_NUMBERED_NOUNS = {"version", "release", "port", "room", "platform", "gate", "bus", "route", "line", "bay", "step"}
_NUMBER_LIKE = re.compile(r"^#?\d[\w.]*$")  # 3.9, 20.1.0, 8080, #412


def which_phrase(noun_toks: list) -> str:
    """ "which version", "which greenhouse bay", "which HR": the noun as a question names it."""
    return "which " + " ".join(t.lower_ if t.is_title else t.text for t in noun_toks)


RANGE_ENDS = {"to", "until", "till", "through"}  # the words that close a range ("from 5 April to 26 April")


def _which_number(head, ents: dict):
    """(noun, number) of an argument that is a noun and the number saying which one it is: "port 9443" (the noun
    heads it) or "version 4.2.7" (parsed as a compound of the number); None for anything else. `ents`: token index
    -> entity (`Writer.ents`): a noun inside a name is no such noun."""
    nxt = head.doc[head.i + 1] if head.i + 1 < len(head.doc) else None
    if head.pos_ == "NOUN" and nxt is not None and numbered_noun(nxt) == head and head.i not in ents:
        return head, nxt
    prev = head.doc[head.i - 1] if head.i > 0 else None
    if (
        _NUMBER_LIKE.match(head.text)
        and prev is not None
        and prev.head == head
        and prev.dep_ == "compound"
        and prev.lower_ in _NUMBERED_NOUNS
    ):
        return prev, head
    return None


def numbered_noun(tok):
    """The noun a number right after it names one of ("version 20.1.0", "port 8080", "Python 3.9"), or None."""
    head = tok.head
    if tok.dep_ not in ("nummod", "appos", "npadvmod") or head.i != tok.i - 1 or not _NUMBER_LIKE.match(tok.text):
        return None
    return head if head.pos_ in ("NOUN", "PROPN") else None


def _anaphoric(head) -> bool:
    """ "left the club": a definite bare common noun refers back into the document; "entered service", "parted
    ways": a bare noun is part of the verb's idiom. Neither answers anything alone."""
    kids = [c for c in head.children if c.dep_ not in ("punct",)]
    return head.pos_ == "NOUN" and ([c.lower_ for c in kids] == ["the"] or not kids)


def _conjuncts(tok) -> list:
    """A noun and the nouns coordinated with it ("a model, former stripper, and ex-wife of X")."""
    out, stack = [], [tok]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(c for c in n.children if c.dep_ == "conj" and c.pos_ in ("NOUN", "PROPN"))
    return out


def _spread(variants: list[QA], limit: int) -> list[QA]:
    """At most `limit` phrasings of one asked part, taking each answer's full question first, then alternating
    ("When ..." and "In what year ..." both survive the cap)."""
    by_answer: dict[str, list[QA]] = {}
    for v in variants:
        by_answer.setdefault(v.answer + "|" + v.slot, []).append(v)
    out, queues = [], list(by_answer.values())
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


def symmetric_reverse(cl: Clause, qa_subject: str, obj_answer: str, writer: Writer) -> list[QA]:
    """ "Tobias Wren married Ilse Varga" is also a fact about Ilse Varga: "Whom did Ilse Varga marry?"."""
    if cl.verb.lemma_.lower() not in SYMMETRIC_VERBS or cl.tag not in _DO:
        return []
    do = _DO[cl.tag]
    q = _question(f"Whom {do} {obj_answer} {cl.verb.lemma_.lower()}")
    return [
        QA(q, qa_subject, f"sym|{cl.verb.lemma_}|{obj_answer}", "reverse"),
        QA(
            _question(f"Who {cl.verb.lower_} {obj_answer}"),
            qa_subject,
            f"subj|{cl.verb.lemma_}|{obj_answer}",
            "reverse",
        ),
    ]
