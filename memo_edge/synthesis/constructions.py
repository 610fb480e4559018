"""Constructions the clause writer does not read, declared as data: instructions and version floors.

READMEs and notes say much of what they know as instructions ("Send bug reports to X", "Use the --x option to
enable Y", "Install it with pip install z"): a verb with no subject, which the clause writer (qgen.py) skips. Each
construction here is a spaCy `DependencyMatcher` pattern plus question templates; `imperative_pairs` fills the
templates from the matched tokens, so adding a construction is adding a record (and its golden test in
tests/test_synthesis_constructions.py), not a method.

The common relation words for what a clause says ("What is the licence of X?") are phrasings.py's, written from the
typed facts of facts.py.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lemminflect import getInflection

from .text import as_question

# ---- instructions ------------------------------------------------------------------------------------------------
# a template's fields: {V} the verb ("send"), {Vn} its participle ("sent"), {obj} the object, {prep} the
# preposition, {pobj} its object, {purpose} the purpose clause ("enable iCal export"), {purpose_s} its verb in the
# third person ("enables iCal export"), {cat} the category noun of the object ("option").


@dataclass(frozen=True)
class Construction:
    name: str
    pattern: tuple  # DependencyMatcher pattern (dicts), node names as in the templates
    questions: tuple[str, ...]
    answer: str  # the node whose phrase answers
    preps: frozenset[str] = frozenset()  # the prepositions it applies to (empty: any)
    needs: tuple[str, ...] = ()  # template fields that must be non-empty ("cat")


_VERB = {"RIGHT_ID": "verb", "RIGHT_ATTRS": {"TAG": "VB", "DEP": "ROOT"}}
_OBJ = {"LEFT_ID": "verb", "REL_OP": ">", "RIGHT_ID": "obj", "RIGHT_ATTRS": {"DEP": "dobj"}}
_PREP = {"LEFT_ID": "verb", "REL_OP": ">", "RIGHT_ID": "prep", "RIGHT_ATTRS": {"DEP": "prep"}}
_POBJ = {"LEFT_ID": "prep", "REL_OP": ">", "RIGHT_ID": "pobj", "RIGHT_ATTRS": {"DEP": "pobj"}}
_PURPOSE = {"LEFT_ID": "verb", "REL_OP": ">", "RIGHT_ID": "purpose", "RIGHT_ATTRS": {"DEP": {"IN": ["xcomp", "advcl"]}}}
_PLACE_PREPS = frozenset({"to", "into", "in", "on", "at", "under"})
_TOOL_PREPS = frozenset({"with", "using", "via", "through"})

CONSTRUCTIONS: tuple[Construction, ...] = (
    # "Send bug reports to frob-bugs@example.org"
    Construction(
        "instruction-destination",
        (_VERB, _OBJ, _PREP, _POBJ),
        ("Where should {obj} {not_}be {Vn}?", "Where do you {V} {obj}?", "{Obj} should {not_}be {Vn} {prep} what?"),
        "pobj",
        preps=_PLACE_PREPS,
    ),
    # "Install it with `pip install frobnitz`"
    Construction(
        "instruction-means",
        (_VERB, _OBJ, _PREP, _POBJ),
        ("How do you {V} {obj}?", "What should you {V} {obj} {prep}?", "What is used to {V} {obj}?"),
        "pobj",
        preps=_TOOL_PREPS,
    ),
    # "Use the --with-ical configure option to enable iCal export"
    Construction(
        "instruction-purpose",
        (_VERB, _OBJ, _PURPOSE),
        ("What should you {not_}{V} to {purpose}?", "How do you {purpose}?", "Which {cat} {purpose_s}?"),
        "obj",
    ),
    # "Run make deploy before Friday", "Read the FAQ first": what the instruction is about
    Construction(
        "instruction-object",
        (_VERB, _OBJ),
        ("What should you {not_}{V}{rest}?", "What do you need to {V}{rest}?", "What must you {not_}{V}{rest}?"),
        "obj",
    ),
)
_OPTIONAL = {"rest", "not_"}
_LEADING_WORDS = {"please", "then", "also", "now", "always"}
_PRUNE = {"relcl", "acl", "advcl", "appos", "parataxis", "ccomp", "punct", "mark", "dep", "cc", "conj"}


@functools.lru_cache(maxsize=4)
def _matcher(vocab):
    from spacy.matcher import DependencyMatcher  # spaCy is the [synth] extra; nlp.parse has already imported it

    m = DependencyMatcher(vocab)
    for c in CONSTRUCTIONS:
        m.add(c.name, [list(c.pattern)])
    return m


def instruction(sent) -> str | None:
    """An imperative: the root is a bare verb that opens the sentence (after "Please" or an adverb) with no
    subject. Returns "" for an instruction, "not " for a prohibition ("Do not run X", "Don't", "Never run X"),
    None for any other sentence."""
    root = sent.root
    if root.tag_ != "VB" or any(c.dep_ in ("nsubj", "nsubjpass", "expl", "auxpass") for c in root.children):
        return None
    aux = [c for c in root.children if c.dep_ == "aux"]
    neg = [c for c in root.children if c.dep_ == "neg"]
    if aux and not (len(aux) == 1 and aux[0].lower_ == "do" and neg):
        return None
    lead = [t for t in sent if not t.is_punct and t.lower_ not in _LEADING_WORDS]
    opener = aux[0] if aux else (neg[0] if neg and neg[0].i < root.i else root)
    if not lead or lead[0].i != opener.i:
        return None
    return "not " if neg else ""


def _phrase(tok, render) -> str:
    toks = sorted(phrase_tokens(tok), key=lambda t: t.i)
    return render(toks)


def phrase_tokens(tok) -> list:
    out = [tok]
    for c in tok.children:
        if c.dep_ not in _PRUNE:
            out += phrase_tokens(c)
    return out


def _third_person(verb_phrase_toks: list, render) -> str:
    head = verb_phrase_toks[0]
    form = (getInflection(head.lemma_, "VBZ") or (head.text,))[0]
    rest = render(verb_phrase_toks[1:]) if len(verb_phrase_toks) > 1 else ""
    return f"{form} {rest}".strip()


def imperative_pairs(sent, render, category, answer_of) -> list[tuple[str, str, str]]:
    """(question, answer, construction name) for an instruction sentence. `render(tokens)` writes tokens with the
    document's substitutions ("it" -> the topic), `category(text)` gives a name's category noun, `answer_of(token)`
    the minimal answer for an argument's head."""
    negated = instruction(sent)
    if negated is None:
        return []
    out: list[tuple[str, str, str]] = []
    by_name = {c.name: c for c in CONSTRUCTIONS}
    for match_id, ids in _matcher(sent.doc.vocab)(sent.doc):
        c = by_name[sent.doc.vocab.strings[match_id]]
        nodes = {spec["RIGHT_ID"]: sent.doc[i] for spec, i in zip(c.pattern, ids)}
        prep = nodes.get("prep")
        if nodes["verb"].i != sent.root.i or (c.preps and (prep is None or prep.lower_ not in c.preps)):
            continue
        fields = {**_fields(nodes, render, category), "not_": negated}
        ans = answer_of(nodes[c.answer])
        if not ans:
            continue
        for q in c.questions:
            if negated and "{not_}" not in q:
                continue  # "Do not run X": only phrasings that keep the "not"
            if any(not fields.get(k) for k in re.findall(r"{(\w+)}", q) if k not in _OPTIONAL):
                continue  # "Which {cat} ...?" for an object with no category
            out.append((as_question(q.format(**fields)), ans, c.name))
    return out


