"""'I don't know.' examples for the lower-case and code names users' documents are full of (training/idk.py)."""

from __future__ import annotations

import re

from memo_edge.records import Reflection
from training.idk import code_names, make_idk


def _refl(i: int, q: str, a: str, kind: str = "direct") -> Reflection:
    return Reflection(id=f"r{i}", question=q, answer=a, type=kind, source_doc_ids=["d"])


# invented notes and READMEs: hosts, options, packages, files named in lower case or as code
QUESTIONS = [
    ("Which port does ldg-db-03 listen on?", "5433"),
    ("What is the disk of ldg-db-03?", "2 TB"),
    ("Which port does web-app-07 listen on?", "8443"),
    ("What does the --dupes option of photosort do?", "finds duplicate photos"),
    ("What does the --dest option of photosort set?", "the target folder"),
    ("Which file does photosort read its settings from?", "photosort.toml"),
    ("In photosort, what is the default shard size?", "500"),
    ("What is photosort's licence?", "MIT"),
    ("What is photosort's config format?", "TOML"),
    ("In wicket, what does the scheduler run?", "backups"),
    ("What is wicket's default port?", "9090"),
    ("What is wicket's licence?", "Apache-2.0"),
    ("Who maintains wicket?", "Odile Brakspear"),
    ("What does max_lines truncate in wicket?", "the report"),
    ("What does keep_days set in photosort?", "how long backups stay"),
    ("Which library is a well-established client for wicket?", "wicketpy"),
    ("What does the library's scheduler run?", "backups"),
]


def test_code_and_lower_case_names_are_found_but_english_is_not():
    names = code_names([q for q, _ in QUESTIONS])
    assert {"ldg-db-03", "web-app-07", "--dupes", "--dest", "photosort", "wicket", "max_lines", "keep_days"} <= names
    assert not {"well-established", "library", "scheduler", "port", "the"} & names, names


def test_code_names_are_swapped_for_fakes_of_their_own_shape():
    refl = [_refl(i, q, a) for i, (q, a) in enumerate(QUESTIONS)]
    refl.append(_refl(99, 'What fills the blank in wicket: "runs ___ nightly"?', "backups", "cloze"))
    train, held = make_idk(refl, 40, 10, seed=3)
    assert train and held
    known = " ".join(f"{q} {a}" for q, a in QUESTIONS).lower()
    originals = {q for q, _ in QUESTIONS}
    for r in train + held:
        assert r.answer == "I don't know." and r.question not in originals
        assert not r.question.startswith("What fills the blank"), r.question  # only short-answer questions
    # a host is replaced by a host-shaped fake, an option by an option: the question still reads as a user's
    hosts = [m for r in train + held for m in re.findall(r"\b[a-z]+-[a-z]+-\d+\b", r.question)]
    options = [m for r in train + held for m in re.findall(r"(?<![\w-])--[a-z]+\b", r.question)]
    assert any(h not in ("ldg-db-03", "web-app-07") for h in hosts), hosts
    assert any(o not in ("--dupes", "--dest") for o in options), options
    fakes = {w for r in train + held for w in re.findall(r"[\w.-]+", r.question) if w.lower() not in known}
    assert fakes
    # training and measuring fakes never meet: the IDK rate is not measured on memorized fake names
    words = lambda rows: {w for r in rows for w in re.findall(r"[\w.-]+", r.question)} & fakes  # noqa: E731
    assert not words(train) & words(held)


def test_the_examples_do_not_depend_on_the_hash_seed():
    """A resumed training rebuilds its splits in a new process: the same reflections and seed must give the same
    "I don't know." examples whatever order Python's string hashing gives a set (it differs per process)."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from memo_edge.records import Reflection\n"
        "from training.idk import make_idk\n"
        "rows = [Reflection(**r) for r in json.loads(sys.stdin.read())]\n"
        "train, held = make_idk(rows, 30, 8, seed=5)\n"
        "print(json.dumps([r.question for r in train + held]))\n"
    )
    rows = [_refl(i, q, a).model_dump() for i, (q, a) in enumerate(QUESTIONS)]
    rows += [
        _refl(90, "Did Odile Brakspear and Jonas Eckhoff review wicket with Maeve Thursby?", "yes").model_dump(),
        _refl(91, "Which port do ldg-db-03 and web-app-07 share with photosort?", "5433").model_dump(),
    ]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = [
        subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(rows),
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": root},
        ).stdout
        for h in (1, 2, 3)
    ]
    assert json.loads(outs[0]) and outs[0] == outs[1] == outs[2]
