"""Clauses from a dependency parse: what qgen.Writer asks questions about.

A clause is a verb with its subject (inherited through conjunctions, relative pronouns and reduced relatives "a
film directed by X"; a pronoun or "the company" named from the document's context), auxiliaries, negation, core
arguments (object, attribute, dative, measured adjective) and modifiers (prepositional phrases, the agent, bare
dates). Hypothetical clauses ("X could host the final") and clauses whose subject nothing names are skipped and
counted in the writer's `skipped`. The reader keeps no state of its own: entities, resolved pronouns and the
document context are the writer's (one per document), so the clauses and the questions share one reading.
"""

from __future__ import annotations

from .lexicon import PLACE_PREPS, VAGUE_HEADS
from .qgen import PRUNE_ARG, PRUNE_SUBJ, RANGE_ENDS, Arg, Clause, Writer, contiguous, participle, subtree
from .text import possessive

# hypothetical modals: "X could host the final" states no fact. Obligations ("must", "should", "shall") are the facts
# of instructions and notes ("The paperwork must reach Tobiah by 31 October"): asked with their modal kept
_MODALS = {"would", "could", "might", "may", "ought"}

_ADVICE_AUX = {"can", "ca", "will", "'ll", "’ll", "wo", "should", "must", "shall"}


def _advice(cl: Clause) -> bool:
    """A finite clause of what someone can, will or must do: an auxiliary modal ("can", "'ll", "should"), or
    "need to" / "have to"; not an infinitive ("allows you to define")."""
    if any(a.lower_ == "to" for a in cl.aux):
        return False
    if any(a.lower_ in _ADVICE_AUX for a in cl.aux):
        return True
    return cl.verb.lemma_ in ("need", "have") and bool(cl.xcomp) and cl.xcomp.startswith("to ")


_QUALIFIABLE_DETS = {"the", "this", "these", "our", "my"}

_DOCUMENT_NOUNS = {"document", "page", "readme", "guide", "manual", "note", "file", "release", "documentation"}

# "this library" in a README is the software the README is about: "the idna library", not "idna's library"
_SOFTWARE_NOUNS = {"library", "package", "module", "framework", "tool"}


def _under_place_prep(tok, top) -> bool:
    """Is `tok` inside a place preposition phrase below `top` (a flattened place of its own)?"""
    while tok.i != top.i and tok.head.i != tok.i:  # spaCy makes a new Token object per access: compare indices
        if tok.dep_ == "prep" and tok.lower_ in PLACE_PREPS:
            return True
        tok = tok.head
    return False


