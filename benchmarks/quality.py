"""Answer quality (EM/F1, official MuSiQue normalization, per hop count): closed-book vs BM25-RAG vs MeMo.

    python -m benchmarks.quality [--datasets demo,musique] [--n 30] [--distractors 1] [--quick]
                                 [--memory-pack demo=PACK_DIR] [--build] [--executive-url URL]
                                 [--judge-url URL --judge-model NAME]

All systems use the same small model and the same engine: closed-book and BM25-RAG run the *base* model
(SmolLM2-135M-Instruct, exported once with export_pack) through memo_edge.runtime.Engine; MeMo runs a memory pack
fine-tuned on the dataset's corpus (`--memory-pack NAME=DIR`, or `--build` trains one with `memo build`'s
pipeline: extractive synthesis -> full fine-tune -> int8 pack, which costs tens of minutes per corpus on 2 CPU
cores). MeMo is scored memory-only (`--executive none`), with the oracle executive (gold decompositions, #k
substituted with the memory's own answers) and, with `--executive-url`, with an OpenAI-compatible executive.
With `--judge-url`, an OpenAI-compatible LLM also grades the MeMo rows' answers (a "judge" column).

Robustness: the same questions over the corpus plus factor x N extra same-domain distractor documents (RAG
retrieves from the bigger corpus; a memory is rebuilt on it when --build is given).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks import report

REPO = Path(__file__).resolve().parent.parent
QA_SYSTEM = "Answer the question with a short answer only: a name, a date, a number or a few words."
RAG_SYSTEM = (
    "Answer the question using the passages. Reply with a short answer only: a name, a date, a number or a few words."
)


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--datasets",
        default="demo,musique",
        help="comma-separated: demo, musique, hotpotqa, 2wikimultihopqa, narrativeqa",
    )
    p.add_argument("--n", type=int, default=None, help="questions per benchmark dataset (default 30; --quick 10)")
    p.add_argument(
        "--distractors", type=float, default=1.0, help="robustness run: factor x N extra documents (0 = off)"
    )
    p.add_argument("--top-k", type=int, default=3, help="BM25 passages in the RAG context")
    p.add_argument("--base", default="smollm2-135m-instruct", help="base model name or checkpoint dir")
    p.add_argument("--precision", default="int8", help="precision of the base pack and of built memory packs")
    p.add_argument(
        "--memory-pack",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="memory pack for a dataset (NAME, or NAME+d for its distractor corpus); repeatable",
    )
    p.add_argument("--build", action="store_true", help="train memory packs that were not given (slow on CPU)")
    p.add_argument("--max-pairs", type=int, default=None, help="extractive reflections per corpus when building")
    p.add_argument("--epochs", type=int, default=None, help="training epochs when building")
    p.add_argument("--executive-url", default=None, help="OpenAI-compatible executive for a MeMo+executive row")
    p.add_argument("--executive-model", default=None)
    p.add_argument("--judge-url", default=None, help="OpenAI-compatible LLM judge for the MeMo rows (judge column)")
    p.add_argument("--judge-model", default=None)
    p.add_argument("--systems", default="closed,rag,memo", help="comma-separated subset of: closed, rag, memo")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--quick", action="store_true", help="10 questions, distractor run only for closed-book/RAG")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    p.add_argument("--cache", type=Path, default=None)
    a = p.parse_args(argv)
    a.n = a.n or (10 if a.quick else 30)
    a.cache = a.cache or a.out / "cache"
    a.packs = {}
    for spec in a.memory_pack:
        name, eq, path = spec.partition("=")
        if not eq:
            p.error(f"--memory-pack {spec!r}: expected NAME=DIR")
        a.packs[name] = Path(path)
    return a


# ---------------------------------------------------------------- data


def load_sets(a, log) -> list:
    from memo_edge import datasets
    from memo_edge.corpus import load_corpus
    from memo_edge.records import load_eval_items

    out = []
    for name in [x for x in a.datasets.split(",") if x]:
        if name == "demo":
            demo = REPO / "memo_edge" / "demo"
            docs = [{"id": d.doc_id, "title": d.title, "text": d.text} for d in load_corpus(demo / "corpus")]
            # the memory is built from the original Markdown files (their date lines and titles)
            bench = datasets.BenchSet(
                "demo", load_eval_items(demo / "questions.jsonl"), docs, [], {"corpus_dir": str(demo / "corpus")}
            )
            out.append((bench, None))
            continue
        bench = datasets.load(name, n=a.n, **({"stratify": True} if name == "musique" else {}))
        out.append((bench, datasets.with_distractors(bench, a.distractors, seed=0) if a.distractors else None))
        log(
            f"{name}: {len(bench.items)} questions, corpus {len(bench.docs)} docs"
            + (f", +{out[-1][1].meta['distractors']} distractors" if a.distractors else "")
        )
    return out


# ---------------------------------------------------------------- base model systems (same Engine)


def base_pack(a, log) -> Path:
    from memo_edge.models import resolve_model

    ckpt = Path(resolve_model(a.base))
    dst = a.cache / f"base-{ckpt.name}-{a.precision}"
    if not (dst / "manifest.json").is_file():
        from memo_edge.export import export_pack

        log(f"export base model {ckpt.name} ({a.precision}) -> {dst}")
        export_pack(ckpt, dst, format="onnx", precision=a.precision, verify=False, progress=False)
    return dst


# A 135M base model answers in full sentences unless shown the format; two generic demonstrations (no dataset
# content) make closed-book and RAG answer short, like the memory model was trained to, so EM/F1 compare fairly.
QA_SHOTS = [("Who wrote the novel Moby-Dick?", "Herman Melville"), ("In what year did the Berlin Wall fall?", "1989")]
RAG_SHOTS = [
    (
        "Passages:\n[1] Lake Bled: Lake Bled is a lake in the Julian Alps in north-western Slovenia, next to "
        "the town of Bled.\n\nQuestion: In which country is Lake Bled?",
        "Slovenia",
    )
]


def chat(system: str, user: str, shots: list[tuple[str, str]] = ()) -> str:
    turns = "".join(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n" for q, a in shots)
    return f"<|im_start|>system\n{system}<|im_end|>\n{turns}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def contains_gold(prediction: str, golds: list[str]) -> float:
    """Lenient accuracy: a normalized gold answer (or alias) occurs inside the normalized prediction."""
    from memo_edge.metrics import normalize_answer

    p = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(g)} " in p for g in golds if normalize_answer(g)))


def scored(items, preds) -> dict:
    from memo_edge.evaluate import score

    res = score(items, preds)
    for row, it in zip(res["predictions"], items):
        row["contains"] = contains_gold(row["predicted_answer"], [it.answer, *it.answer_aliases])
    res["contains"] = sum(r["contains"] for r in res["predictions"]) / max(len(items), 1)
    return res


def short_answer(text: str) -> str:
    """First line, without a leading 'Answer:' (small base models like to add one)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    for lead in ("Answer:", "A:", "The answer is"):
        if line.lower().startswith(lead.lower()):
            line = line[len(lead) :]
    return line.strip()


