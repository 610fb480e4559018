"""Questions asked in place: the safety net under the clause rules of qgen.Writer.

Every name, date, amount or plain noun phrase of a sentence that no clause rule asked about is asked with its
wh-word where it stands ("Payment on Demand is a 1951 drama film directed by whom?"), in the whole sentence, in the
clause around it and in the minimal clause (subject, verb, the one phrase that holds it). Echo questions read less
naturally than inverted ones (hand-read: 37% of 73 were correct and well formed, against 60% of the inverted), but
the fact is learned rather than lost. A name in apposition after a comma is asked as what its noun phrase is
("What was Drossel Dynamics' first harbour robot?") instead.

The writer (one per document) keeps the parse state: entities, resolved pronouns, the corpus index; InSitu asks
through it.
"""

from __future__ import annotations

import re

from .lexicon import CURRENCY_NOUNS, PERSON_NOUNS, VAGUE_HEADS
from .qgen import (
    APPROX,
    NUMERIC_LABELS,
    PRUNE_ARG,
    YEAR,
    QA,
    Writer,
    contiguous,
    subtree,
    which_phrase,
    numbered_noun,
)
from .text import as_question as _question
from .text import normalize as _norm

MAX_CHUNK_QUESTIONS = 4  # plain noun phrases asked in place per sentence (names, dates and amounts: all)

_DEICTIC = {
    "today",
    "now",
    "yesterday",
    "tomorrow",
    "currently",
    "recently",
    "next year",
    "last year",
    "this year",
    "the next decade",
    "next decade",
    "the time",
    "once",
    "annually",
    "daily",
    "weekly",
}

_SHARES_SUBJECT = {"xcomp", "pcomp", "conj"}

_ARGUMENT_DEPS = {"nsubj", "nsubjpass", "dobj", "pobj", "attr"}

_COMPARED = re.compile(r"^(?:older|newer|younger|more|less|fewer|longer|shorter)\s+than\b", re.I)

_CONDITIONS = {"if", "unless", "whether", "although", "though"}


def _has_subject(v) -> bool:
    return any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in v.children)


def _subject_verb(tok):
    """The nearest verb above a token, lifted through complements that share their subject ("left to join")."""
    v = tok
    while v.pos_ not in ("VERB", "AUX") and v.head.i != v.i:
        v = v.head
    if v.pos_ not in ("VERB", "AUX"):
        return None
    while v.dep_ in _SHARES_SUBJECT and v.head.pos_ in ("VERB", "AUX") and not _has_subject(v):
        v = v.head
    return v


def _conditional(tok) -> bool:
    """The token is in a clause that is only a condition or concession of its sentence ("if Ravindra is off
    sick"): its nearest verb, or one above it, has such a subordinator."""
    while True:
        if tok.pos_ in ("VERB", "AUX") and any(c.dep_ == "mark" and c.lower_ in _CONDITIONS for c in tok.children):
            return True
        if tok.head.i == tok.i or tok.dep_ in ("ROOT", "conj"):
            return False
        tok = tok.head


def _name_span(e):
    """An entity grown over adjacent proper nouns: the small model often labels "Lorcan Thessaly" as two."""
    if e.label_ in NUMERIC_LABELS:
        return e
    doc, start, end = e.doc, e.start, e.end
    while start > e.sent.start and doc[start - 1].pos_ == "PROPN":
        start -= 1
    while end < e.sent.end and doc[end].pos_ == "PROPN":
        end += 1
    if (start, end) == (e.start, e.end):
        return e
    span = doc[start:end]
    span.label_ = e.label_
    return span


