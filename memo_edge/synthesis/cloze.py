"""Cloze reflections: every name, number, code token and noun phrase of a sentence is asked at least once.

The typed questions (qgen) need a clause the parser read right; a version in a relative clause, a size in an
adverbial clause or a value in a table row is often read wrong and then never asked, so the memory learns it only
inside a statement's whole sentence. The safety net here needs no clause structure: a span that no pair of its
sentence answers becomes the blank of a short window of that sentence, asked with the document it comes from:

    What fills the blank in python-multipart: "once a file grows past ___, it is moved to a temporary file"? -> 1 MiB

The question is plainly a fill-in, never a malformed wh-question, and the answer is the span alone (a minimal
answer). Spans are tried in order (names, numbers and code tokens; lists; noun phrases); at most MAX_PER_SENTENCE
per sentence, none that overlaps one already taken, none whose text occurs twice in its window (an ambiguous blank).
"""

from __future__ import annotations

import re

from .codemask import is_placeholder
from .lexicon import VAGUE_HEADS
from .qgen import numbered_noun
from .text import normalize

MAX_PER_SENTENCE = 3
WINDOW = 16  # tokens of context around a blank: a question stays under the quality filter's 25 words
BLANK = "___"
_SKIP_LABELS = {"ORDINAL"}
_ARG_DEPS = {"dobj", "pobj", "attr", "nsubj", "nsubjpass", "appos", "oprd", "dative", "npadvmod", "ROOT", "conj"}
_CLAUSE_DEPS = {"ROOT", "advcl", "ccomp", "relcl", "xcomp", "conj", "acl", "pcomp", "csubj", "parataxis"}
_EDGE_POS = {"ADP", "DET", "CCONJ", "SCONJ", "AUX", "PART", "PRON"}  # words a clipped window does not end on
_OBJECTS = {"dobj", "attr", "oprd"}  # "returns a generator": a lone noun that is what the verb gives is worth asking
_DROP_LEAD = {"DT", "PRP$", "WDT", "WP$"}
_PRONOUNS = {"PRP", "PRP$", "WP", "WDT", "EX"}
_PRECONJ = {"both", "either", "neither"}  # "both HTTP/1.1 and HTTP/2": the list is the answer, not "both"


def _trim(toks: list) -> list:
    """A span without its leading determiner, possessive pronoun or preposition ("past 40 kg": the entity
    recognizer's span) and its edge punctuation."""
    while toks and (
        toks[0].tag_ in _DROP_LEAD or toks[0].is_punct or toks[0].pos_ == "ADP" or toks[0].lower_ in _PRECONJ
    ):
        toks = toks[1:]
    while toks and toks[-1].is_punct and not is_placeholder(toks[-1].text):
        toks = toks[:-1]
    return toks


def _with_unit(toks: list) -> list:
    """An amount is asked with its unit: "1" of "1 MiB" takes the noun it counts, "MiB" takes its number."""
    doc = toks[0].doc
    first, last = toks[0], toks[-1]
    if last.dep_ == "nummod" and last.head.i == last.i + 1 and last.head.pos_ in ("NOUN", "PROPN"):
        toks = toks + [last.head]
    nums = [c for c in first.lefts if c.dep_ == "nummod" and c.i == first.i - 1]
    if nums:
        toks = [doc[nums[0].i]] + toks
    return toks


def _named(toks: list) -> bool:
    return any(t.pos_ in ("PROPN", "NUM") or t.like_num or is_placeholder(t.text) for t in toks)


def spans(sent) -> list[tuple[list, bool]]:
    """Candidate answers of a sentence, best first, each with whether it blocks the spans inside it: coordinated
    lists ("HTTP/1.1 and HTTP/2", asked whole and member by member); entities, code tokens and numbers; noun phrases
    that are an argument of a verb or preposition (a lone common noun, "a file", only as the object: "returns a
    generator")."""
    out: list[tuple[list, bool]] = []
    for t in sent:
        conj = [c for c in t.children if c.dep_ == "conj"]
        if conj and _named([t]) and all(_named([c]) for c in conj):
            end = max(c.right_edge.i for c in conj)
            out.append((list(sent.doc[t.left_edge.i : end + 1]), False))
    for e in sent.ents:
        if e.label_ not in _SKIP_LABELS:
            out.append((_with_unit(list(e)), True))
    for t in sent:
        if is_placeholder(t.text) or (t.like_num and t.dep_ == "nummod"):
            out.append((_with_unit([t]), True))
    for nc in sent.noun_chunks:
        if nc.root.dep_ in _ARG_DEPS and nc.root.tag_ not in _PRONOUNS and nc.root.lower_ not in VAGUE_HEADS:
            nxt = sent.doc[nc.end] if nc.end < len(sent.doc) else None
            number = [nxt] if nxt is not None and numbered_noun(nxt) == nc.root else []
            out.append((list(nc) + number, True))  # "Python 3.9", "port 9443": the number is part of it
    out = [(_trim(x), b) for x, b in out]
    return [(s, b) for s, b in out if s and len(s) <= 8 and (len(s) > 1 or _named(s) or s[0].dep_ in _OBJECTS)]


