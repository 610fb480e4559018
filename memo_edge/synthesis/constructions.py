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

from .codemask import PATTERN as PLACEHOLDER
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


# ---- noun phrases ------------------------------------------------------------------------------------------------
# Notes and logs state much in noun phrases with no clause around them: "The Quillon Data account manager, Marten
# Oyelaran, may call", "Logger gateway IP 10.12.0.50, MQTT topic soil/bay3/#", "connect to host brid-offsite port
# 2222". Declared like the instructions: a pattern (DependencyMatcher for appositions, token Matcher for a label
# followed by its value) and question templates. {role}: the role noun phrase, {label}: the label's noun run
# ("MQTT topic"), {topic}: the document's subject, {who}: "Who" for a person, else "What".

# label nouns whose next token is their value ("port 2222", "region eu-west-2"): a closed list, since "squat 3x5"
# or "chapter 3 of" are no label and value
LABELS = frozenset(
    "port host hostname ip address topic region zone bucket branch tag commit version release build ref reference "
    "key id code number ticket issue pr invoice order account room gate seat platform flight extension channel "
    "queue database table path file directory folder command option setting flag endpoint url domain server "
    "node cluster namespace image page".split()
)


# what follows a label ("port 2222", "(version 7)"): a code token's placeholder or a number-like token
_LABELLED_VALUE = rf"{PLACEHOLDER}|\d[\w./:-]*"


@dataclass(frozen=True)
class NounPhrase:
    name: str
    pattern: tuple  # DependencyMatcher pattern ("dep") or token Matcher pattern ("tokens")
    kind: str  # "dep" | "tokens"
    questions: tuple[str, ...]


NOUN_PHRASES: tuple[NounPhrase, ...] = (
    # "The Quillon Data account manager, Marten Oyelaran, may call"
    NounPhrase(
        "role-then-name",
        (
            {"RIGHT_ID": "role", "RIGHT_ATTRS": {"POS": "NOUN"}},
            {"LEFT_ID": "role", "REL_OP": ">", "RIGHT_ID": "name", "RIGHT_ATTRS": {"DEP": "appos", "POS": "PROPN"}},
        ),
        "dep",
        ("{Who} is the {role}?", "The {role} is {who}?"),
    ),
    # "Marten Oyelaran, the account manager at Quillon Data, may call"
    NounPhrase(
        "name-then-role",
        (
            {"RIGHT_ID": "name", "RIGHT_ATTRS": {"POS": "PROPN"}},
            {"LEFT_ID": "name", "REL_OP": ">", "RIGHT_ID": "role", "RIGHT_ATTRS": {"DEP": "appos", "POS": "NOUN"}},
        ),
        "dep",
        ("{Who} is the {role}?", "The {role} is {who}?"),
    ),
    # "Pay the property charge: €212.40", "Notice period: 56 days in writing": a noun, a colon and an amount,
    # number or code token
    NounPhrase(
        "colon-value",
        (
            {"POS": {"IN": ["NOUN", "PROPN"]}},
            {"ORTH": ":"},
            {"TEXT": {"REGEX": rf"^(?:{PLACEHOLDER}|[€$£¥]|\d[\w.,/:-]*)$"}},
        ),
        "tokens",
        ("What is the {label} in {topic}?", "How much is the {label} in {topic}?"),
    ),
    # "MQTT topic soil/bay3/#", "port 2222": a label noun and the value right after it
    NounPhrase(
        "label-value",
        (
            {"LOWER": {"IN": sorted(LABELS)}, "POS": {"IN": ["NOUN", "PROPN"]}},
            {"TEXT": {"REGEX": rf"^(?:{_LABELLED_VALUE})$"}},
        ),
        "tokens",
        ("What is the {label} in {topic}?", "In {topic}, what is the {label}?"),
    ),
)


@functools.lru_cache(maxsize=4)
def _np_matchers(vocab):
    from spacy.matcher import DependencyMatcher, Matcher

    dep, tok = DependencyMatcher(vocab), Matcher(vocab)
    for c in NOUN_PHRASES:
        (dep if c.kind == "dep" else tok).add(c.name, [list(c.pattern)])
    return dep, tok


def _role(role, render) -> str:
    """The role's noun phrase without its article, apposition or clauses: "Quillon Data account manager"."""
    toks = sorted(
        (t for t in phrase_tokens(role) if t.dep_ not in ("det", "poss") or t.head != role), key=lambda t: t.i
    )
    return render(toks)


_UNITS = re.compile(r"^(?:%|days?|weeks?|months?|years?|hours?|minutes?|seconds?|[kKMGT]i?B|kg|g|ml|l|km|m|cm|mm)$")
_AMOUNT_LABELS = {"MONEY", "QUANTITY", "PERCENT", "DATE", "TIME", "CARDINAL"}


def _value(doc, i: int) -> str:
    """The value that starts at token i: its whole amount entity ("€212.40", "56 days"), a number with its unit,
    else the token alone."""
    tok = doc[i]
    if tok.ent_type_ in _AMOUNT_LABELS:
        ent = next((e for e in doc.ents if e.start <= i < e.end), None)
        if ent is not None and ent.start == i:
            return ent.text
    if tok.text in "€$£¥" and i + 1 < len(doc):
        return tok.text + doc[i + 1].text
    if tok.like_num and i + 1 < len(doc) and _UNITS.match(doc[i + 1].text):
        return f"{tok.text}{'' if doc[i + 1].text == '%' else ' '}{doc[i + 1].text}"
    return tok.text


