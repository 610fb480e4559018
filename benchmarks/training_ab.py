"""A/B of the training inputs (issue 22, point 5): the same reflections, trained once per arm, asked the same
questions, paired.

    python -m benchmarks.training_ab [--docs notes/contacts.md,techdocs/truststore.md,...]
                                     [--arms baseline,text,profiles,idk30] [--epochs 3] [--threads 1] [--work DIR]

A memory is built per arm from one synthesis of the chosen documents of benchmarks/corpora (so every arm trains on
the same pairs; only the training inputs differ), exported as `memo build` exports it, and asked memory-only:
- the chosen documents' test questions (the reported figure) and, separately, their dev questions (more pairs of
  answers for the same comparison; no rule here was written from either);
- absent questions: the corpora's test-split absent questions (general knowledge, things never mentioned) and the
  test questions of the other documents of the same genres (the memory never saw those documents): the share
  answered "I don't know", beside the share of answerable questions wrongly answered so (false IDK).
Paired: for each arm against the baseline, the questions it gets right that the baseline misses and the reverse.
A full notes build takes ~67 min on the loaded 2-core host, so the A/B uses a few documents and fewer epochs; arms
are cached in --work (a rerun resumes at the first arm without a result).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.memory_recall import CORPORA, genre_items, idk_rates, report_rows, score

ARMS = {
    "baseline": {},
    "text": {"text_fraction": 0.1},
    "profiles": {"profile_fraction": 0.1},
    "idk30": {"idk_fraction": 0.3},
    "text+profiles": {"text_fraction": 0.1, "profile_fraction": 0.1},
}
DEFAULT_DOCS = "notes/contacts.md,notes/backup-runs.txt,notes/todo.md"


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.training_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", default=DEFAULT_DOCS, help="GENRE/FILE of benchmarks/corpora, comma-separated")
    p.add_argument("--arms", default="baseline,text,profiles,idk30", help=f"of {', '.join(ARMS)}")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is faster on a busy 2-core host)")
    p.add_argument("--absent-other", type=int, default=30, help="other documents' test questions asked as absent")
    p.add_argument("--work", type=Path, default=report.RESULTS_DIR / "cache" / "training_ab")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv)
    a.docs = [d for d in a.docs.split(",") if d]
    a.arms = [x for x in a.arms.split(",") if x]
    for arm in a.arms:
        if arm not in ARMS:
            p.error(f"--arms: unknown arm '{arm}' (expected one of {', '.join(ARMS)})")
    return a


def question_sets(docs: list[str], n_other: int) -> dict:
    """The chosen documents' test and dev questions, and the absent questions (test split)."""
    from memo_edge.records import EvalItem

    chosen = {tuple(d.split("/", 1)) for d in docs}
    genres = sorted({g for g, _ in chosen})
    sets = {"test": [], "dev": [], "absent": []}
    other = []
    for g in genres:
        for split in ("test", "dev"):
            sets[split] += [it for it in genre_items(g, split) if (g, _doc_of(g, it.id)) in chosen]
        other += [it for it in genre_items(g, "test") if (g, _doc_of(g, it.id)) not in chosen]
    absent = [r for r in report_rows(CORPORA / "absent_questions.jsonl") if r["split"] == "test"]
    sets["absent"] = [
        EvalItem(id=f"{r['kind']}:{r['id']}", question=r["question"], answer="I don't know") for r in absent
    ]
    step = max(1, len(other) // max(1, n_other))
    sets["absent"] += [
        it.model_copy(update={"id": f"other documents:{it.id}", "answer": "I don't know"}) for it in other[::step]
    ][:n_other]
    return sets


_DOCS: dict[str, dict[str, str]] = {}


def _doc_of(genre: str, qid: str) -> str:
    if genre not in _DOCS:
        _DOCS[genre] = {r["id"]: r["doc"] for r in report_rows(CORPORA / genre / "questions.jsonl")}
    return _DOCS[genre][qid]


def synthesize_once(docs: list[str], work: Path) -> tuple[Path, Path, dict]:
    from memo_edge.synthesis import synthesize

    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    for d in docs:
        g, name = d.split("/", 1)
        shutil.copy(CORPORA / g / "docs" / name, corpus / name)
    reflections = work / "reflections.jsonl"
    card = synthesize(corpus, reflections, progress=False)
    return corpus, reflections, card


def run_arm(name: str, a, corpus: Path, reflections: Path, sets: dict, log) -> dict:
    from memo_edge.export import export_pack
    from memo_edge.training import TrainConfig, train

    done = a.work / name / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    cfg = TrainConfig(epochs=a.epochs, threads=a.threads, **ARMS[name])
    log(f"arm {name}: {ARMS[name] or 'the defaults'}")
    t = time.perf_counter()
    m = train(reflections, a.work / name / "checkpoint", cfg, progress=False, corpus=corpus)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    pack = export_pack(a.work / name / "checkpoint", a.work / name / "pack", progress=False)
    export_s = time.perf_counter() - t
    t = time.perf_counter()
    test, dev = score(pack, None, "none", items=sets["test"]), score(pack, None, "none", items=sets["dev"])
    abstain = idk_rates(pack, {"predictions": test["predictions"] + dev["predictions"]}, sets["absent"])
    prov = json.loads((a.work / name / "checkpoint" / "memo_train.json").read_text())
    row = {
        "arm": name,
        "config": ARMS[name],
        "counts": prov["counts"],
        "train": {k: m.get(k) for k in ("best_epoch", "recall_em", "recall_f1", "train_em", "idk_rate", "steps")},
        "history": [{k: h.get(k) for k in ("epoch", "recall_f1", "train_f1", "idk_rate")} for h in m["history"]],
        "train_wall_s": round(train_s, 1),
        "export_s": round(export_s, 1),
        "eval_s": round(time.perf_counter() - t, 1),
        "test": test,
        "dev": dev,
        "abstain": abstain,
    }
    done.write_text(json.dumps(row, indent=1), encoding="utf-8")
    return row


def paired(row: dict, base: dict, split: str) -> dict:
    """Questions this arm answers exactly and the baseline does not (wins), and the reverse (losses)."""
    mine = {p["id"]: p["em"] for p in row[split]["predictions"]}
    theirs = {p["id"]: p["em"] for p in base[split]["predictions"]}
    return {
        "wins": sum(1 for k in mine if mine[k] and not theirs.get(k)),
        "losses": sum(1 for k in mine if theirs.get(k) and not mine[k]),
    }


def main(argv=None) -> dict:
    a = parse(argv if argv is not None else sys.argv[1:])
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    head = report.header("training_ab", docs=a.docs, arms=a.arms, epochs=a.epochs, threads=a.threads)
    a.work.mkdir(parents=True, exist_ok=True)
    corpus, reflections, card = synthesize_once(a.docs, a.work)
    sets = question_sets(a.docs, a.absent_other)
    log(
        f"{card['reflections']} reflections from {len(a.docs)} documents; "
        f"{len(sets['test'])} test, {len(sets['dev'])} dev, {len(sets['absent'])} absent questions"
    )
    rows = [run_arm(name, a, corpus, reflections, sets, log) for name in a.arms]
    base = next((r for r in rows if r["arm"] == "baseline"), rows[0])
    for r in rows:
        r["paired"] = {s: paired(r, base, s) for s in ("test", "dev")}
    result = {
        **head,
        "reflections": card["reflections"],
        "questions": {k: len(v) for k, v in sets.items()},
        "rows": rows,
    }
    report.save(a.out, "training_ab", result)
    _table(rows)
    report.emit(
        {
            "benchmark": "training_ab",
            **{
                r["arm"]: {
                    "test_em": r["test"]["em"],
                    "dev_em": r["dev"]["em"],
                    "idk_on_absent": r["abstain"]["idk_on_absent"],
                    "false_idk": r["abstain"]["false_idk_on_answerable"],
                    "train_wall_s": r["train_wall_s"],
                }
                for r in rows
            },
        }
    )
    return result


def _table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        "arm", "examples", "test EM/F1", "dev EM/F1", "wins/losses", "IDK absent", "false IDK", "train s",
        title="Training inputs, A/B on the same questions",
    )  # fmt: skip
    for r in rows:
        w = r["paired"]
        t.add_row(
            r["arm"],
            str(r["counts"]["train"] + r["counts"].get("text_examples", 0) + r["counts"].get("profile_examples", 0)),
            f"{r['test']['em']:.3f}/{r['test']['f1']:.3f}",
            f"{r['dev']['em']:.3f}/{r['dev']['f1']:.3f}",
            f"{w['test']['wins'] + w['dev']['wins']}/{w['test']['losses'] + w['dev']['losses']}",
            f"{r['abstain']['idk_on_absent']:.3f}",
            f"{r['abstain']['false_idk_on_answerable']:.3f}",
            str(r["train_wall_s"]),
        )
    Console(stderr=True).print(t)


if __name__ == "__main__":
    main()
