"""'I don't know.' examples: questions about entities that are absent from the corpus, made by swapping entities.

A question from the reflections that names an entity gets that entity replaced by a recombination of real names
("Ysolde Marrick" + "Hesper Glount" -> "Ysolde Glount"; "Varrowick" + "Tamsick" -> "Varrosick") that appears nowhere
in the reflections. Near-miss names are the hard case: the model must not answer about "Quillfen Dynamics" what it
knows about "Quillfen Robotics". The fake names are split into two disjoint pools, one for training examples and one
for measuring the IDK rate, so the measurement is not on memorized fake names.

Users' documents name most things in lower case or as code: packages ("idna", "python-multipart"), hosts
("ldg-db-03"), options ("--dupes"), files, settings. Those are swapped too, each with a fake of its own shape
("ldg-db-03" + "web-app-07" -> "ldg-db-07"; "--dupes" + "--dest" -> "--dupst"; "photosort" + "wicket" ->
"photoket"): the absent questions a memory of notes or READMEs gets are "Which option makes the vidsort script skip
hidden files?", whose every other word it knows.
Only short-answer questions are swapped; a cloze or statement with one fake name in a known sentence teaches the
memory to refuse what it knows.
"""

from __future__ import annotations

import random
import re

from memo_edge.prompt import IDK_ANSWER
from memo_edge.records import Reflection
from memo_edge.vocabulary import FUNCTION_WORDS

# the question types whose swapped copies read like a user's absent question
_SWAPPED_TYPES = ("direct", "indirect", "entity")
# code tokens that are names: an option, or a word with a digit, "_", "." or a hyphen (python-multipart, ldg-db-03)
_CODE = re.compile(r"(?<![\w.-])(?:--?[A-Za-z][\w-]*|[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+|[a-z]+\d[a-z0-9]*)(?![\w-])")
# a lower-case name the question writer puts first ("In idna, ...") or owns something without an article ("h11's")
_LOWER = re.compile(
    r"^In ([a-z][\w-]{2,}),|(?<!\bthe )(?<!\ba )(?<!\ban )(?<!\bmy )(?<!\bour )\b([a-z][\w-]{2,})'s?(?=\s)"
)
_SEP = re.compile(r"([-_.])")
_PLAIN = re.compile(r"[a-z]+(?:-[a-z]+)*")
_MIN_LOWER = 3  # a lower-case word read as a name this often is one ("the server's" is never read; "idna's" is)

_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+(?:of\s+)?[A-Z][a-z]{2,})*\b")
_STOP = {
    "Who",
    "What",
    "Which",
    "When",
    "Where",
    "Why",
    "How",
    "Whose",
    "Whom",
    "Does",
    "Did",
    "Was",
    "Were",
    "Is",
    "Are",
    "The",
    "In",
    "On",
    "At",
    "For",
    "From",
    "And",
    "After",
    "Before",
    "During",
    "Name",
    "Tell",
    "Give",
    "Describe",
    "List",
    "According",
    "Has",
    "Have",
    "Can",
    "Could",
    "Would",
    "Will",
    "This",
    "That",
    "Its",
    "His",
    "Her",
    "Their",
    "Yes",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
}


def entities(text: str) -> list[str]:
    out = []
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        while words and words[0] in _STOP:
            words = words[1:]
        if words and not (len(words) == 1 and words[0] in _STOP):
            out.append(" ".join(words))
    return out


def code_names(questions: list[str]) -> set[str]:
    """Lower-case and code names the questions are about: code tokens with a digit, "_", "." or a leading dash
    (h11, ldg-db-03, max_lines, attrs.setters, --dupes), and plain lower-case words ("idna", "python-multipart") the
    questions read as a document's or an owner's name at least `_MIN_LOWER` times. Plain hyphenated English
    ("well-established", "read-only") is no name: its swapped copy would be a known question to refuse."""
    counts: dict[str, int] = {}
    for q in questions:
        found = {m.group(0) for m in _CODE.finditer(q) if not _PLAIN.fullmatch(m.group(0))}
        found |= {m.group(1) or m.group(2) for m in _LOWER.finditer(q)}
        for w in found:
            counts[w] = counts.get(w, 0) + 1
    return {
        w for w, n in counts.items() if w.lower() not in FUNCTION_WORDS and (n >= _MIN_LOWER or not _PLAIN.fullmatch(w))
    }