class ClauseReader:
    """The clauses of one writer's sentences."""

    def __init__(self, writer: Writer):
        self.w = writer

    def clauses(self, sent) -> list[Clause]:
        out = []
        for v in sent:
            if v.pos_ not in ("VERB", "AUX") or v.dep_ in ("aux", "auxpass"):
                continue
            cl = self._clause(v)
            if cl is not None:
                out.append(cl)
        return out

    def _skip(self, why: str) -> None:
        self.w.skipped[why] = self.w.skipped.get(why, 0) + 1

    def _subject(self, v):
        """The subject token, following conjunctions ("X founded A and moved to B"), relative clauses, reduced
        relatives ("a film directed by X"), participles ("Born in Green Bay, Quinn was ...") and appositions
        ("A highly touted prospect, Benson was drafted ...")."""
        subjects = [c for c in v.children if c.dep_ in ("nsubj", "nsubjpass")]
        subjects.sort(key=lambda c: not (c.pos_ == "PROPN" or c.i in self.w.ents))  # "A prospect, Benson, was ..."
        for c in subjects[:1]:
            if c.tag_ in ("WDT", "WP") or c.lower_ == "that":
                return self._antecedent(v, c) if v.dep_ == "relcl" else None
            return self._named_appos(c)
        if v.dep_ == "conj" and v.head.pos_ in ("VERB", "AUX"):
            return self._subject(v.head)
        if v.dep_ == "acl" and v.tag_ in ("VBN", "VBG"):
            return self._described(v.head)
        if v.dep_ == "advcl" and v.tag_ in ("VBN", "VBG") and not any(c.dep_ == "mark" for c in v.children):
            return next(
                (c for c in v.head.children if c.dep_ in ("nsubj", "nsubjpass") and c.tag_ not in ("WDT", "WP")), None
            )
        return None

    def _named_appos(self, tok):
        """ "A highly touted prospect, Benson, ...": the name in apposition is the better subject."""
        if tok.pos_ == "NOUN":
            for c in tok.children:
                if c.dep_ == "appos" and (c.pos_ == "PROPN" or c.i in self.w.ents):
                    return c
        return tok

    def _antecedent(self, v, rel):
        """What a relative pronoun stands for; "who" skips a place the parser attached it to
        ("a farmer from Appleton, Wisconsin who served ..." is about the farmer's subject)."""
        head = v.head
        if head.dep_ == "attr" and head.pos_ == "NOUN":  # "X is a footballer who plays for Y": X plays for Y
            return self._described(head)
        if rel.lower_ == "who" and not self.w.is_person(head):
            n = head
            while n.dep_ not in ("attr", "nsubj", "nsubjpass", "dobj", "ROOT") and n.head.i != n.i:
                n = n.head
            if n.dep_ == "attr":
                return self._described(n)
            return n if self.w.is_person(n) else None
        return head

    def _described(self, noun):
        """ "a film directed by X": the film is the clause's subject; if the film is what a copula says its subject
        is ("Free Guy is a film directed by X"), the subject is Free Guy."""
        if noun.dep_ == "attr" and noun.head.lemma_ == "be":
            for c in noun.head.children:
                if c.dep_ == "nsubj":
                    return c
        return noun

    def _clause(self, v) -> Clause | None:
        subj = self._subject(v)
        if subj is None:
            return None
        aux = [c for c in v.children if c.dep_ in ("aux", "auxpass") and c.i < v.i]
        if not aux and v.dep_ == "conj":
            aux = [c for c in v.head.children if c.dep_ in ("aux", "auxpass") and c.i < v.head.i]
            if v.tag_ != "VBN":
                aux = []
        neg = next((c.lower_ for c in v.children if c.dep_ == "neg"), "")
        if subj.lower_ == "you" and any(c.dep_ == "mark" and c.lower_ in ("if", "unless") for c in v.children):
            self._skip("condition")  # "If you want to replace X, ...": what the reader might want, no fact
            return None
        if any(a.lower_ in _MODALS for a in aux) or (neg and (v.lemma_ == "be" or not aux and neg != "never")):
            self._skip("modal clause or negated copula")
            return None
        passive = (
            any(c.dep_ == "auxpass" for c in v.children)
            or (participle(v) and v.tag_ == "VBN")
            or (v.dep_ == "conj" and v.tag_ == "VBN" and any(a.dep_ == "auxpass" for a in aux))
        )
        tag = v.tag_
        if participle(v) and v.tag_ in ("VBN", "VBG"):
            aux = []
            # "a film starring X": X is what the film stars; "Working at Y, she ..." takes her verb's tense
            tag = ("VBZ" if v.dep_ != "advcl" else v.head.tag_) if v.tag_ == "VBG" else tag
        if not aux and tag in ("VBN", "VBG") and not passive:
            return None
        copula = v.lemma_ == "be" and not passive
        core, mods = self._args(v, copula)
        xcomp = ""
        if copula:
            mods += self._attr_places(core)
        if not core and not mods:
            core, mods = self._shared_args(v)
        x = next((c for c in v.children if c.dep_ == "xcomp" and c.tag_ in ("VB", "VBG")), None)
        if not core and not mods and x is not None and not copula:
            # "began hosting on 14 September 2015", "decided to build a bridge": the complement's arguments
            core, mods = self._args(x, False)
            to = "to " if any(c.dep_ == "aux" and c.lower_ == "to" for c in x.children) else ""
            xcomp = f"{to}{x.lower_}"
        if not core and not mods:
            return None
        cl = Clause(
            v,
            Arg("subj", subj, None, self.w.phrase(subj, PRUNE_SUBJ)),
            aux,
            passive,
            copula,
            [c for c in v.children if c.dep_ == "prt"],
            core,
            mods,
            tag=tag,
            xcomp=xcomp,
            neg=neg,
        )
        if not self._name_subject(cl):
            self._skip("vague subject")
            return None
        return cl

    def _args(self, v, copula: bool) -> tuple[list[Arg], list[Arg]]:
        """A verb's core arguments (object, attribute, dative, measured adjective) and modifiers."""
        core, mods = [], []
        for c in v.children:
            if c.dep_ in ("dobj", "attr", "dative", "oprd") or (c.dep_ == "acomp" and copula):
                core.append(Arg(c.dep_, c, None, self.w.phrase(c, PRUNE_ARG)))
            elif c.dep_ in ("prep", "agent"):
                pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
                inner = next((g for g in c.children if g.dep_ == "prep"), None) if pobj is None else None
                if inner is not None:  # "as of 2021", "out of ...": a two-word preposition
                    pobj = next((g for g in inner.children if g.dep_ == "pobj"), None)
                if pobj is not None:
                    toks = self.w.phrase(pobj, PRUNE_ARG)
                    # "from 5 April to 26 April": the range's end hangs on its start; each end is an argument
                    ends = [*pobj.children, *c.children]  # the parser hangs "to" on the start or on "from"
                    end = next((g for g in ends if g.dep_ == "prep" and g.lower_ in RANGE_ENDS), None)
                    end_obj = next((g for g in end.children if g.dep_ == "pobj"), None) if end is not None else None
                    if c.lower_ == "from" and end_obj is not None:
                        toks = [t for t in toks if not end.i <= t.i <= end.right_edge.i]
                        mods.append(Arg("prep", end_obj, end, self.w.phrase(end_obj, PRUNE_ARG)))
                    mods.append(
                        Arg(
                            "agent" if c.dep_ == "agent" else "prep",
                            pobj,
                            c,
                            toks,
                            f"{c.lower_} {inner.lower_}" if inner is not None else "",
                        )
                    )
            elif c.dep_ == "npadvmod" and c.i in self.w.ents and self.w.ents[c.i].label_ == "DATE":
                mods.append(Arg("npadv", c, None, list(self.w.ents[c.i])))
        # "by 30 September every year": one DATE entity holds the pobj and the npadvmod; it is one argument
        held = {t.i for a in core + mods if a.role != "npadv" for t in a.toks}
        return core, [a for a in mods if a.role != "npadv" or not held & {t.i for t in a.toks}]

    def _shared_args(self, v) -> tuple[list[Arg], list[Arg]]:
        """ "written, directed and edited by X": the first verbs share the last one's object and agent."""
        last = v
        while True:
            nxt = [c for c in last.children if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") and c.tag_ == v.tag_]
            if not nxt:
                break
            last = nxt[0]
        if last.i == v.i:
            return [], []
        core, mods = [], []
        for c in last.children:
            if c.dep_ in ("dobj",):
                core.append(Arg(c.dep_, c, None, self.w.phrase(c, PRUNE_ARG)))
            elif c.dep_ == "agent":
                pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
                if pobj is not None:
                    mods.append(Arg("agent", pobj, c, self.w.phrase(pobj, PRUNE_ARG)))
        return core, mods

    def _attr_places(self, core: list[Arg]) -> list[Arg]:
        """ "X is a cave in the municipality of Dauis on Panglao Island": the places belong to X."""
        out = []
        for a in core:
            if a.role != "attr" or not any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in a.head.children):
                continue
            stack = [a.head]
            while stack:
                n = stack.pop()
                for c in n.children:
                    if c.dep_ == "prep" and (c.lower_ in PLACE_PREPS or c.lower_ in ("from", "with")):
                        pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
                        if pobj is not None:
                            toks = [t for t in subtree(pobj, PRUNE_ARG) if not _under_place_prep(t, pobj)]
                            out.append(Arg("prep", pobj, c, toks))
                            stack.append(pobj)
                    elif c.dep_ == "prep" and c.lower_ == "of":
                        stack.extend(g for g in c.children if g.dep_ == "pobj")
            if out:
                drop = {t.i for m in out for t in [m.prep, *m.toks]}
                a.toks = [t for t in a.toks if t.i not in drop and not (t.dep_ == "prep" and t.lower_ in PLACE_PREPS)]
                a.toks = contiguous(a.toks)
        return out

    def _name_subject(self, cl: Clause) -> bool:
        """Resolve the subject to something a question can name; False when it stays vague."""
        head = cl.subj.head
        stand = self.w.ctx.stand_in(head)
        if stand:
            self.w.subst[head.i] = stand
            if head.pos_ == "NOUN":  # "the parser" -> "Python-Multipart", not "the Python-Multipart"
                self.w.subst.update({c.i: "" for c in head.children if c.dep_ == "det" and c.i < head.i})
            cl.subj.toks = [head]
            cl.subject_text = cl.subject_answer = stand
            return True
        toks = cl.subj.toks
        proper = self.w.has_name(toks)
        if not proper:  # "The largest municipality by population in Georgia": the name is in its modifiers
            full = contiguous(subtree(head, PRUNE_ARG))
            if any(t.pos_ == "PROPN" or t.i in self.w.ents for t in full):
                toks = cl.subj.toks = full
                proper = True
        if len(toks) > 12:
            return False
        if head.lower_ == "you" and len(toks) == 1 and self.w.ctx.topic and _advice(cl):
            # "you'll have to override _wrap_chunks()": what the reader of the document can or must do, asked in it
            # ("In textwrap, what will you have to override?"); "you" is never an answer
            cl.subject_text = cl.subject_answer = "you"
            return True
        if head.lower_ in VAGUE_HEADS or (not proper and head.pos_ in ("PRON", "DET")):
            return False
        if (
            not proper
            and not any(t.text[:1].isdigit() for t in toks)
            and not self._qualify(head, toks)
            and not self._bare_kind(head, toks)
        ):
            return False  # "the couple", "the company", "half": not answerable without the document
        for t in toks:  # possessives inside the subject: "His films" -> "Pál Gábor's films"
            if t.tag_ == "PRP$" and t.lower_ in ("his", "her", "its", "their"):
                who = self.w.ctx.stand_in(t)
                if not who:
                    return False
                self.w.subst[t.i] = who + "'s"
        cl.subject_text = self.w.render(toks)
        cl.subject_answer = self.w.answer(cl.subj)[0]
        self._possessives(cl)
        return True

    def _qualify(self, head, toks: list) -> bool:
        """A definite description that only the document can name ("the tests", "this document") is named by
        the document's topic: "Frobnitz's tests", "the Frobnitz document" (notes and READMEs talk this way)."""
        topic = self.w.ctx.topic
        det = next((c for c in head.children if c.dep_ in ("det", "poss") and c.i < head.i), None)
        if (
            not topic
            or det is None
            or det.lower_ not in _QUALIFIABLE_DETS
            or head.pos_ != "NOUN"
            or head.lower_ in VAGUE_HEADS
            or len(toks) > 6
            or any(t.tag_ in ("PRP", "WP", "WDT") for t in toks)
        ):
            return False
        if any(t.lower_ == topic.lower() for t in toks):  # "the dateutil module" names itself
            return True
        if not self.w.ctx.topic_nameable:
            # a title that is no name ("To-do — week of 7 April"): the description stays as written and the
            # sentence's questions are asked in their document ("In To-do — week of 7 April, what does the cutover
            # freeze cover?"); "my laptop" stays vague
            if det.lower_ not in ("the", "this", "these"):
                return False
            self.w.subst[det.i] = "the"
            self.w.in_document = True
            return True
        if head.lemma_.lower() in _DOCUMENT_NOUNS | _SOFTWARE_NOUNS:
            self.w.subst[det.i] = "the"
            self.w.subst[head.i] = f"{topic} {head.text}"
        else:
            self.w.subst[det.i] = possessive(topic)
        return True

    def _bare_kind(self, head, toks: list) -> bool:
        """ "Tax return paperwork has to reach him by 31 October", "Expense claims older than 60 days are rejected":
        a noun phrase of two words or more with no determiner names a kind of thing, not one the document must
        name. A lone plural ("Logs go to ~/.local/state/app.log") is one of its document's: the sentence's questions
        are asked in the document ("In photosort, where do logs go?"); with no document to name it stays vague."""
        if head.pos_ != "NOUN" or len(toks) > 8 or head.lower_ in VAGUE_HEADS:
            return False
        if len(toks) == 1:
            if head.tag_ != "NNS" or head.dep_ != "nsubj" or not self.w.ctx.topic or any(head.children):
                return False
            self.w.in_document = True
        if head.dep_ not in ("nsubj", "nsubjpass"):
            return False  # "powered by diesel engines built by X": the Petrel's engines, not engines in general
        if any(c.dep_ in ("det", "poss") for c in head.children) or any(t.tag_ in ("PRP", "WP", "WDT") for t in toks):
            return False
        first = toks[0]
        if first.i == first.sent.start and first.pos_ != "PROPN" and first.text[:1].isupper():
            self.w.subst[first.i] = first.text[:1].lower() + first.text[1:]  # the sentence's capital, not a name's
        return True

    def _possessives(self, cl: Clause) -> None:
        """ "won awards for her films" -> "for Ann Hui's films" (unresolved ones are caught by the filter)."""
        for a in cl.core + cl.mods:
            for t in a.toks:
                if t.tag_ == "PRP$" and t.i not in self.w.subst:
                    who = self.w.ctx.stand_in(t)
                    if who:
                        self.w.subst[t.i] = possessive(who)