def generate(engine, prompts: list[str], a) -> tuple[list[str], list[float]]:
    out, per_q = [], []
    for i in range(0, len(prompts), a.batch_size):
        t = time.perf_counter()
        comps = engine.generate(prompts[i : i + a.batch_size], max_new_tokens=a.max_new_tokens, temperature=0.0)
        dt = (time.perf_counter() - t) / len(comps)
        out += [short_answer(c.text) for c in comps]
        per_q += [dt] * len(comps)
    return out, per_q


class BM25:
    """bm25s over title + text of each document; the same tokenization for corpus and queries."""

    def __init__(self, docs: list[dict]):
        import bm25s

        self.bm25s = bm25s
        self.docs = docs
        self.r = bm25s.BM25()
        self.r.index(
            bm25s.tokenize([f"{d['title']} {d['text']}" for d in docs], stopwords="en", show_progress=False),
            show_progress=False,
        )

    def top(self, queries: list[str], k: int) -> list[list[dict]]:
        k = min(k, len(self.docs))
        idx, _ = self.r.retrieve(
            self.bm25s.tokenize(queries, stopwords="en", show_progress=False), k=k, show_progress=False
        )
        return [[self.docs[int(j)] for j in row] for row in idx]


def rag_prompt(question: str, passages: list[dict]) -> str:
    ctx = "\n\n".join(f"[{i + 1}] {p['title']}: {p['text']}" for i, p in enumerate(passages))
    return chat(RAG_SYSTEM, f"Passages:\n{ctx}\n\nQuestion: {question}", RAG_SHOTS)


def run_closed_book(engine, items, a) -> dict:
    answers, lat = generate(engine, [chat(QA_SYSTEM, it.question, QA_SHOTS) for it in items], a)
    res = scored(items, [{"predicted_answer": x} for x in answers])
    res["sec_per_question"] = sum(lat) / max(len(lat), 1)
    return res