def _spliced(a: str, b: str) -> str:
    """A fake of a code name's shape: parts of two names ("ldg-db-03" + "web-app-07" -> "ldg-db-07"), or the front
    of one word and the back of another ("photosort" + "wicket" -> "photoket", "--dupes" + "--dest" -> "--dupst")."""
    lead = a[: len(a) - len(a.lstrip("-"))]
    pa, pb = _SEP.split(a.lstrip("-")), _SEP.split(b.lstrip("-"))
    if len(pa) > 1 and len(pb) > 1 and pa[:-1] != pb[:-1]:
        return lead + "".join(pa[:-1] + pb[-1:])
    return lead + "".join(pa[:-1]) + _front_back(pa[-1], pb[-1])


def _front_back(a: str, b: str) -> str:
    """The front of one word and the back of another: "Varrowick" + "Tamsick" -> "Varrosick"."""
    return a[: len(a) // 2 + 1] + b[len(b) // 2 :]


def _code_fakes(names: list[str], known_text: str, rng: random.Random, want: int) -> list[str]:
    """Fakes for code names, each of the shape of the name it replaces (option for option, dotted for dotted)."""
    by_shape: dict[tuple, list[str]] = {}
    for n in names:
        by_shape.setdefault((n.startswith("-"), tuple(sorted(set(_SEP.findall(n))))), []).append(n)
    groups = [g for g in by_shape.values() if len(g) >= 2]
    out: set[str] = set()
    for _ in range(want * 20):
        if len(out) >= want or not groups:
            break
        a, b = rng.sample(rng.choice(groups), 2)
        cand = _spliced(a, b)
        if len(cand) >= 3 and cand.lower() not in known_text and cand not in names:
            out.add(cand)
    return sorted(out)


def _fakes(names: list[str], known_text: str, rng: random.Random, want: int) -> list[str]:
    multi = [n.split() for n in names if len(n.split()) >= 2]
    single = [n for n in names if len(n.split()) == 1 and len(n) >= 6]
    out: set[str] = set()
    for _ in range(want * 20):
        if len(out) >= want:
            break
        if multi and (not single or rng.random() < 0.6):
            a, b = rng.sample(multi, 2) if len(multi) >= 2 else (multi[0], multi[0])
            cand = " ".join(a[:-1] + b[-1:])
        elif len(single) >= 2:
            a, b = rng.sample(single, 2)
            cand = _front_back(a, b)
        else:
            break
        if cand.lower() not in known_text and cand not in names:
            out.add(cand)
    return sorted(out)


def make_idk(
    reflections: list[Reflection], n_train: int, n_eval: int, seed: int = 0
) -> tuple[list[Reflection], list[Reflection]]:
    """(training IDK reflections, evaluation IDK reflections) with disjoint fake entities."""
    if n_train + n_eval <= 0:
        return [], []
    rng = random.Random(seed)
    known = " \n ".join(f"{r.question} {r.answer}" for r in reflections).lower()
    present = [r for r in reflections if r.type in _SWAPPED_TYPES]
    codes = code_names([r.question for r in present])
    # sorted, never a set's order: the order decides which examples rng picks, and a set of strings iterates in an
    # order that changes with each process's hash seed (a resumed training would train on other examples)
    with_ents = [(r, e, "name") for r in present for e in sorted(set(entities(r.question))) if e in r.question]
    with_ents += [
        (r, c, "code")
        for r in present
        for c in sorted(codes)
        if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", r.question)
    ]
    want = max(8, (n_train + n_eval) // 2)
    fakes = {
        "name": _fakes(sorted({e for _, e, k in with_ents if k == "name"}), known, rng, want),
        "code": _code_fakes(sorted(codes), known, rng, want),
    }
    pools: tuple[dict, dict] = ({}, {})
    for kind, fs in fakes.items():
        if len(fs) < 2:
            continue
        rng.shuffle(fs)
        k = max(1, round(len(fs) * n_train / (n_train + n_eval))) if n_eval else len(fs)
        k = min(k, len(fs) - 1) if n_eval else k
        pools[0][kind], pools[1][kind] = fs[:k], fs[k:]
    with_ents = [(r, e, k) for r, e, k in with_ents if k in pools[0]]
    if not with_ents:
        return [], []

    def build(pool: dict[str, list[str]], n: int, tag: str) -> list[Reflection]:
        out, seen = [], set()
        for i in range(n * 10):
            if len(out) >= n:
                break
            r, ent, kind = rng.choice(with_ents)
            if not pool.get(kind):
                continue
            fake = pool[kind][i % len(pool[kind])]
            q = r.question.replace(ent, fake)
            if q in seen or q == r.question:
                continue
            seen.add(q)
            out.append(
                Reflection(
                    id=f"idk-{tag}-{len(out)}",
                    question=q,
                    answer=IDK_ANSWER,
                    type="idk",
                    source_doc_ids=[],
                    generator="entity-swap",
                )
            )
        return out

    return build(pools[0], n_train, "train"), build(pools[1], n_eval, "eval")
