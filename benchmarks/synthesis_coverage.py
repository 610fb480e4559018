"""Answer coverage of the extractive generator on text nobody on the project wrote: MuSiQue, HotpotQA, 2Wiki
(Wikipedia), technical docs and notes (benchmarks/corpora, questions written before any reflection was read) and
stories (NarrativeQA summaries).

    python -m benchmarks.synthesis_coverage [--split dev,test] [--datasets musique,hotpotqa,2wikimultihopqa]
                                            [--genres techdocs,notes,narrativeqa] [--show-misses N]

Every question file is split by position: questions 0-99 are *dev* (misses may be read and rules written from them),
questions 100-199 are *test* (reported, never read for rules). The genre corpora carry their split per question.
For the Wikipedia datasets the corpus is the split's supporting paragraphs and the gold *hop* answers are tied to the
paragraph that supports them:
- MuSiQue: every step of `question_decomposition` (its answer and `paragraph_support_idx`);
- 2WikiMultiHopQA: every evidence triple (subject, relation, object): the object, from the subject's paragraph;
- HotpotQA: the final answer (yes/no questions excluded) from the supporting paragraph(s) that contain it, and for
  bridge questions the bridge entity (the title of one supporting paragraph that the other mentions).
A hop answer is *covered* when it equals (MuSiQue normalization) the answer of some reflection made from its
paragraph; `in text` is the share whose normalized form occurs in the paragraph at all (the ceiling for any
extractive generator). For the genre corpora the whole folder is synthesized and a question is covered when a
reflection of its document has its answer (or an alias) as the answer; `in answers` counts the looser case of an
answer that contains it (a statement reflection). `coverage_typed` counts wh-questions only: no fill-in (cloze)
and no statement reflection; the gap to `coverage` is what the fill-ins add. Also reported: pairs per 100 words, the share of sentences that
yielded a pair, and what the quality filter dropped. The run goes through `memo synthesize`'s code (synthesize()).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report
from memo_edge.datasets import SPLITS, split_rows

DATASETS = ("musique", "hotpotqa", "2wikimultihopqa")
GENRES = ("techdocs", "notes", "narrativeqa")
CORPORA = Path(__file__).resolve().parent / "corpora"
NOT_WH_QUESTIONS = ("cloze", "statement")  # left out of coverage_typed: fill-ins and whole-sentence statements


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.synthesis_coverage", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--genres", default=",".join(GENRES), help="other genres: " + ", ".join(GENRES))
    p.add_argument("--split", default="dev,test", help="dev (questions 0-99), test (100-199) or both")
    p.add_argument("--n", type=int, default=None, help="questions per split (default 100; --quick 15)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    p.add_argument("--show-misses", type=int, default=0, help="print this many uncovered hop answers per dataset")
    p.add_argument(
        "--wild-markdown",
        type=int,
        default=0,
        help="also synthesize from this many Markdown READMEs of installed packages (notes-like text "
        "nobody here wrote: headings, bullets, tables, code); 0 = off",
    )
    a = p.parse_args(argv)
    a.n = a.n or (15 if a.quick else 100)
    a.splits = [x for x in a.split.split(",") if x]
    if not set(a.splits) <= set(SPLITS):
        p.error(f"--split: expected dev and/or test, got {a.split!r}")
    return a


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hops_musique(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(title, paragraph text, gold hop answer) for every decomposition step."""
    out = []
    for row in rows:
        paras = {p["idx"]: p for p in row["paragraphs"]}
        for step in row["question_decomposition"]:
            p = paras.get(step.get("paragraph_support_idx"))
            if p is not None and str(step.get("answer", "")).strip():
                out.append((p["title"], p["paragraph_text"], str(step["answer"])))
    return out


def _context(row: dict, joiner: str) -> dict[str, str]:
    return {t: joiner.join(s).strip() for t, s in row.get("context") or []}


def _support_titles(row: dict) -> list[str]:
    facts = row.get("supporting_facts", [])
    if isinstance(facts, str):
        facts = ast.literal_eval(facts)
    return list(dict.fromkeys(t for t, _ in facts))


