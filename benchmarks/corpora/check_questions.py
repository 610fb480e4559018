"""Validate a hand-written gold question file against its corpus.

Usage:
    python benchmarks/corpora/check_questions.py benchmarks/corpora/techdocs
    python benchmarks/corpora/check_questions.py benchmarks/corpora/notes
    python benchmarks/corpora/check_questions.py --absent benchmarks/corpora/absent_questions.jsonl

For a corpus folder, reads <folder>/questions.jsonl and checks that:
  * every line is a JSON object with the required fields and types;
  * ids are unique;
  * `doc` names a file in the folder's docs/;
  * `evidence` occurs in that file after whitespace normalization;
  * `answer` occurs in `evidence` case-insensitively (also after whitespace
    normalization), and is not a bare yes/no;
  * `hops` is 1 and `split` is "dev" or "test";
  * splits alternate dev, test, dev, ... within each document (in file order)
    and the whole file has exactly as many dev as test questions.
It also warns (without failing) when a question copies a long run of words
from its evidence, which usually means it was not paraphrased.

With --absent, checks an unanswerable-question file: unique ids, answer
"I don't know", kind "general" or "in-style", alternating balanced splits.

Exit status is 0 when everything passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REQUIRED = {
    "id": str,
    "question": str,
    "answer": str,
    "answer_aliases": list,
    "doc": str,
    "evidence": str,
    "hops": int,
    "split": str,
}
WORD = re.compile(r"[a-z0-9]+")


def norm(text: str) -> str:
    return " ".join(text.split())


def longest_shared_run(a: str, b: str) -> int:
    """Length in words of the longest run of consecutive words shared by a and b."""
    x, y = WORD.findall(a.lower()), WORD.findall(b.lower())
    best = 0
    prev = [0] * (len(y) + 1)
    for i in range(1, len(x) + 1):
        cur = [0] * (len(y) + 1)
        for j in range(1, len(y) + 1):
            if x[i - 1] == y[j - 1]:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def load(path: Path) -> tuple[list[dict], list[str]]:
    rows, errors = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON ({e})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {n}: not a JSON object")
            continue
        obj["_line"] = n
        rows.append(obj)
    return rows, errors


def check_splits(rows: list[dict], group_key, errors: list[str]) -> None:
    counts = Counter(r.get("split") for r in rows)
    if counts["dev"] != counts["test"]:
        errors.append(f"splits unbalanced: {counts['dev']} dev vs {counts['test']} test")
    seen: dict[str, int] = defaultdict(int)
    for r in rows:
        key = group_key(r)
        want = "dev" if seen[key] % 2 == 0 else "test"
        seen[key] += 1
        if r.get("split") != want:
            errors.append(f"{r.get('id')}: split {r.get('split')!r}, expected {want!r} (alternation within {key!r})")


def check_corpus(folder: Path, max_run: int) -> int:
    qpath = folder / "questions.jsonl"
    rows, errors = load(qpath)
    warnings: list[str] = []
    docs: dict[str, str] = {}
    ids = Counter(r.get("id") for r in rows)
    for dup, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {dup!r} ({c} times)")
    for r in rows:
        rid = r.get("id", f"line {r['_line']}")
        bad = False
        for field, typ in REQUIRED.items():
            if not isinstance(r.get(field), typ):
                errors.append(f"{rid}: field {field!r} missing or not {typ.__name__}")
                bad = True
        if bad:
            continue
        if not all(isinstance(a, str) and a.strip() for a in r["answer_aliases"]):
            errors.append(f"{rid}: answer_aliases must be non-empty strings")
        if r["hops"] != 1:
            errors.append(f"{rid}: hops should be 1")
        if r["split"] not in ("dev", "test"):
            errors.append(f"{rid}: split must be dev or test")
        if not r["answer"].strip():
            errors.append(f"{rid}: empty answer")
        if r["answer"].strip().lower().rstrip(".") in {"yes", "no"}:
            errors.append(f"{rid}: yes/no answers are not allowed")
        doc_path = folder / "docs" / r["doc"]
        if r["doc"] not in docs:
            if not doc_path.is_file():
                errors.append(f"{rid}: doc {r['doc']!r} not found in {folder}")
                continue
            docs[r["doc"]] = norm(doc_path.read_text(encoding="utf-8"))
        ev = norm(r["evidence"])
        if ev not in docs[r["doc"]]:
            errors.append(f"{rid}: evidence not found in {r['doc']}: {ev[:90]!r}")
        if norm(r["answer"]).lower() not in ev.lower():
            errors.append(f"{rid}: answer {r['answer']!r} not in evidence")
        run = longest_shared_run(r["question"], r["evidence"])
        if run > max_run:
            warnings.append(f"{rid}: question shares a {run}-word run with its evidence")
    check_splits(rows, lambda r: r.get("doc"), errors)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in {"questions.jsonl", "SOURCES.md"})
    unused = sorted(set(files) - {r.get("doc") for r in rows})
    if unused:
        warnings.append(f"documents without questions: {', '.join(unused)}")
    return report(qpath, rows, errors, warnings)


def check_absent(path: Path) -> int:
    rows, errors = load(path)
    ids = Counter(r.get("id") for r in rows)
    for dup, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {dup!r}")
    for r in rows:
        rid = r.get("id", f"line {r['_line']}")
        for field in ("id", "question", "answer", "kind", "split"):
            if not isinstance(r.get(field), str) or not r[field].strip():
                errors.append(f"{rid}: field {field!r} missing")
        if r.get("answer") != "I don't know":
            errors.append(f'{rid}: answer must be "I don\'t know"')
        if r.get("kind") not in ("general", "in-style"):
            errors.append(f"{rid}: kind must be general or in-style")
    check_splits(rows, lambda r: r.get("kind"), errors)
    return report(path, rows, errors, [])


def report(path: Path, rows: list[dict], errors: list[str], warnings: list[str]) -> int:
    splits = Counter(r.get("split") for r in rows)
    for w in warnings:
        print(f"WARN  {w}")
    for e in errors:
        print(f"ERROR {e}")
    status = "FAIL" if errors else "OK"
    print(
        f"{status}: {path} — {len(rows)} questions ({splits['dev']} dev / {splits['test']} test), "
        f"{len(errors)} errors, {len(warnings)} warnings"
    )
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path, help="corpus folders containing questions.jsonl")
    ap.add_argument("--absent", type=Path, action="append", default=[], help="unanswerable-question JSONL file")
    ap.add_argument(
        "--max-run", type=int, default=6, help="warn when a question shares more consecutive words with its evidence"
    )
    args = ap.parse_args(argv)
    if not args.folders and not args.absent:
        ap.error("give at least one corpus folder or --absent FILE")
    rc = 0
    for folder in args.folders:
        rc |= check_corpus(folder, args.max_run)
    for path in args.absent:
        rc |= check_absent(path)
    return rc


if __name__ == "__main__":
    sys.exit(main())