def run_rag(engine, items, docs, a) -> dict:
    index = BM25(docs)
    t = time.perf_counter()
    hits = index.top([it.question for it in items], a.top_k)
    retrieve_s = (time.perf_counter() - t) / max(len(items), 1)
    prompts = [rag_prompt(it.question, h) for it, h in zip(items, hits)]
    answers, lat = generate(engine, prompts, a)
    res = scored(items, [{"predicted_answer": x, "retrieved": [d["title"] for d in h]} for x, h in zip(answers, hits)])
    res["sec_per_question"] = sum(lat) / max(len(lat), 1) + retrieve_s
    res["context_tokens"] = sum(len(engine.encode(p)) for p in prompts) / max(len(prompts), 1)
    return res


# ---------------------------------------------------------------- MeMo systems


def memory_pack_for(a, bench, key: str, log) -> Path | None:
    if key in a.packs:
        return a.packs[key]
    if not a.build:
        return None
    from memo_edge.build import build
    from memo_edge.config import BuildConfig

    work = a.cache / "memories" / f"{key}-n{len(bench.items)}-{len(bench.docs)}docs"
    out = work / "pack"
    if (out / "manifest.json").is_file():
        return out
    corpus_dir = (
        Path(bench.meta["corpus_dir"]) if "corpus_dir" in bench.meta else bench.write(work / "data")["corpus_dir"]
    )
    synthesis = {"max_pairs": a.max_pairs} if a.max_pairs else {}
    train = {"epochs": a.epochs} if a.epochs else {}
    train["threads"] = a.threads
    log(f"[{key}] building a memory pack: {len(bench.docs)} docs -> {out} (this trains a model on CPU)")
    t = time.perf_counter()
    build(
        BuildConfig(
            corpus=corpus_dir,
            out=out,
            base=a.base,
            precision=a.precision,
            work_dir=work / "build",
            synthesis=synthesis,
            train=train,
        ),
        log=log,
        progress=False,
    )
    log(f"[{key}] memory built in {time.perf_counter() - t:.0f}s")
    return out


def run_memo(pack: Path, items, executive: str, a) -> dict:
    from memo_edge.evaluate import evaluate
    from memo_edge.judge import JudgeConfig
    from memo_edge.runtime.config import ExecutiveConfig

    usable = items if executive != "oracle" else [it for it in items if it.decomposition]
    if not usable:
        return {"skipped": "no gold decompositions"}
    res = evaluate(
        pack,
        usable,
        ExecutiveConfig(executive=executive, executive_model=a.executive_model or "default"),
        batch_size=a.batch_size,
        progress=False,
        judge=JudgeConfig(judge_url=a.judge_url, judge_model=a.judge_model or "default"),
    )
    res.update({k: v for k, v in scored(usable, res["predictions"]).items() if k == "contains"})
    res["sec_per_question"] = res["wall_s"] / max(len(usable), 1)
    return res


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    a = parse(argv if argv is not None else sys.argv[1:])
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    import os

    os.environ.setdefault("MEMO_THREADS", str(a.threads))
    from memo_edge.runtime import Engine

    head = report.header(
        "quality",
        datasets=a.datasets,
        n=a.n,
        distractors=a.distractors,
        top_k=a.top_k,
        base=a.base,
        precision=a.precision,
        threads=a.threads,
        quick=a.quick,
        max_new_tokens=a.max_new_tokens,
        memory_packs={k: str(v) for k, v in a.packs.items()},
        build=a.build,
        executive_url=bool(a.executive_url),
        **({"judge_model": a.judge_model or "default"} if a.judge_url else {}),
    )
    engine = Engine(base_pack(a, log), threads=a.threads)
    results = []
    for bench, noisy in load_sets(a, log):
        variants = [("clean", bench)] + ([("+distractors", noisy)] if noisy is not None else [])
        for variant, b in variants:
            key = bench.name + ("" if variant == "clean" else "+d")
            items = b.items
            row = lambda system, res: results.append(  # noqa: E731
                {
                    "dataset": bench.name,
                    "corpus": variant,
                    "docs": len(b.docs),
                    "system": system,
                    **res,
                }
            )
            systems = set(a.systems.split(","))
            if variant == "clean" and "closed" in systems:
                log(f"[{key}] closed-book")
                row("closed-book", run_closed_book(engine, items, a))
            if "rag" in systems:
                log(f"[{key}] BM25-RAG top-{a.top_k}")
                row(f"BM25-RAG k={a.top_k}", run_rag(engine, items, b.docs, a))
            if "memo" not in systems or a.quick and variant != "clean" and key not in a.packs:
                continue
            pack = memory_pack_for(a, b, key, log)
            if pack is None:
                row("MeMo memory-only", {"skipped": f"no memory pack (pass --memory-pack {key}=DIR or --build)"})
                continue
            log(f"[{key}] MeMo memory-only / oracle ({pack})")
            row("MeMo memory-only", run_memo(pack, items, "none", a))
            row("MeMo oracle executive", run_memo(pack, items, "oracle", a))
            if a.executive_url:
                row("MeMo + executive", run_memo(pack, items, a.executive_url, a))
    doc = {**head, "results": [{k: v for k, v in r.items() if k != "predictions"} for r in results]}
    md = render(doc)
    print(md)
    name = "quality-quick" if a.quick else "quality"
    report.save(a.out, name, {**doc, "predictions": results}, md)
    plot(doc, a.out / f"{name}.png")
    keys = (
        "dataset",
        "corpus",
        "docs",
        "system",
        "n",
        "em",
        "f1",
        "contains",
        "per_hop",
        "skipped",
        "sec_per_question",
        "context_tokens",
    ) + (("judge",) if a.judge_url else ())
    report.emit(
        {k: doc[k] for k in ("benchmark", "date_utc", "settings")}
        | {"results": [{k: r.get(k) for k in keys} for r in doc["results"]]}
    )
    return 0


