"""A small English verb lexicon for the extractive generator: recognise verb forms and re-inflect them.

Questions about an object need do-support ("Ysolde Marrick founded X" -> "What did Ysolde Marrick found?"), and
questions about a passive agent need the active form ("is chaired by Y" -> "Who chairs ..."). A lexicon of common
verbs is far more reliable than suffix guessing; unknown verbs fall back to conservative suffix rules.
"""

from __future__ import annotations

from dataclasses import dataclass

# base: (past, past participle) for irregular verbs
IRREGULAR = {
    "be": ("was", "been"), "have": ("had", "had"), "do": ("did", "done"), "go": ("went", "gone"),
    "become": ("became", "become"), "begin": ("began", "begun"), "bring": ("brought", "brought"),
    "build": ("built", "built"), "buy": ("bought", "bought"), "burst": ("burst", "burst"),
    "come": ("came", "come"), "cost": ("cost", "cost"), "draw": ("drew", "drawn"), "drive": ("drove", "driven"),
    "fall": ("fell", "fallen"), "find": ("found", "found"), "fly": ("flew", "flown"), "get": ("got", "got"),
    "give": ("gave", "given"), "grow": ("grew", "grown"), "hit": ("hit", "hit"), "hold": ("held", "held"),
    "keep": ("kept", "kept"), "know": ("knew", "known"), "lead": ("led", "led"), "leave": ("left", "left"),
    "lie": ("lay", "lain"), "lose": ("lost", "lost"), "make": ("made", "made"), "meet": ("met", "met"),
    "pay": ("paid", "paid"), "put": ("put", "put"), "read": ("read", "read"), "rise": ("rose", "risen"),
    "run": ("ran", "run"), "say": ("said", "said"), "see": ("saw", "seen"), "sell": ("sold", "sold"),
    "send": ("sent", "sent"), "set": ("set", "set"), "shut": ("shut", "shut"), "sink": ("sank", "sunk"),
    "sit": ("sat", "sat"), "speak": ("spoke", "spoken"), "spend": ("spent", "spent"), "stand": ("stood", "stood"),
    "steal": ("stole", "stolen"), "strike": ("struck", "struck"), "swim": ("swam", "swum"),
    "take": ("took", "taken"), "teach": ("taught", "taught"), "tell": ("told", "told"),
    "think": ("thought", "thought"), "throw": ("threw", "thrown"), "wear": ("wore", "worn"),
    "win": ("won", "won"), "write": ("wrote", "written"), "bear": ("bore", "born"), "feed": ("fed", "fed"),
    "hang": ("hung", "hung"), "lend": ("lent", "lent"), "shake": ("shook", "shaken"), "split": ("split", "split"),
    "spread": ("spread", "spread"), "withdraw": ("withdrew", "withdrawn"), "oversee": ("oversaw", "overseen"),
    "undertake": ("undertook", "undertaken"), "rebuild": ("rebuilt", "rebuilt"), "freeze": ("froze", "frozen"),
}

REGULAR = """
accept acquire add admit adopt advise affect agree aim allow announce appear apply appoint approve argue arrange
arrive assemble assist attach attack attempt attend attract award back ban base believe belong blame block boost
borrow break brew call campaign cancel capture captain care carry cause celebrate chair change charge chase check
choose claim clean clear close coach collaborate collect combine commission compete complete compose conduct
confirm connect consider consist construct contain continue contribute control convert cook cooperate cover
create cross cure damage dance decide declare decline decrease defeat defend deliver demolish deny depend describe
design destroy detect develop die direct discover dismiss display distribute divide donate double earn edit educate
elect employ enable encourage end engineer enjoy enter equip establish estimate evacuate examine exceed exchange
exist expand expect explain explore export extend face fail feature fill film finance finish fish fix flood flow
focus follow force form found fund gain gather govern graduate guide handle happen hate head headline help hire
host house hunt identify import improve include increase inherit injure install intend introduce invent invest
invite join judge jump kill label land last launch learn license licence like limit link list live load locate
look love maintain manage manufacture mark market marry measure mention merge migrate mine miss move name need
nominate note notice observe obtain occupy offer open operate order organise organize own paint pass patent perform
pilot place plan plant play point power prefer prepare present preserve print process produce promote propose
protect prove provide publish pull purchase push qualify raise reach receive recommend record recover reduce
refuse register reject release rely remain remember remove rent repair replace report represent require rescue
research resign restore retain retire return reveal review rule sail save score seem serve settle share ship
sign smuggle solve sponsor staff start stay stop store study succeed sue suffer suggest supervise supply support
survive switch talk target test train transfer transform translate transport travel treat try turn twin use
value visit vote wait walk want warn wash watch welcome wish work worry
""".split()