def _fields(nodes: dict, render, category) -> dict[str, str]:
    verb = nodes["verb"]
    f = {
        "V": verb.lemma_.lower(),
        "Vn": (getInflection(verb.lemma_, "VBN") or (verb.text,))[0].lower(),
    }
    if "obj" in nodes:
        f["obj"] = _phrase(nodes["obj"], render)
        f["Obj"] = f["obj"][:1].upper() + f["obj"][1:]
        f["cat"] = category(render([nodes["obj"]])) or ""
        # the rest of the instruction after the object ("before Friday"), for the plain object question
        rest = [c for c in verb.children if c.dep_ in ("prep", "npadvmod", "advmod") and c.i > nodes["obj"].i]
        f["rest"] = "".join(" " + _phrase(r, render) for r in rest)
    if "prep" in nodes:
        f["prep"] = nodes["prep"].lower_
    if "purpose" in nodes:
        p = nodes["purpose"]
        if any(c.dep_ == "aux" and c.lower_ == "to" for c in p.children) and p.tag_ == "VB":
            toks = sorted(
                [t for t in phrase_tokens(p) if not (t.dep_ == "aux" and t.lower_ == "to")], key=lambda t: t.i
            )
            f["purpose"] = render(toks)
            f["purpose_s"] = _third_person(toks, render)
        else:
            f["purpose"] = f["purpose_s"] = ""
    return f


# ---- version floors ----------------------------------------------------------------------------------------------
# "supports Python 3.10 and higher", "Python 3.9 or newer", "requires Node 18+": the lowest version that works
VERSION_FLOOR = re.compile(
    r"\b(?P<name>[A-Z][\w.+-]*)\s+(?P<ver>\d+(?:\.\d+)+)\s*(?:\+|(?:and|or)\s+(?:higher|newer|later|above|greater|up)\b)"
)


def version_floor_pairs(text: str, topic: str) -> list[tuple[str, str, str]]:
    """(question, answer, slot) for each version floor a sentence states."""
    out = []
    for m in VERSION_FLOOR.finditer(text):
        name, answer = m.group("name"), f"{m.group('name')} {m.group('ver')}"
        if not topic or name.lower() == topic.lower():
            continue
        slot = f"version-floor|{topic}|{name}"
        for q in (
            f"What is the minimum {name} version for {topic}?",
            f"Which {name} version does {topic} need at least?",
            f"What {name} version does {topic} require?",
        ):
            out.append((q, answer, slot))
    return out