def noun_phrase_pairs(sent, render, is_person, topic: str) -> list[tuple[str, str, str]]:
    """(question, answer, construction name) for the noun-phrase constructions of a sentence. `is_person(token)`
    picks "Who" or "What"; `topic` is the document's subject (empty when it has none worth naming)."""
    dep, tok = _np_matchers(sent.doc.vocab)
    by_name = {c.name: c for c in NOUN_PHRASES}
    doc = sent.doc
    out: list[tuple[str, str, str]] = []
    for match_id, ids in dep(doc):
        c = by_name[doc.vocab.strings[match_id]]
        nodes = {spec["RIGHT_ID"]: doc[i] for spec, i in zip(c.pattern, ids)}
        role, name = nodes["role"], nodes["name"]
        if not (sent.start <= role.i < sent.end) or not any(
            ch.dep_ in ("det", "poss") and ch.lower_ not in ("a", "an") for ch in role.children
        ):
            continue  # "a manager, Ann": not the one role of its kind
        first = name.i  # the name with its compound parts ("Marten Oyelaran"), nothing after it
        while first > sent.start and doc[first - 1].dep_ == "compound" and doc[first - 1].head.i == name.i:
            first -= 1
        answer = render(list(doc[first : name.i + 1]))
        fields = {"role": _role(role, render)}
        if not answer or not fields["role"] or len(fields["role"].split()) > 8:
            continue
        person = is_person(name) or is_person(role)  # "manager" names a person whatever the recognizer said
        fields["Who"], fields["who"] = ("Who", "who") if person else ("What", "what")
        out += [(as_question(q.format(**fields)), answer, c.name) for q in c.questions]
    for match_id, start, end in tok(doc):
        if not (sent.start <= start and end <= sent.end):
            continue
        c = by_name[doc.vocab.strings[match_id]]
        first = start
        while (
            first > sent.start
            and doc[first - 1].pos_ in ("NOUN", "PROPN")
            and doc[first - 1].dep_ == "compound"
            and not (first - 2 >= sent.start and doc[first - 2].text == "-")  # "brid-offsite port": no label
        ):
            first -= 1  # "MQTT topic", "Logger gateway IP"
        while first > sent.start and doc[first - 1].dep_ == "amod" and doc[first - 1].head.i == start:
            first -= 1  # "annual fee: ..."
        label = render(list(doc[first : start + 1]))
        if first == sent.start and not label.split()[0].isupper():
            label = label[:1].lower() + label[1:]  # "Logger gateway IP 10.12.0.50" opens the line
        fields = {"label": label, "topic": topic}
        answer = _value(doc, end - 1)
        money = bool(re.match(r"^[€$£¥]", answer)) or (doc[end - 1].ent_type_ == "MONEY")
        for q in c.questions:
            if q.startswith("How much") and not money:
                continue
            if not topic:  # "What is the port?" only where the document names nothing: one of many ports
                q = q.replace(" in {topic}", "").replace("In {topic}, what", "What")
            out.append((as_question(q.format(**fields)), answer, c.name))
    return out


# ---- labelled values in parentheses ---------------------------------------------------------------------------
# "the Cutover runbook (version 7)", "width (default: 70)", "the gateway (port 8443)": a label and its value in
# parentheses after a noun. The cleaner drops every parenthesis before parsing (asides misparse the sentence), so
# these are read from the passage's own text.
_FUNCTION_WORDS = frozenset(
    "the a an of in on at under over with to for by from into and or is are was were be been its their our my your "
    "this that these those".split()
)
PARENTHETICAL_VALUE = re.compile(
    r"(?P<before>[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0,5})\s*\(\s*(?P<label>[A-Za-z]+)\s*:?\s*"
    rf"(?P<value>{_LABELLED_VALUE})\s*\)"
)


def parenthetical_value_pairs(text: str) -> list[tuple[str, str, str]]:
    """(question, answer, slot) for each labelled value in parentheses after a noun."""
    out = []
    for m in PARENTHETICAL_VALUE.finditer(text):
        label = m.group("label").lower()
        if label not in LABELS and label != "default":
            continue
        words = m.group("before").split()
        k = len(words)
        while k > 0 and words[k - 1].lower() not in _FUNCTION_WORDS:
            k -= 1  # the noun phrase that ends at the parenthesis: after the last function word
        thing = " ".join(words[k:])
        if not thing or len(thing.split()) > 4 or thing.lower() in LABELS:
            continue
        if k == 0 and m.start() == 0 and not words[0].isupper():
            thing = thing[:1].lower() + thing[1:]  # "Width (default: 70)" opens the line
        value, slot = m.group("value"), f"parenthetical|{label}|{thing.lower()}"
        if label == "default":
            out.append((f"What is the default {thing}?", value, slot))
            continue
        out += [(f"What is the {label} of the {thing}?", value, slot), (f"What {label} is the {thing}?", value, slot)]
    return out


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
