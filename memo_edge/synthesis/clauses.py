"""Split a short declarative sentence into subject, verb group, object and prepositional modifiers.

"Ysolde Marrick founded Quillfen Robotics in 2016." -> Clause(subject="Ysolde Marrick", kind="active",
verb=found/past, obj="Quillfen Robotics", mods=[in 2016 (year)]). Sentences that do not fit the shape yield nothing
(the extractive generator prefers no question to a wrong one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from . import verbs
from .entities import FUNCTION_CAPS, cap_spans, possessive
from .text import MONTHS, YEAR, detok, is_date, tokenize

ADVERBS = {"also", "still", "often", "directly", "first", "later", "once", "already", "usually", "always", "never",
           "jointly", "only", "mainly", "mostly", "largely", "previously", "formerly", "originally", "officially",
           "regularly", "recently", "again", "even", "then", "soon", "just", "primarily", "chiefly", "partly"}
PREPS = {"in", "on", "at", "from", "to", "for", "since", "during", "after", "before", "by", "as", "with", "under",
         "over", "across", "near", "above", "below", "into", "through", "until", "between", "inside", "outside",
         "against", "via", "throughout", "beside", "behind", "within", "around", "along", "toward", "towards"}
DETERMINERS = {"the", "a", "an", "of", "its", "his", "her", "their", "this", "that", "these", "those", "each", "every",
               "all", "some", "most", "no", "any", "our", "my", "your", "to", "whose", "which", "many", "several"}
MODALS = {"will", "would", "can", "could", "may", "might", "must", "shall", "should"}
BAD_SUBJECTS = {"it", "they", "this", "that", "these", "those", "there", "nobody", "everybody", "somebody", "someone",
                "everyone", "he", "she", "we", "i", "you", "one", "which", "who", "what", "the case", "the company"}
SUBORDINATE = {"which", "who", "what", "if", "unless", "when", "whenever", "while", "although", "though", "because",
               "since", "subject", "based", "to", "as", "for", "by", "with", "without", "in", "on", "at", "after",
               "before", "once", "where", "whether", "how", "why", "and", "or", "but", "so", "then", "thus", "however",
               "therefore", "also", "note", "see", "e.g", "i.e", "please", "you", "we", "i", "our", "your"}
TIME_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month",
              "months", "year", "years", "decade", "decades", "century", "centuries", "generations", "generation"}
_WHEN_WORDS = set(MONTHS) | {"spring", "summer", "autumn", "fall", "winter", "morning", "evening", "night",
                             "weekend", "weekends", "season"}
_YEAR_RE = re.compile(rf"^{YEAR}$")


@dataclass
class Mod:
    prep: str
    np: str
    kind: str  # year | date | when | range | duration | place | agent | role | since | with | purpose | other

    @property
    def text(self) -> str:
        return f"{self.prep} {self.np}".strip()


@dataclass
class Clause:
    subject: str
    kind: str                      # active | passive | copula | have
    verb: verbs.VerbForm
    verb_text: str                 # as written, with auxiliaries and adverbs: "has directed", "is powered"
    aux: str | None                # "has", "is", "will", ... (None for a simple verb)
    obj: str
    mods: list[Mod] = field(default_factory=list)
    lead: list[Mod] = field(default_factory=list)   # fronted modifiers ("In 2019, ...")
    negated: bool = False
    derived: bool = False   # from a relative clause / appositive / reduced relative, not the main clause

    @property
    def all_mods(self) -> list[Mod]:
        return self.mods + self.lead

    def predicate(self) -> str:
        """The clause minus its subject, time and all: "founded Quillfen Robotics in 2016"."""
        parts = [self.verb_text, self.obj] + [m.text for m in self.mods] + [m.text for m in self.lead]
        return " ".join(p for p in parts if p)


def mod_kind(prep: str, np: str) -> str:
    words = np.split()
    if not words:
        return "other"
    if prep == "from" and re.match(rf"^{YEAR} to {YEAR}$", np):
        return "range"
    if prep in ("in", "on", "during") and is_date(np):
        return "year" if _YEAR_RE.match(np) else "date"
    if prep == "since" and (is_date(np) or np.startswith("it ")):
        return "since"
    if prep == "for" and len(words) >= 2 and words[-1] in TIME_UNITS:
        return "duration"
    if prep in ("in", "during", "on", "every") and (words[-1] in _WHEN_WORDS or words[0] in _WHEN_WORDS):
        return "when"
    if prep == "by":
        return "agent"
    if prep == "as":
        return "role"
    if prep == "with":
        return "with"
    if prep == "to" and verbs.lookup(words[0]) and verbs.lookup(words[0]).tense == "base":
        return "purpose"
    head = words[1] if words[0] in ("the", "a", "an") and len(words) > 1 else words[0]
    if prep in ("in", "at", "on", "to", "from", "near", "inside", "across", "above", "below", "into") and head[:1].isupper():
        return "place"
    return "other"


def _split_mods(tokens: list[str]) -> tuple[list[str], list[Mod]]:
    """Object tokens up to the first top-level preposition; then one Mod per prepositional phrase."""
    cut = [i for i, t in enumerate(tokens) if t in PREPS and (i == 0 or tokens[i - 1] not in ("of", "up"))
           and not (t in ("over", "under", "around") and i + 1 < len(tokens) and tokens[i + 1][:1].isdigit())]
    obj = tokens[: cut[0]] if cut else tokens
    mods = []
    # an object that is an infinitive ("plans to convert X") stays whole
    if cut and cut[0] == 0 and tokens[0] == "to" and len(tokens) > 1 and verbs.lookup(tokens[1]) \
            and verbs.lookup(tokens[1]).tense == "base":
        obj, cut = tokens, []
    bounds = cut + [len(tokens)]
    for a, b in zip(bounds, bounds[1:]):
        prep, np = tokens[a], detok(tokens[a + 1: b]).strip(" ,")
        mods.append(Mod(prep, np, mod_kind(prep, np)))
    # "from 2010 to 2015" arrives as two mods
    merged: list[Mod] = []
    for m in mods:
        if merged and merged[-1].prep == "from" and m.prep == "to" and _YEAR_RE.match(merged[-1].np) \
                and _YEAR_RE.match(m.np):
            merged[-1] = Mod("from", f"{merged[-1].np} to {m.np}", "range")
        else:
            merged.append(m)
    chained: list[Mod] = []
    for m in merged:
        if chained and chained[-1].kind == "other" and m.kind in ("other", "with", "agent") and m.prep != "for":
            prev = chained[-1]
            chained[-1] = Mod(prev.prep, f"{prev.np} {m.text}", "other")
        else:
            chained.append(m)
    return obj, [m for m in chained if m.np]


_LEAD_PP = re.compile(r"^(In|On|At|During|After|Before|Since|By|From|Until|Following|For|Under|Over|Between)\s+"
                      r"([^,]{1,70}),\s+(?=\S)")
_LEAD_YEAR = re.compile(rf"^In ({YEAR}) (?=[A-Za-z])")


def split_lead(sentence: str) -> tuple[str, list[Mod], bool]:
    """Fronted modifiers: "In 2019, X ..." -> ("X ...", [in 2019]). Third value: an anaphoric lead was dropped."""
    lead: list[Mod] = []
    anaphoric = False
    for _ in range(2):
        m = _LEAD_YEAR.match(sentence) or _LEAD_PP.match(sentence)
        if not m:
            break
        prep = m.group(1).lower() if m.re is _LEAD_PP else "in"
        np = m.group(2) if m.re is _LEAD_PP else m.group(1)
        if re.match(r"^(this|that|the same|these|those)\b", np) or np.startswith("example"):
            anaphoric = anaphoric or not np.startswith("the same")
        else:
            if re.match(r"^[a-z]+ing\b", np):
                lead.append(Mod(prep, np, "other"))
            else:
                lead.append(Mod(prep, np, mod_kind(prep, np)))
        sentence = sentence[m.end():]
        sentence = sentence[:1].upper() + sentence[1:]
    return sentence, lead, anaphoric


def find_verb(tokens: list[str]) -> int | None:
    for i in range(1, len(tokens)):
        t = tokens[i]
        if not t[:1].islower() or tokens[i - 1].lower() in DETERMINERS:
            continue
        if t in MODALS and i + 1 < len(tokens) and verbs.lookup(tokens[i + 1]):
            return i
        vf = verbs.lookup(t)
        if vf is None:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt == "of" or (vf.tense == "base" and vf.base not in ("be", "have") and tokens[i - 1][:1].islower()
                           and not tokens[i - 1].endswith("s")):
            continue  # "the chief engineer of X": a noun, not a verb
        return i
    # unknown verb directly after a capitalised subject ("The Ilsen Strait separates ...")
    spans = cap_spans(tokens)
    if spans and spans[0][0] <= 1 and spans[0][1] < len(tokens):
        j = spans[0][1]
        if tokens[j][:1].islower() and verbs.guess(tokens[j]):
            return j
    return None


def _verb_group(tokens: list[str], v: int):
    """(kind, VerbForm, verb_text, aux, index after the group, negated)"""
    first = tokens[v].lower()
    vf = verbs.lookup(first) or verbs.guess(first) or verbs.VerbForm(first, "base")
    j = v + 1
    adv: list[str] = []
    negated = False
    while j < len(tokens) and (tokens[j] in ADVERBS or tokens[j] == "not"):
        negated = negated or tokens[j] == "not"
        adv.append(tokens[j])
        j += 1
    nxt = tokens[j] if j < len(tokens) else ""
    nvf = verbs.lookup(nxt) if nxt[:1].islower() else None
    text = lambda k: " ".join(tokens[v:k])  # noqa: E731
    if vf.base == "have" and nxt == "been":
        j2 = j + 1
        nn = tokens[j2] if j2 < len(tokens) else ""
        nnvf = verbs.lookup(nn)
        if nnvf and nnvf.tense in ("participle", "pastpart") and nn[:1].islower():
            return "passive", nnvf, text(j2 + 1), first + " been", j2 + 1, negated
        return "copula", verbs.VerbForm("be", "participle"), text(j2), first + " been", j2, negated
    if vf.base == "have" and nvf and nvf.tense in ("participle", "pastpart"):
        return "active", nvf, text(j + 1), first, j + 1, negated
    if vf.base == "be" and nvf and nvf.tense in ("participle", "pastpart"):
        return "passive", nvf, text(j + 1), first, j + 1, negated
    if vf.base == "be" and nxt.endswith("ing") and nxt[:1].islower() and len(nxt) > 5 and nxt not in ("nothing",):
        return "active", verbs.VerbForm(verbs.ing_base(nxt), "progressive"), text(j + 1), first, j + 1, negated
    if first in MODALS and nxt == "be" and j + 1 < len(tokens):
        part = verbs.lookup(tokens[j + 1]) if tokens[j + 1][:1].islower() else None
        if part and part.tense in ("participle", "pastpart"):
            return "passive", part, text(j + 2), f"{first} be", j + 2, negated
    if first in MODALS and nvf:
        return "active", verbs.VerbForm(nvf.base, "base"), text(j + 1), first, j + 1, negated
    if vf.base == "be":
        return "copula", vf, text(j), None, j, negated
    if vf.base == "have":
        return "have", vf, text(j), None, j, negated
    return "active", vf, text(j), None, j, negated


def _split_vp_coordination(rest: list[str]) -> list[list[str]]:
    """"stores 40 kWh and costs 9,800 euros" -> two verb phrases sharing the subject."""
    for i, t in enumerate(rest):
        if t == "and" and i + 1 < len(rest) and rest[i + 1][:1].islower():
            vf = verbs.lookup(rest[i + 1])
            if vf and vf.tense in ("s3", "past", "pastpart") and i > 0 and rest[i - 1].lower() not in DETERMINERS:
                return [rest[:i]] + _split_vp_coordination(rest[i + 1:])
    return [rest]


def parse(sentence: str, _depth: int = 0) -> list[Clause]:
    """Clauses of one (already reference-resolved) sentence; [] when it does not have a usable shape."""
    sentence = sentence.strip().rstrip(".!").strip()
    if sentence.endswith("?") or len(sentence.split()) < 3:
        return []
    sentence, lead, anaphoric = split_lead(sentence)
    tokens = tokenize(sentence)
    if not tokens:
        return []
    # ", but the case was dismissed" -> a clause of its own; relative clauses are handled by the resolver
    for i, t in enumerate(tokens):
        if t == "," and i + 1 < len(tokens) and tokens[i + 1] in ("but", "and", "while", "whereas") \
                and find_verb(tokens[i + 2:]) is not None and i > 2:
            return parse(detok(tokens[:i])) + parse(detok(tokens[i + 2:]))
    v = find_verb(tokens)
    if v is None or v == 0:
        return []
    subj_tokens = [t for t in tokens[:v] if t not in ADVERBS]
    while subj_tokens and subj_tokens[-1] == ",":
        subj_tokens.pop()
    extra: list[str] = []
    if subj_tokens.count(",") == 1 and subj_tokens[-1] != ",":
        k = subj_tokens.index(",")
        left, right = detok(subj_tokens[:k]), detok(subj_tokens[k + 1:])
        rs = cap_spans(subj_tokens[k + 1:])
        if rs and rs[0] == (0, len(subj_tokens) - k - 1) and left[:1].isupper():
            extra.append(f"{right} is {left[:1].lower() + left[1:] if left.startswith('The ') else left}")
            subj_tokens = subj_tokens[k + 1:]
    subject = detok(subj_tokens)
    if not subject or subject.lower() in BAD_SUBJECTS or subject.split()[0].lower() in SUBORDINATE \
            or len(subject.split()) > 10 or "," in subject:
        return []
    if subject[:1].isupper() and subject.split()[0] in FUNCTION_CAPS - {"The", "A", "An", "Each", "All", "Most",
                                                                        "Every", "Some", "Many", "Both", "Other"}:
        return []
    kind, vf, vtext, aux, j, negated = _verb_group(tokens, v)
    out: list[Clause] = []
    for k, vp in enumerate(_split_vp_coordination(tokens[j:])):
        if k > 0:  # a coordinated verb phrase starts with its own verb
            kind2, vf2, vtext2, aux2, j2, neg2 = _verb_group(vp, 0)
            clause_tokens = vp[j2:]
            c = Clause(subject, kind2, vf2, vtext2, aux2, "", [], list(lead), neg2)
        else:
            clause_tokens = vp
            c = Clause(subject, kind, vf, vtext, aux, "", [], list(lead), negated)
        c = _fill(c, [t for t in clause_tokens if t not in (".",)], extra)
        if c is not None:
            out.append(c)
    for e in extra:
        for c in (parse(e, _depth + 1) if _depth < 2 else []):
            c.derived = True
            out.append(c)
    if anaphoric:
        for c in out:
            c.lead = [m for m in c.lead if m.kind != "other"]
    return out


PARTICLES = {"up", "off", "out", "down", "away", "back"}
_RECURRING = re.compile(r"\s*\b((?:each|every|per|a) (?:year|month|week|day|summer|autumn|winter|spring|"
                        + "|".join(MONTHS) + r"))\b")
_RELATIVE = {"which", "who", "whose", "that", "where"}


def _is_list_tail(tail: list[str]) -> bool:
    return "and" in tail and not any(verbs.lookup(t) and t[:1].islower() and t != "and" and
                                     verbs.lookup(t).tense in ("s3", "past", "pastpart") for t in tail)


def _last_np(tokens: list[str]) -> str:
    """The capitalised span (or "the N") that ends a token list: the antecedent of a relative or appositive."""
    spans = cap_spans(tokens)
    if spans and spans[-1][1] == len(tokens):
        return detok(tokens[spans[-1][0]: spans[-1][1]])
    return ""


def _peel(c: Clause, rest: list[str], extra: list[str]) -> list[str]:
    """Take relative clauses, appositives and reduced relatives off the verb phrase; queue them as sentences."""
    out: list[str] = []
    i = 0
    while i < len(rest):
        t = rest[i]
        if t == "," and i + 1 < len(rest) and ":" not in out:
            tail = rest[i + 1:]
            ante = _last_np(out)
            if tail[0] in _RELATIVE and ante:
                end = tail.index(",") if "," in tail else len(tail)
                extra.append(f"{ante} {detok(tail[1:end])}")
                i += 1 + end
                continue
            if tail[0] in PREPS:  # ", with about 48,000 residents": the caller turns it into modifiers
                out += [","] + tail
                break
            end = tail.index(",") if "," in tail else len(tail)
            seg = tail[:end]
            seg_spans = cap_spans(seg)
            is_name = bool(seg_spans) and seg_spans[0][0] <= 1 and seg_spans[0][1] == len(seg)
            if out and out[0][:1].islower() and is_name:
                # "its first harbour robot, the Skua H5": the name is the real object
                name = detok(seg)
                desc = re.sub(r"^(its|his|her|their)\b", possessive(c.subject.removeprefix("The ")), detok(out))
                extra.append(f"{name[:1].upper() + name[1:]} is {desc}")
                out = list(seg)
                i += 1 + end
                continue
            appositive = tail[0].lower() in ("a", "an") or (
                tail[0].lower() in ("the", "its", "his", "her", "their") and not _is_list_tail(tail))
            if ante and appositive:
                desc = re.sub(r"^(its|his|her|their)\b", possessive(c.subject.removeprefix("The ")), detok(seg))
                extra.append(f"{ante} is {desc}")
                i += 1 + end
                continue
        if t in _RELATIVE and i > 0 and t != "where" and out and out[-1] != ",":
            # "the diesel generators that the festival used": keep the head, drop the clause
            break
        vf = verbs.lookup(t) if t[:1].islower() else None
        if (vf and vf.tense in ("participle", "pastpart") and i > 0 and out and out[-1][:1].isalpha()
                and i + 1 < len(rest) and (rest[i + 1] in PREPS or rest[i + 1][:1].isupper())
                and c.kind != "copula" and verbs.lookup(out[-1]) is None):
            head = _np_before(out)
            if t in ("called", "named") and rest[i + 1][:1].isupper():
                # "a chemistry called Ferrosod": the name is the object, the description a fact about it
                name_end = i + 1
                while name_end < len(rest) and rest[name_end][:1].isupper():
                    name_end += 1
                name = detok(rest[i + 1:name_end])
                extra.append(f"{name} is {detok(head)}")
                out = out[: len(out) - len(head)] + [name]
                i = name_end
                continue
            if head:
                subj = detok(head)
                subj = re.sub(r"^(?:a|an|the|some|\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten)\s+",
                              "", subj)
                tail = rest[i + 1:]
                end = tail.index(",") if "," in tail else len(tail)
                be = "were" if subj.endswith("s") and not subj.endswith("ss") else "was"
                extra.append(f"The {subj} of {_lower_the(c.subject)} {be} {t} {detok(tail[:end])}")
                i += 1 + end
                continue
        out.append(t)
        i += 1
    return out


def _lower_the(np: str) -> str:
    return "the" + np[3:] if np.startswith("The ") else np


def _np_before(tokens: list[str]) -> list[str]:
    """The noun phrase that ends a token list, back to its determiner or number."""
    k = len(tokens)
    while k > 0 and tokens[k - 1] not in PREPS and tokens[k - 1] not in (",", ":", "and"):
        k -= 1
        if tokens[k].lower() in ("a", "an", "the") or tokens[k][:1].isdigit():
            break
    return tokens[k:]


def _fill(c: Clause, rest: list[str], extra: list[str]) -> Clause | None:
    if rest and rest[0] in PARTICLES and c.kind == "active" and rest[1:2] != ["to"]:
        c = replace(c, verb_text=f"{c.verb_text} {rest[0]}")
        rest = rest[1:]
    if c.verb.base == "take" and rest[:1] == ["place"]:
        c = replace(c, verb_text=f"{c.verb_text} place")
        rest = rest[1:]
    rest = _peel(c, rest, extra)
    recurring = []
    text = detok(rest)
    m = _RECURRING.search(text)
    if m:
        recurring.append(Mod("", m.group(1), "when"))
        rest = tokenize(text[: m.start()] + text[m.end():])
    comma_tail: list[Mod] = []
    if "," in rest:
        i = rest.index(",")
        tail = rest[i + 1:]
        if tail and tail[0] in PREPS:
            _, comma_tail = _split_mods(tail)
            rest = rest[:i]
    if c.kind == "copula":
        # a complement keeps its prepositional phrases ("the largest town on the Pellory Coast"); only a time
        # phrase at the end comes off, so "in 2016" can be asked about separately
        text = detok(rest)
        mods = []
        m = re.search(rf"\s(in|since|from)\s+((?:\d{{1,2}}\s+)?(?:(?:{'|'.join(MONTHS)})\s+)?{YEAR}(?:\s+to\s+{YEAR})?)$",
                      text)
        if m:
            text = text[: m.start()]
            mods.append(Mod(m.group(1), m.group(2), mod_kind(m.group(1), m.group(2))))
        w = re.search(r"\s(with)\s+((?:about |around |nearly |over |some )?\d[\d,.]*\s+[a-z\-]+)$", text)
        if w:  # "a river town with about 9,000 residents"
            text = text[: w.start()]
            mods.append(Mod("with", w.group(2), "with"))
        c = replace(c, obj=text.strip(" ,"), mods=mods + comma_tail + recurring)
    else:
        obj, mods = _split_mods(rest)
        c = replace(c, obj=detok(obj).strip(" ,"), mods=mods + comma_tail + recurring)
    if c.kind in ("copula", "have") and not c.obj:
        return None
    return c