def _clause(tok):
    """The verb that heads the clause a token is in."""
    while not (tok.pos_ in ("VERB", "AUX") and tok.dep_ in _CLAUSE_DEPS) and tok.head.i != tok.i:
        tok = tok.head
    return tok


def window(sent, toks: list) -> tuple[list, list]:
    """The tokens left and right of a span: the whole sentence when it is short, else the clause around the span,
    clipped to WINDOW tokens centred on it."""
    start, end = toks[0].i, toks[-1].i + 1
    lo, hi = sent.start, sent.end
    if hi - lo > WINDOW:
        head = _clause(toks[-1])
        if head.right_edge.i - head.left_edge.i < 8 and head.head.i != head.i:
            head = _clause(head.head)  # "once a file grows past 1 MiB": the clause it qualifies too
        lo, hi = max(lo, head.left_edge.i), min(hi, head.right_edge.i + 1)
    spare = max(0, WINDOW - (end - start))
    left = min(start - lo, max(spare // 2, spare - (hi - end)))
    right = min(hi - end, spare - left)
    doc = sent.doc
    before, after = list(doc[start - left : start]), list(doc[end : end + right])
    # a clipped window starts at a phrase ("kg, it is moved" starts inside "past 40 kg"), not after a conjunction
    while before and (before[0].left_edge.i < start - left or before[0].is_punct or before[0].pos_ == "CCONJ"):
        before = before[1:]
    while after and after[-1].pos_ in _EDGE_POS and end + right < sent.end:  # cut before its noun: "... which can in"
        after = after[:-1]
    return before, after


def _inside_a_word(toks) -> bool:
    """ "re-test", "self-hosted": the tokenizer splits a hyphenated word; a blank may not cut it ("re- ___")."""
    doc, first, last = toks[0].doc, toks[0], toks[-1]
    prev = doc[first.i - 1] if first.i > 0 else None
    nxt = doc[last.i + 1] if last.i + 1 < len(doc) else None
    return bool(
        (prev is not None and not prev.whitespace_ and "-" in (prev.text[-1:], first.text[:1]))
        or (nxt is not None and not last.whitespace_ and "-" in (last.text[-1:], nxt.text[:1]))
    )


def cloze_pairs(
    sent, render, topic: str, answered: set[str], only: set[str] | None = None
) -> list[tuple[str, str, str]]:
    """(question, answer, slot) for the spans of a sentence that no pair of it answers yet. `render(tokens,
    lower_first=...)` writes tokens as the writer does (pronouns resolved, placeholders kept); `answered` holds the
    normalized answers already made from this sentence and grows with the blanks asked here; `only`: ask only
    these answers (the reserve kept for spans whose wh-question may not survive, see extractive.generate)."""
    out: list[tuple[str, str, str]] = []
    taken: set[int] = set()
    for toks, blocks in spans(sent):
        if len(out) == MAX_PER_SENTENCE:
            break
        ids = {t.i for t in toks}
        answer = render(toks, lower_first=False)
        key = normalize(answer)
        if (
            not key
            or key in answered
            or ids & taken
            or answer.lower() in VAGUE_HEADS
            or (only is not None and key not in only)
            or _inside_a_word(toks)
        ):
            continue
        left, right = window(sent, toks)
        before = render(left, lower_first=True, strip=False).strip() if left else ""
        after = render(right, lower_first=False, strip=False).strip() if right else ""
        after = re.sub(r"[\s.;:,!]+$", "", after)
        context = f" {normalize(before)} {normalize(after)} "
        if f" {key} " in context or len((before + " " + after).split()) < 3:
            continue  # the blank would be ambiguous, or there is too little around it to ask by
        text = " ".join(x for x in (before, BLANK, after) if x).replace('"', "'")
        text = re.sub(r"\s+([,.;:!?%)])", r"\1", text)
        answered.add(key)
        taken |= ids if blocks else set()
        where = f" in {topic}" if topic else ""
        out.append((f'What fills the blank{where}: "{text}"?', answer, f"cloze|{key}|{normalize(text)}"))
    return out