def render(doc: dict) -> str:
    f = report.fmt
    rows = []
    hops = sorted({h for r in doc["results"] for h in r.get("per_hop", {})}, key=int)
    judged = any("judge" in r for r in doc["results"])  # the judge column only exists when --judge-url was given
    for r in doc["results"]:
        if "skipped" in r:
            rows.append(
                [
                    r["dataset"],
                    r["corpus"],
                    r["docs"],
                    r["system"],
                    "-",
                    "-",
                    "-",
                    "-",
                    *["-"] * judged,
                    *["-"] * len(hops),
                    "-",
                    r["skipped"],
                ]
            )
            continue
        jd = [f(r["judge"]["judge_accuracy"] * 100) if "judge" in r else "-"] if judged else []
        ph = [
            f"{f(r['per_hop'][h]['em'] * 100)} / {f(r['per_hop'][h]['f1'] * 100)} ({r['per_hop'][h]['n']})"
            if h in r["per_hop"]
            else "-"
            for h in hops
        ]
        rows.append(
            [
                r["dataset"],
                r["corpus"],
                r["docs"],
                r["system"],
                r["n"],
                f(r["em"] * 100),
                f(r["f1"] * 100),
                f(r.get("contains", 0) * 100),
                *jd,
                *ph,
                f(r.get("sec_per_question"), 2),
                f(r.get("context_tokens"), 0) if "context_tokens" in r else "",
            ]
        )
    cols = [
        "dataset",
        "corpus",
        "docs",
        "system",
        "n",
        "EM",
        "F1",
        "contains gold",
        *["judge"] * judged,
        *[f"{h}-hop EM / F1 (n)" for h in hops],
        "s / question",
        "RAG context tokens",
    ]
    s = doc["settings"]
    return "\n".join(
        [
            f"## Answer quality ({doc['date_utc']} UTC{', --quick' if s['quick'] else ''}; base "
            f"{s['base']} {s['precision']}, {s['threads']} threads)",
            "",
            report.markdown_table(cols, rows),
            "",
        ]
    )


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["results"] if "f1" in r]
    if not rows:
        return
    groups = list(dict.fromkeys(f"{r['dataset']} {r['corpus']}" for r in rows))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(8, 2.2 * len(groups)), 5))
    w = 0.8 / len(systems)
    for j, sysname in enumerate(systems):
        vals = [
            next((r["f1"] * 100 for r in rows if f"{r['dataset']} {r['corpus']}" == g and r["system"] == sysname), 0)
            for g in groups
        ]
        ax.bar([i + j * w for i in range(len(groups))], vals, w, label=sysname)
    ax.set_xticks([i + 0.4 - w / 2 for i in range(len(groups))], groups)
    ax.set_ylabel("answer F1 (%)")
    ax.set_title(f"memo-edge answer quality ({doc['date_utc']} UTC{', --quick' if doc['settings']['quick'] else ''})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