# Words that also occur as nouns often enough that a determiner before them means "noun" (checked by the parser).
_NO_DOUBLE = set("lsfwxyz")


@dataclass(frozen=True)
class VerbForm:
    base: str
    tense: str  # base | s3 | past | participle | pastpart (regular past == participle)


def _s3(base: str) -> str:
    if base in ("be", "have", "do", "go"):
        return {"be": "is", "have": "has", "do": "does", "go": "goes"}[base]
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def _regular_past(base: str) -> str:
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ied"
    # one-syllable consonant-vowel-consonant verbs double the final consonant (stop -> stopped, ban -> banned)
    vowels = sum(ch in "aeiou" for ch in base)
    if (len(base) >= 3 and vowels == 1 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou"
            and base[-3] not in "aeiou"):
        return base + base[-1] + "ed"
    return base + "ed"


def _build() -> dict[str, VerbForm]:
    forms: dict[str, VerbForm] = {}
    for base in REGULAR:
        past = _regular_past(base)
        forms.setdefault(base, VerbForm(base, "base"))
        forms.setdefault(_s3(base), VerbForm(base, "s3"))
        forms.setdefault(past, VerbForm(base, "pastpart"))
    for base, (past, part) in IRREGULAR.items():
        forms[past] = VerbForm(base, "past" if past != part else "pastpart")
        forms.setdefault(part, VerbForm(base, "participle"))
        forms.setdefault(_s3(base), VerbForm(base, "s3"))
        forms.setdefault(base, VerbForm(base, "base"))
    # "found" is usually the past of "find" in prose, but in a corpus about organisations "founded" dominates and
    # bare "found" is rare; keep it as find's past.
    for w, f in {"is": VerbForm("be", "s3"), "are": VerbForm("be", "base"), "was": VerbForm("be", "past"),
                 "were": VerbForm("be", "past"), "been": VerbForm("be", "participle"),
                 "has": VerbForm("have", "s3"), "have": VerbForm("have", "base"), "had": VerbForm("have", "pastpart"),
                 "born": VerbForm("bear", "participle")}.items():
        forms[w] = f
    return forms


FORMS = _build()


def lookup(word: str) -> VerbForm | None:
    return FORMS.get(word.lower())


def guess(word: str) -> VerbForm | None:
    """Suffix rules for a word the lexicon does not know (only used where the syntax says 'verb here')."""
    w = word.lower()
    if not w.isalpha() or len(w) < 4:
        return None
    if w.endswith("ied"):
        return VerbForm(w[:-3] + "y", "pastpart")
    if w.endswith("ed"):
        stem = w[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in _NO_DOUBLE:
            return VerbForm(stem[:-1], "pastpart")
        if stem.endswith(("at", "iz", "is", "us", "os", "ir", "ov", "av", "iv", "c", "g", "u", "rv", "ns", "in")) \
                and not stem.endswith(("oin", "ain", "ein")):
            return VerbForm(stem + "e", "pastpart")
        return VerbForm(stem, "pastpart")
    if w.endswith("ies") and len(w) > 4:
        return VerbForm(w[:-3] + "y", "s3")
    if w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return VerbForm(w[:-2], "s3")
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return VerbForm(w[:-1], "s3")
    return None


def inflect(base: str, tense: str) -> str:
    """tense: base | s3 | past | participle"""
    if tense == "base":
        return base
    if tense == "s3":
        return _s3(base)
    if base in IRREGULAR:
        past, part = IRREGULAR[base]
        return past if tense == "past" else part
    return _regular_past(base)


def ing_base(word: str) -> str:
    """planning -> plan, writing -> write, carrying -> carry"""
    stem = word.lower()[:-3]
    for cand in (stem, stem + "e", stem[:-1]):
        f = FORMS.get(cand)
        if f and f.tense == "base":
            return cand
    return stem
