"""Scaling: per-question cost as the corpus grows 1x -> 10x, a memory call next to BM25-RAG, same engine.

    python -m benchmarks.scaling [--dataset musique] [--n 20] [--factors 1,2,5,10] [--memory-pack DIR] [--quick]

The corpus at factor F is the dataset slice's corpus plus (F-1) x N same-domain distractor paragraphs. BM25-RAG
indexes it and puts the top-k passages in the base model's context; we time retrieval, prompt length and the
generation (time to first token = prefill of the context, and the whole short answer). A MEMORY model never reads
the corpus at query time: a memory trained on the 10x corpus has the same architecture and file size as one
trained on the 1x corpus, so its per-call cost is that of the pack (measured here at every factor, which also
shows the run-to-run noise). What grows with the corpus for MeMo is training time, not answer time (see
benchmarks/training_throughput.py). The whole-corpus token count is listed as the long-context alternative.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.quality import BM25, base_pack, chat, QA_SYSTEM, rag_prompt  # noqa: F401


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="musique")
    p.add_argument("--n", type=int, default=None, help="questions (default 20; --quick 8)")
    p.add_argument("--factors", default=None, help="corpus multipliers (default 1,2,5,10; --quick 1,5,10)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument(
        "--memory-pack",
        type=Path,
        default=None,
        help="memory pack to time (default: the base model exported at --precision, same architecture)",
    )
    p.add_argument("--base", default="smollm2-135m-instruct")
    p.add_argument("--precision", default="int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    p.add_argument("--cache", type=Path, default=None)
    a = p.parse_args(argv)
    a.n = a.n or (8 if a.quick else 20)
    a.factors = [float(x) for x in (a.factors or ("1,5,10" if a.quick else "1,2,5,10")).split(",")]
    a.cache = a.cache or a.out / "cache"
    return a


def timed_generate(engine, prompt: str, max_new: int, prefix: str | None = None) -> tuple[float, float]:
    t = time.perf_counter()
    c = engine.generate([prompt], max_new_tokens=max_new, temperature=0.0, prefix=prefix)[0]
    return c.ttft_s, time.perf_counter() - t


def main(argv=None) -> int:
    a = parse(argv if argv is not None else sys.argv[1:])
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    from memo_edge import datasets
    from memo_edge.runtime import Engine

    head = report.header(
        "scaling",
        dataset=a.dataset,
        n=a.n,
        factors=a.factors,
        top_k=a.top_k,
        memory_pack=str(a.memory_pack) if a.memory_pack else f"base {a.precision} (same architecture)",
        threads=a.threads,
        quick=a.quick,
        max_new_tokens=a.max_new_tokens,
    )
    base = Engine(base_pack(a, log), threads=a.threads)
    memory = Engine(a.memory_pack, threads=a.threads) if a.memory_pack else base
    mp = memory.manifest.prompt
    bench = datasets.load(a.dataset, n=a.n, **({"stratify": True} if a.dataset == "musique" else {}))
    questions = [it.question for it in bench.items]
    # warm both engines (first-call allocations, prefix KV) so factor 1 is not penalized
    timed_generate(base, chat(QA_SYSTEM, questions[0]), 2)
    timed_generate(memory, mp.render(questions[0]), 2, prefix=mp.prefix)
    rows = []
    for f in a.factors:
        b = datasets.with_distractors(bench, f - 1, seed=0) if f > 1 else bench
        t = time.perf_counter()
        index = BM25(b.docs)
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        hits = index.top(questions, a.top_k)
        retrieve_ms = (time.perf_counter() - t) / len(questions) * 1e3
        prompts = [rag_prompt(q, h) for q, h in zip(questions, hits)]
        rag = [timed_generate(base, p, a.max_new_tokens) for p in prompts]
        mem = [timed_generate(memory, mp.render(q), a.max_new_tokens, prefix=mp.prefix) for q in questions]
        corpus_tokens = sum(len(base.encode(f"{d['title']}: {d['text']}")) for d in b.docs)
        row = {
            "factor": f,
            "docs": len(b.docs),
            "corpus_tokens": corpus_tokens,
            "bm25_index_s": index_s,
            "bm25_retrieve_ms": retrieve_ms,
            "rag_context_tokens": statistics.mean(len(base.encode(p)) for p in prompts),
            "rag_ttft_ms": statistics.median(x[0] for x in rag) * 1e3,
            "rag_total_ms": statistics.median(x[1] for x in rag) * 1e3 + retrieve_ms,
            "memory_ttft_ms": statistics.median(x[0] for x in mem) * 1e3,
            "memory_total_ms": statistics.median(x[1] for x in mem) * 1e3,
            "memory_prompt_tokens": statistics.mean(len(memory.encode(mp.render(q))) for q in questions),
            "memory_pack_mb": sum(p.stat().st_size for p in memory.pack.root.iterdir() if p.is_file()) / 2**20,
        }
        rows.append(row)
        log(
            f"x{f:g}: {row['docs']} docs, RAG {row['rag_total_ms']:.0f} ms/question, memory "
            f"{row['memory_total_ms']:.0f} ms/call"
        )
    doc = {**head, "results": rows}
    md = render(doc)
    print(md)
    name = "scaling-quick" if a.quick else "scaling"
    report.save(a.out, name, doc, md)
    plot(doc, a.out / f"{name}.png")
    report.emit(doc | {"machine": None})
    return 0


def render(doc: dict) -> str:
    f = report.fmt
    cols = [
        "corpus",
        "docs",
        "corpus tokens (long-context)",
        "BM25 index s",
        "BM25 retrieve ms/q",
        "RAG context tokens",
        "RAG TTFT ms",
        "RAG ms/question",
        "memory prompt tokens",
        "memory TTFT ms",
        "memory ms/call",
        "memory pack MB",
    ]
    rows = [
        [
            f"{r['factor']:g}x",
            r["docs"],
            r["corpus_tokens"],
            f(r["bm25_index_s"], 2),
            f(r["bm25_retrieve_ms"], 2),
            f(r["rag_context_tokens"], 0),
            f(r["rag_ttft_ms"]),
            f(r["rag_total_ms"]),
            f(r["memory_prompt_tokens"], 0),
            f(r["memory_ttft_ms"]),
            f(r["memory_total_ms"]),
            f(r["memory_pack_mb"], 0),
        ]
        for r in doc["results"]
    ]
    s = doc["settings"]
    return "\n".join(
        [
            f"## Scaling ({doc['date_utc']} UTC{', --quick' if s['quick'] else ''}; {s['dataset']}, "
            f"{s['n']} questions, top-{s['top_k']}, {s['threads']} threads, medians)",
            "",
            report.markdown_table(cols, rows),
            "",
        ]
    )


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = doc["results"]
    x = [r["factor"] for r in rs]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    a1.plot(x, [r["rag_total_ms"] for r in rs], "o-", label="BM25-RAG: retrieve + answer", color="tab:orange")
    a1.plot(x, [r["rag_ttft_ms"] for r in rs], "o--", label="BM25-RAG: time to first token", color="tab:orange")
    a1.plot(x, [r["memory_total_ms"] for r in rs], "s-", label="memory call: answer", color="tab:blue")
    a1.plot(x, [r["memory_ttft_ms"] for r in rs], "s--", label="memory call: time to first token", color="tab:blue")
    a1.set_xlabel("corpus size (x the question slice's corpus)")
    a1.set_ylabel("ms per question (median)")
    a1.set_ylim(bottom=0)
    a1.legend(fontsize=8)
    a2.plot(x, [r["rag_context_tokens"] for r in rs], "o-", label="BM25-RAG prompt tokens", color="tab:orange")
    a2.plot(x, [r["memory_prompt_tokens"] for r in rs], "s-", label="memory prompt tokens", color="tab:blue")
    a2.plot(x, [r["corpus_tokens"] for r in rs], "^:", label="whole corpus (long-context)", color="tab:gray")
    a2.set_yscale("log")
    a2.set_xlabel("corpus size (x)")
    a2.set_ylabel("tokens")
    a2.legend(fontsize=8)
    fig.suptitle(f"scaling ({doc['settings']['dataset']}, {doc['date_utc']} UTC)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