def hops_2wiki(rows: list[dict]) -> list[tuple[str, str, str]]:
    from memo_edge.metrics import normalize_answer as norm

    out = []
    for row in rows:
        ctx = _context(row, " ")
        if not ctx:
            continue
        evidences = row.get("evidences") or []
        if isinstance(evidences, str):
            evidences = ast.literal_eval(evidences)
        support = _support_titles(row)
        for subj, _rel, obj in evidences:
            title = (
                next((t for t in support if norm(t) == norm(subj)), None)
                or next((t for t in support if norm(subj) in norm(t) or norm(t) in norm(subj)), None)
                or next((t for t in support if norm(str(obj)) in norm(ctx.get(t, ""))), None)
            )
            if title in ctx:
                out.append((title, ctx[title], str(obj)))
    return out


def hops_hotpot(rows: list[dict]) -> list[tuple[str, str, str]]:
    from memo_edge.metrics import normalize_answer as norm

    out = []
    for row in rows:
        ctx = _context(row, "")
        support = [t for t in _support_titles(row) if t in ctx]
        ans = str(row["answer"])
        if norm(ans) not in ("yes", "no"):
            holders = [t for t in support if norm(ans) in norm(ctx[t])] or support[:1]
            out += [(t, ctx[t], ans) for t in holders[:1]]
        if row.get("type") == "bridge" and len(support) == 2:
            a, b = support
            for bridge, other in ((a, b), (b, a)):
                name = re.sub(r"\s*\([^)]*\)$", "", bridge)
                if norm(name) in norm(ctx[other]) and norm(name) != norm(ans):
                    out.append((other, ctx[other], name))
                    break
    return out


def load_hops(name: str, split: str, n: int) -> list[tuple[str, str, str]]:
    from memo_edge import datasets

    rows = split_rows(_rows(datasets.benchdata_root() / datasets.FILES[name]), split, n)
    if name == "musique":
        return hops_musique(rows)
    rows = [r for r in rows if r.get("context")]
    return hops_2wiki(rows) if name == "2wikimultihopqa" else hops_hotpot(rows)


def measure(name: str, hops: list[tuple[str, str, str]], show_misses: int, log) -> dict:
    from memo_edge.corpus import content_id
    from memo_edge.metrics import normalize_answer as norm
    from memo_edge.records import load_reflections
    from memo_edge.synthesis import SynthesisConfig, synthesize

    paras: dict[tuple[str, str], str] = {}
    for title, text, _ in hops:
        paras.setdefault((title, text), content_id(title, text))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "corpus.jsonl").write_text(
            "".join(json.dumps({"title": t, "text": x}) + "\n" for t, x in paras), encoding="utf-8"
        )
        out = Path(tmp) / "reflections.jsonl"
        t0 = time.perf_counter()
        card = synthesize(corpus, out, SynthesisConfig(), progress=False)
        wall = time.perf_counter() - t0
        refl = list(load_reflections(out))
    answers: dict[str, set[str]] = {}
    typed: dict[str, set[str]] = {}  # answers of wh-questions only (no fill-ins, no statements)
    for r in refl:
        for d in r.source_doc_ids:
            answers.setdefault(d, set()).add(norm(r.answer))
            if r.type not in NOT_WH_QUESTIONS:
                typed.setdefault(d, set()).add(norm(r.answer))
    covered = in_text = asked = 0
    misses = []
    for title, text, gold in hops:
        doc = paras[(title, text)]
        g = norm(gold)
        hit = g in answers.get(doc, set())
        covered += hit
        asked += g in typed.get(doc, set())
        present = f" {g} " in f" {norm(text)} "
        in_text += present
        if not hit:
            misses.append({"title": title, "gold": gold, "in_text": present})
    words = sum(len(t.split()) for _, t in paras)
    filtered = card["step_stats"].get("quality_filter", {})
    candidates = len(refl) + sum(filtered.values())
    row = {
        "dataset": name,
        "hops": len(hops),
        "paragraphs": len(paras),
        "words": words,
        "reflections": len(refl),
        **typed_stats(refl),
        "per_100_words": round(100 * len(refl) / max(1, words), 1),
        "coverage": round(covered / max(1, len(hops)), 3),
        "coverage_typed": round(asked / max(1, len(hops)), 3),
        "in_text": round(in_text / max(1, len(hops)), 3),
        "coverage_of_in_text": round(covered / max(1, in_text), 3),
        "sentence_yield": card["coverage"].get("sentence_yield"),
        "stating_sentence_yield": card["coverage"].get("stating_sentence_yield"),
        "filter_pass": round(1 - sum(filtered.values()) / max(1, candidates), 3),
        "filtered": filtered,
        "ambiguous_removed": card["ambiguous_removed"],
        "wall_s": round(wall, 1),
    }
    if show_misses:
        log(f"{name}: uncovered hop answers (first {show_misses}):")
        for m in misses[:show_misses]:
            log(f"  {m['gold']!r} from {m['title']!r}{'' if m['in_text'] else ' (not in the text)'}")
    return row