class InSitu:
    """The in-place questions of one writer's sentences."""

    def __init__(self, writer: Writer):
        self.w = writer

    def pairs(self, sent, answered: set[str]) -> list[QA]:
        """The safety net: every name, date or amount of a sentence that no rule above asked about is asked in
        place ("Payment on Demand is a 1951 drama film directed by whom?"), in the whole sentence and in the
        clause around it. Echo questions read less naturally, but the fact is learned rather than lost."""
        out: list[QA] = []
        if len(sent) > 60:
            return out
        self.w.resolve_pronouns(sent)
        for e in sent.ents:
            e = _name_span(e)
            if len(e) > 1 and e[-1].tag_ == "POS":  # "Gerald Quell's": the name, its possessive asked as "whose"
                e = e.doc[e.start : e.end - 1]
            region = (
                e.root.dep_ == "appos"
                and e.root.head.i in self.w.ents
                and self.w.ents[e.root.head.i].label_ in ("GPE", "LOC")
            )  # "Pulaski, Wisconsin": the place is Pulaski
            glued = e.end < len(sent.doc) and not e[-1].whitespace_ and sent.doc[e.end].text in ("-", "–")
            if (
                e.label_ in ("ORDINAL",)
                or glued  # "Python 2-compatible": the number is part of a word
                or region
                or (e.root.dep_ == "compound" and e.root.head.pos_ == "NOUN")
                or any(t.i in self.w.subst for t in e)
            ):
                continue
            if e.label_ == "DATE" and _COMPARED.match(e.text):  # "older than 60 days": older than how many days
                amount = e.doc[e.start + 2 : e.end]
                if len(amount) == 2 and amount[0].like_num and amount[1].tag_ == "NNS" and _norm(amount.text):
                    if _norm(amount.text) not in answered:
                        answered.add(_norm(amount.text))
                        out += self._questions(sent, amount, f"how many {amount[1].lower_}", amount.text)
                continue
            named = numbered_noun(e.root) if e.label_ in NUMERIC_LABELS else None
            if named is not None:  # "version 20.1.0", "port 8080": the number says which version, port
                if named.pos_ == "PROPN" or named.i in self.w.ents or _norm(e.text) in answered:
                    continue  # "Python 3.9": the name's version, asked with its name (_unlabelled_names)
                if named.dep_ not in _ARGUMENT_DEPS:
                    continue  # "Breakfast included; room 6": no clause to ask it in
                answered.add(_norm(e.text))
                span = sent.doc[named.i : e.end]
                out += self._questions(sent, span, which_phrase([named]), e.text)
                continue
            ans = re.sub(r"^[Tt]he\s+", "", e.text)
            if e.label_ in NUMERIC_LABELS:  # "about 9,000" answers "how many" with "9,000"
                ans = " ".join(w for w in ans.split() if w.lower() not in APPROX)
            if e.label_ == "CARDINAL" and e.root.head.lemma_.lower() in CURRENCY_NOUNS and e.root.dep_ == "nummod":
                e = e.doc[e.start : e.root.head.i + 1]  # "18,500" of "18,500 euros" is an amount of money
                e.label_ = "MONEY"
                ans = e.text
            if not _norm(ans) or _norm(ans) in answered or ans.lower() in VAGUE_HEADS:
                continue
            answered.add(_norm(ans))
            wh = self._wh(e)
            if not wh:
                continue
            out += self._questions(sent, e, wh, ans)
        out += self._unlabelled_names(sent, answered)
        chunks = 0
        for nc in sent.noun_chunks:  # plain noun phrases too: "a drummer", "pubs, bars and restaurants"
            root = nc.root
            if (
                chunks >= MAX_CHUNK_QUESTIONS
                or root.dep_ not in ("dobj", "pobj", "attr")
                or root.pos_ != "NOUN"
                or any(t.i in self.w.ents for t in nc)
                or not 1 <= len(nc) <= 6
                or root.lower_ in VAGUE_HEADS
                or any(t.tag_ in ("PRP", "PRP$", "WP", "WDT") for t in nc)
            ):
                continue
            if len(nc) == 2 and nc[0].lower_ == "the":
                continue  # "the club": refers back into the document, no answer on its own
            ans = re.sub(r"^(?:the|a|an|The|A|An)\s+", "", nc.text)
            nxt = sent.doc[nc.end] if nc.end < len(sent.doc) else None
            if nxt is not None and numbered_noun(nxt) == root:  # "in version 20.1.0": which version
                if nxt.i in self.w.ents or _norm(nxt.text) in answered or root.dep_ not in _ARGUMENT_DEPS:
                    continue
                answered.add(_norm(nxt.text))
                chunks += 1
                which = which_phrase([t for t in nc if t.dep_ != "det"])
                out += self._questions(sent, sent.doc[nc.start : nxt.i + 1], which, nxt.text)
                continue
            if _norm(ans) in answered:
                continue
            answered.add(_norm(ans))
            chunks += 1
            wh = "whom" if root.lemma_.lower() in PERSON_NOUNS and root.dep_ != "attr" else "what"
            out += self._questions(sent, nc, wh, ans)
        return out

    def _unlabelled_names(self, sent, answered: set[str]) -> list[QA]:
        """Names the entity recognizer missed ("to join Championship side Barnsley"): the run of proper nouns that
        ends a noun phrase is asked in place like an entity."""
        out: list[QA] = []
        for nc in sent.noun_chunks:
            root = nc.root
            if root.pos_ != "PROPN" or root.i in self.w.ents or any(t.i in self.w.subst for t in nc):
                continue
            start = root.i
            while start > nc.start and sent.doc[start - 1].pos_ == "PROPN" and start - 1 not in self.w.ents:
                start -= 1
            end = root.i + 1
            while end < len(sent.doc) and numbered_noun(sent.doc[end]) == root:
                end += 1  # "Python 3.9", "RFC 7230": the number is part of the name
            span = sent.doc[start:end]
            ans = span.text
            if len(span) > 5 or not _norm(ans) or _norm(ans) in answered:
                continue
            answered.add(_norm(ans))
            cat = self.w.index.category(ans)
            wh = ("who" if root.dep_ in ("nsubj", "nsubjpass") else "whom") if self.w.is_person(root) else None
            out += self._questions(sent, span, wh or (f"which {cat}" if cat else "what"), ans)
        return out

    def _questions(self, sent, span, wh: str, ans: str) -> list[QA]:
        """The sentence, the clause and the minimal clause (subject, verb, the one phrase that holds the answer)
        with the answer replaced; whatever is short enough to be a question someone would ask."""
        if (ident := self._appositive_identity(span, ans)) is not None:
            return [ident]
        out = []
        # "if Ravindra is out sick": a condition asked without its sentence reads as a fact ("Who is out sick?")
        conditional = _conditional(span.root)
        minimal = self._minimal_toks(span)
        for scope, variant in ((list(sent), "sentence"), (self._clause_span(span), "clause"), (minimal, "minimal")):
            if not scope or len(scope) < 4 or len(scope) > 24 or self._vague_scope(scope, span):
                continue
            if conditional and variant != "sentence":
                continue
            q = self._replace(scope, span, wh)
            if q and not any(x.question == q for x in out):
                out.append(QA(q, ans, f"insitu|{_norm(q)}", variant))
        return out

    def _appositive_identity(self, span, ans: str) -> QA | None:
        """ "launched its first harbour robot, the Skua H5": the name is what the noun phrase is ("What was Drossel
        Dynamics' first harbour robot?"), not a place in the sentence ("... first harbour robot, which place?")."""
        root, head = span.root, span.root.head
        if not self.w.comma_appos(root, span.start) or head.pos_ != "NOUN" or head.i > span.start:
            return None
        if any(ch.isdigit() for ch in ans) and not any(ch.isalpha() for ch in ans):
            return None  # "11.0 km, 1:08:15" in a log: a reading, not a name
        # "the"/"its" X: one thing the sentence names ("a harbour robot, the Skua H5" is one of many; "our vendor"
        # is the writer's)
        if not any(
            (c.dep_ == "det" and c.lower_ == "the") or (c.dep_ == "poss" and c.lower_ not in ("our", "my", "your"))
            for c in head.children
        ):
            return None
        noun = self.w.render(contiguous(subtree(head, PRUNE_ARG)))
        if len(noun.split()) < 2:
            return None  # "the robot": refers back into the document
        be = "was" if head.head.tag_ == "VBD" else "is"
        wh = "Who" if self.w.is_person(root) or head.lemma_.lower() in PERSON_NOUNS else "What"
        return QA(_question(f"{wh} {be} {noun}"), ans, f"appos|{_norm(noun)}", "insitu")

    def _minimal_toks(self, span) -> list:
        """Subject + auxiliaries + verb + the verb's dependent that contains `span`, pruned of other clauses."""
        v = _subject_verb(span.root)  # "left to join X": the minimal clause is "Hammill left to join X"
        if v is None or span.root.pos_ in ("VERB", "AUX"):
            return []
        child = span.root  # the verb's dependent that holds the span
        while child.head.i != v.i:
            child = child.head
        subj = next((c for c in v.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subj is None or subj.tag_ in ("WDT", "WP"):
            return []
        keep = set(subtree(child, PRUNE_ARG - {"punct"}))
        keep |= (
            set(subtree(subj, PRUNE_ARG)) | {v} | {c for c in v.children if c.dep_ in ("aux", "auxpass", "prt", "neg")}
        )
        for c in v.children:  # the object stays ("pursued a solo career"), or the question loses its verb's sense
            if c.dep_ in ("dobj", "attr", "acomp", "oprd") and c.i != child.i:
                keep |= set(subtree(c, PRUNE_ARG | {"prep"}))
        keep |= set(span)
        return sorted(keep, key=lambda t: t.i)

    def _wh(self, e) -> str | None:
        prev = e.doc[e.start - 1] if e.start > 0 else None
        prep = prev.lower_ if prev is not None and prev.dep_ == "prep" else ""
        label = e.label_
        if label not in ("CARDINAL", "ORDINAL") and not any(ch.isdigit() or ch.isupper() for ch in e.text):
            return None  # "an annual award" (DATE), "a non-zero status" (NORP): the recognizer's guess, no name
        if label == "PERSON" or self.w.is_person(e.root):
            return "who" if e.root.dep_ in ("nsubj", "nsubjpass") else "whom"
        if label == "DATE":
            if _COMPARED.match(e.text):
                return None  # "claims older than 60 days": an age, no date ("Expense claims what date are ...?")
            if e.root.dep_ == "nummod" and e.root.head.tag_ == "NNS":
                return "how many"  # "a maximum of 1548 adult male inmates": a count the tagger took for a year
            if e.text.lower() in _DEICTIC:
                return None
            return "what year" if YEAR.match(e.text) else "what date"
        if label == "TIME":
            return "what time"
        if label in ("MONEY",):
            return "how much"
        if label in ("CARDINAL",):
            if e.root.dep_ == "nummod" and e.root.head.tag_ == "NNS":
                return "how many"
            return None if e.root.dep_ in ("nummod", "compound", "amod") else "what number"  # "a three piece band"
        if label in ("QUANTITY", "PERCENT"):
            return "how much"
        if label == "NORP":
            return "what nationality" if e.root.dep_ == "amod" else "which group"
        cat = self.w.index.category(e.text)
        if cat:
            return f"which {cat}"
        if label in ("GPE", "LOC", "FAC"):
            return "where" if prep in ("in", "at") else "which place"
        if label == "ORG":
            return "which organization"
        return "what"

    def _vague_scope(self, scope, span) -> bool:
        """A clause whose subject needs the document ("the couple moved to ...") or that has no subject or
        finite verb at all ("Then owned by ...", "Including ...") asks nothing on its own."""
        idx = {t.i for t in scope}
        roots = [t for t in scope if t.head.i not in idx or t.head.i == t.i]
        root = roots[0] if roots else scope[0]
        subj = next((c for c in root.children if c.dep_ in ("nsubj", "nsubjpass", "expl")), None)
        finite = any(t.tag_ in ("VBD", "VBZ", "VBP", "MD") for t in scope)
        if subj is None or not finite:
            return True
        if span.start <= subj.i < span.end:
            return False
        named = self.w.has_name(subtree(subj, PRUNE_ARG))
        return not named and not any(t.text[:1].isdigit() for t in subtree(subj, PRUNE_ARG))

    def _clause_span(self, e) -> list:
        """The clause that holds the entity: the subtree of its nearest verb with a subject, if contiguous
        ("left to join Championship side Barnsley": the clause of "left", whose subject "join" shares)."""
        v = _subject_verb(e.root)
        if v is None:
            return []
        toks = subtree(v, {"advcl", "parataxis", "ccomp"} if v.dep_ not in ("advcl", "ccomp") else set())
        if toks[-1].i - toks[0].i + 1 != len(toks):
            return []
        return toks

    def _replace(self, scope: list, e, wh: str) -> str | None:
        """`scope` (tokens) with entity `e` replaced by `wh` ("in Coolgardie" -> "where" drops its preposition)."""
        start = e.start
        first, last = scope[0].i, scope[-1].i
        if wh == "where" and start > first and e.doc[start - 1].lower_ in ("in", "at"):
            start -= 1
        if e.start > first and e.doc[e.start - 1].lower_ in ("the", "a", "an"):  # "at a how much?"
            start = min(start, e.start - 1)
        # "by architects Buechner & Orth" -> "by whom": the name's own modifiers go with it
        mods = [c.i for c in e.root.children if c.dep_ in ("compound", "amod", "det", "nmod") and c.i < e.start]
        if mods and wh not in ("how many", "how much"):
            start = min(start, *mods)
        end = e.end
        if end <= last and e.doc[end].tag_ == "POS" and wh not in ("when", "where", "how many", "how much"):
            wh, end = "whose", end + 1  # "based on Gerald Clarke's biography" -> "based on whose biography"
        before = self.w.render([t for t in scope if t.i < start], strip=False) if start > first else ""
        after = self.w.render([t for t in scope if t.i >= end], strip=False) if end <= last else ""
        if not before and not after:
            return None
        q = f"{before} {wh} {after}".strip()
        return _question(q.rstrip(".!;:, "))