def wild_markdown(n: int) -> list[tuple[str, str]]:
    """(name, markdown) of installed packages' long descriptions: text with headings, bullets, tables and code
    that nobody on this project wrote (there is no gold, so only coverage statistics are reported)."""
    from importlib import metadata

    seen, out = set(), []
    for d in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = d.metadata["Name"] or ""
        body = d.metadata.get_payload() or d.metadata.get("Description") or ""
        if (
            name.lower() in seen
            or name == "memo-edge"
            or "markdown" not in (d.metadata.get("Description-Content-Type") or "")
            or len(body.split()) < 300
        ):
            continue
        seen.add(name.lower())
        out.append((name, body))
    return out[:n]


def measure_wild(docs: list[tuple[str, str]]) -> dict:
    from memo_edge.synthesis import SynthesisConfig, synthesize

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for name, body in docs:
            (corpus / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.md").write_text(body, encoding="utf-8")
        t0 = time.perf_counter()
        card = synthesize(corpus, Path(tmp) / "r.jsonl", SynthesisConfig(), progress=False)
        wall = time.perf_counter() - t0
    cov = card["coverage"]
    filtered = card["step_stats"].get("quality_filter", {})
    words = sum(r["words"] for r in cov["per_document"])
    return {
        "dataset": f"package READMEs ({len(docs)})",
        "documents": len(docs),
        "words": words,
        "reflections": card["reflections"],
        "per_100_words": round(100 * card["reflections"] / max(1, words), 1),
        "sentence_yield": cov.get("sentence_yield"),
        "low_coverage_documents": cov["low_coverage_documents"],
        "filter_pass": round(1 - sum(filtered.values()) / max(1, card["reflections"] + sum(filtered.values())), 3),
        "filtered": filtered,
        "wall_s": round(wall, 1),
    }


def typed_stats(refl: list) -> dict:
    """Short-answer pairs (not statements): how many, and questions per fact (distinct answer in one document)."""
    from memo_edge.metrics import normalize_answer as norm

    typed = [r for r in refl if r.type in ("direct", "indirect")]
    facts = {(norm(r.answer), tuple(r.source_doc_ids)) for r in typed}
    by_type: dict[str, int] = {}
    for r in refl:
        by_type[r.type] = by_type.get(r.type, 0) + 1
    return {"by_type": by_type, "phrasings_per_fact": round(len(typed) / max(1, len(facts)), 2)}


def _synthesize_folder(corpus: Path) -> tuple[dict, list, float]:
    """Run synthesis on a corpus folder: (card, reflections, wall seconds)."""
    from memo_edge.records import load_reflections
    from memo_edge.synthesis import SynthesisConfig, synthesize

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reflections.jsonl"
        t0 = time.perf_counter()
        card = synthesize(corpus, out, SynthesisConfig(), progress=False)
        return card, list(load_reflections(out)), time.perf_counter() - t0


def genre_sets(name: str, root: Path) -> dict:
    """{corpus folder, questions by split, documents by file name} of a genre; narrativeqa's are written to root."""
    from memo_edge import datasets

    if name != "narrativeqa":
        folder = CORPORA / name
        qs = _rows(folder / "questions.jsonl")
        return {"corpus": folder / "docs", "questions": {s: [q for q in qs if q["split"] == s] for s in SPLITS}}
    rows = _rows(datasets.benchdata_root() / datasets.FILES["narrativeqa"])
    corpus = root / "narrativeqa"
    corpus.mkdir(parents=True, exist_ok=True)
    questions = {}
    for split in SPLITS:
        items = []
        for k, r in enumerate(split_rows(rows, split)):
            doc = f"story-{content_id_of(r['passage'])}.md"
            if not (corpus / doc).exists():
                (corpus / doc).write_text(r["passage"], encoding="utf-8")
            items.append(
                {
                    "id": f"nqa-{split}-{k}",
                    "question": r["question"],
                    "answer": r["answer"][0],
                    "answer_aliases": r["answer"][1:],
                    "doc": doc,
                    "split": split,
                }
            )
        questions[split] = items
    return {"corpus": corpus, "questions": questions}


def content_id_of(text: str) -> str:
    from memo_edge.corpus import content_id

    return content_id(text, n=10)


def measure_genre(name: str, sets: dict, splits: list[str], show_misses: int, log) -> list[dict]:
    """Coverage of a genre's gold answers by reflections of their own document, per split."""
    from memo_edge.metrics import f1 as f1_score
    from memo_edge.metrics import normalize_answer as norm

    card, refl, wall = _synthesize_folder(sets["corpus"])
    by_source = {r["doc_id"]: r["source"] for r in card["coverage"]["per_document"]}
    answers: dict[str, list[str]] = {}
    typed: dict[str, set[str]] = {}  # answers of wh-questions only (no fill-ins, no statements)
    for r in refl:
        for d in r.source_doc_ids:
            source = Path(str(by_source.get(d, d))).name
            answers.setdefault(source, []).append(norm(r.answer))
            if r.type not in NOT_WH_QUESTIONS:
                typed.setdefault(source, set()).add(norm(r.answer))
    cov = card["coverage"]
    words = sum(r["words"] for r in cov["per_document"])
    filtered = card["step_stats"].get("quality_filter", {})
    rows = []
    for split in splits:
        qs = sets["questions"][split]
        exact = contained = asked = 0
        best_f1 = []
        misses = []
        for q in qs:
            golds = {norm(x) for x in [q["answer"], *q.get("answer_aliases", [])] if norm(x)}
            mine = answers.get(q["doc"], [])
            hit = bool(golds & set(mine))
            inside = hit or any(f" {g} " in f" {a} " for g in golds for a in mine)
            exact += hit
            asked += bool(golds & typed.get(q["doc"], set()))
            contained += inside
            best_f1.append(max((f1_score(a, g) for a in mine for g in golds), default=0.0))
            if not hit:
                misses.append(q)
        rows.append(
            {
                "dataset": name,
                "split": split,
                "questions": len(qs),
                "documents": len(cov["per_document"]),
                "words": words,
                "reflections": len(refl),
                **typed_stats(refl),
                "per_100_words": round(100 * len(refl) / max(1, words), 1),
                "coverage": round(exact / max(1, len(qs)), 3),
                "coverage_typed": round(asked / max(1, len(qs)), 3),
                "in_answers": round(contained / max(1, len(qs)), 3),
                "best_answer_f1": round(sum(best_f1) / max(1, len(best_f1)), 3),
                "sentence_yield": cov.get("sentence_yield"),
                "stating_sentence_yield": cov.get("stating_sentence_yield"),
                "filter_pass": round(1 - sum(filtered.values()) / max(1, len(refl) + sum(filtered.values())), 3),
                "filtered": filtered,
                "wall_s": round(wall, 1),
            }
        )
        if show_misses and split == "dev":  # test misses are never printed: they are not read for rules
            log(f"{name} dev: answers no reflection gives (first {show_misses}):")
            for m in misses[:show_misses]:
                log(f"  {m['answer']!r} for {m['question']!r} ({m['doc']})")
    return rows


def main(argv=None) -> dict:
    a = parse(argv if argv is not None else sys.argv[1:])
    log = lambda *x: print(*x, file=sys.stderr)  # noqa: E731
    # the code and the machine as the run starts, not as it ends
    head = report.header("synthesis_coverage", n=a.n, datasets=a.datasets, genres=a.genres, splits=a.splits)
    rows = []
    for name in [x for x in a.datasets.split(",") if x]:
        for split in a.splits:
            hops = load_hops(name, split, a.n)
            log(f"{name} {split}: {len(hops)} hop answers from {min(a.n, 100)} questions")
            row = measure(name, hops, a.show_misses if split == "dev" else 0, log)
            rows.append({**row, "split": split})
    with tempfile.TemporaryDirectory() as tmp:
        for name in [x for x in a.genres.split(",") if x]:
            log(f"{name}: synthesizing")
            rows += measure_genre(name, genre_sets(name, Path(tmp)), a.splits, a.show_misses, log)
    wild = measure_wild(wild_markdown(a.wild_markdown)) if a.wild_markdown else None
    result = {
        **head,
        "rows": rows,
        "wild_markdown": wild,
    }
    _table(rows)
    if wild:
        log(
            f"{wild['dataset']}: {wild['reflections']} pairs from {wild['words']} words ({wild['per_100_words']} per "
            f"100 words), sentence yield {wild['sentence_yield']}, filter pass {wild['filter_pass']}, "
            f"low coverage: {len(wild['low_coverage_documents'])} of {wild['documents']} "
            f"({', '.join(wild['low_coverage_documents'][:8])})"
        )
    name = "synthesis_coverage" + ("" if a.split == "dev,test" else f"-{a.split}")
    _plot(rows, a.out / f"{name}.png")
    report.save(a.out, name, result)
    report.emit(
        {
            "benchmark": "synthesis_coverage",
            "coverage": {f"{r['dataset']}/{r['split']}": r["coverage"] for r in rows},
            "sentence_yield": {f"{r['dataset']}/{r['split']}": r["sentence_yield"] for r in rows},
        }
    )
    return result


def _table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        "dataset",
        "split",
        "gold",
        "paras",
        "words",
        "pairs",
        "pairs/100w",
        "coverage",
        "in text",
        "in text/answers",
        "sent. yield",
        "filter pass",
        title="Extractive answer coverage (gold hop answers)",
    )
    for r in rows:
        t.add_row(
            r["dataset"],
            r["split"],
            str(r.get("hops", r.get("questions"))),
            str(r.get("paragraphs", r.get("documents"))),
            str(r["words"]),
            str(r["reflections"]),
            str(r["per_100_words"]),
            f"{100 * r['coverage']:.1f}%",
            f"{100 * r['in_text']:.1f}%" if "in_text" in r else "-",
            f"{100 * r.get('coverage_of_in_text', r.get('in_answers', 0)):.1f}%",
            f"{100 * (r['sentence_yield'] or 0):.0f}%",
            f"{100 * r['filter_pass']:.1f}%",
        )
    Console(stderr=True).print(t)


def _plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 3.6))
    names = [f"{r['dataset']}\n{r['split']}" for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [100 * r["coverage"] for r in rows], 0.4, label="covered by a reflection")
    ax.bar(
        [i + 0.2 for i in x],
        [100 * r.get("in_text", r.get("in_answers", 0)) for r in rows],
        0.4,
        label="in the paragraph (Wikipedia) / inside an answer (genres)",
    )
    ax.axhline(85, color="grey", linestyle="--", linewidth=1, label="goal 85% (test)")
    ax.set_xticks(list(x), names, fontsize=7)
    ax.set_ylabel("% of gold hop answers")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
