"""Engine latency per pack: TTFT (prefix reuse on/off), decode tok/s, K questions batched vs sequential, and
continuous batching: a short request alone vs submitted right behind a long one (a 512-token answer, a long prompt).

    python -m benchmarks.runtime_engine PACK [PACK ...] [--threads 2] [--k 8] [--repeats 3] [--out DIR]

Side by side in one run (timings on a shared machine are noisy: compare ratios within a run). Prints a table,
saves a PNG, and prints ONE JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

DEMO_QUESTIONS = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "questions.jsonl"


def questions(k: int) -> list[str]:
    qs = [json.loads(line)["question"] for line in DEMO_QUESTIONS.read_text().splitlines() if line.strip()]
    return (qs * (k // len(qs) + 1))[:k]


def raw_loop_decode_tps(e, prompt_ids: list[int], n: int) -> float:
    """Reference: the barest numpy KV-cache loop over the same session (no batching, sampling or stops)."""
    import numpy as np

    x = np.array([prompt_ids], np.int64)
    logits, kv = e._run(x, np.ones_like(x), e._empty_past(1))
    tok, length = int(logits[0, -1].argmax()), len(prompt_ids)
    t = time.perf_counter()
    for _ in range(n - 1):
        length += 1
        logits, kv = e._run(np.array([[tok]], np.int64), np.ones((1, length), np.int64), kv)
        tok = int(logits[0, -1].argmax())
    return (n - 1) / (time.perf_counter() - t)


def short_behind_long(e, short: str, repeats: int) -> dict:
    """Seconds from submit to answer of a short request alone, and right behind a long one, through the Batcher
    (what the server runs): the long one is a 512-token answer, or a ~2,000-token prompt."""
    from memo_edge.runtime.batcher import Batcher, Job

    b = Batcher(e, max_batch=16)
    long_prompt = e.manifest.prompt.render(
        "Summarize: " + " ".join(f"item{i % 97} is next to item{(i * 7) % 97}." for i in range(200))
    )
    longs = {
        "long_answer": lambda: Job(e.manifest.prompt.render("Tell me a very long story."), max_new_tokens=512),
        "long_prompt": lambda: Job(long_prompt, max_new_tokens=8),
    }
    out = {"alone_s": [], **{f"behind_{k}_s": [] for k in longs}}
    try:

        def timed(job):
            b.submit(job)
            job.done.wait()
            return time.perf_counter() - job.t_submit

        timed(Job(short, max_new_tokens=16))  # warm-up
        for _ in range(repeats):
            out["alone_s"].append(timed(Job(short, max_new_tokens=16)))
            for name, make in longs.items():
                big = make()
                b.submit(big)
                out[f"behind_{name}_s"].append(timed(Job(short, max_new_tokens=16)))
                big.done.wait()
    finally:
        b.close()
    med = {k: statistics.median(v) for k, v in out.items()}
    return {
        **med,
        **{f"ratio_{k}": med[f"behind_{k}_s"] / med["alone_s"] for k in longs},
        "long_prompt_tokens": len(e.encode(long_prompt)),
    }


def bench_pack(path: str, threads: int, k: int, repeats: int, new_tokens: int) -> dict:
    from memo_edge.runtime.engine import Engine

    e = Engine(path, threads=threads)
    mp = e.manifest.prompt
    qs = questions(k)
    prompts = [mp.render(q) for q in qs]
    fixed = dict(max_new_tokens=new_tokens, stop_token_ids=[])  # same token count every run
    e.generate(prompts[:1], max_new_tokens=4, prefix=mp.prefix)  # warm-up (also fills the prefix cache)
    rows = {
        "ttft_ms_no_reuse": [],
        "ttft_ms_prefix_reuse": [],
        "decode_tps": [],
        "raw_loop_decode_tps": [],
        "prefill_tps": [],
        "seq_s": [],
        "batch_s": [],
        "batch_ttft_ms": [],
        "batch_decode_tps_total": [],
    }
    for _ in range(repeats):
        for q in prompts[:3]:
            c = e.generate([q], **fixed)[0]
            rows["ttft_ms_no_reuse"].append(c.ttft_s * 1000)
            rows["prefill_tps"].append(c.prefill_tps)
            c = e.generate([q], prefix=mp.prefix, **fixed)[0]
            rows["ttft_ms_prefix_reuse"].append(c.ttft_s * 1000)
            rows["decode_tps"].append(c.decode_tps)
            rows["raw_loop_decode_tps"].append(raw_loop_decode_tps(e, e.encode(q), new_tokens))
        t = time.perf_counter()
        seq = [e.generate([p], prefix=mp.prefix, **fixed)[0] for p in prompts]
        rows["seq_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        bat = e.generate(prompts, prefix=mp.prefix, **fixed)
        rows["batch_s"].append(time.perf_counter() - t)
        rows["batch_ttft_ms"].append(bat[0].ttft_s * 1000)
        rows["batch_decode_tps_total"].append(sum(c.completion_tokens - 1 for c in bat) / max(c.decode_s for c in bat))
        assert [c.token_ids for c in seq] == [c.token_ids for c in bat], "batched output differs from sequential"
    med = {key: statistics.median(v) for key, v in rows.items()}
    med["batch_speedup"] = med["seq_s"] / med["batch_s"]
    med.update(short_behind_long(e, prompts[0], repeats))
    return {
        "pack": str(path),
        "loadavg": round(os.getloadavg()[0], 1),
        "precision": e.manifest.precision,
        "threads": threads,
        "k": k,
        "new_tokens": new_tokens,
        "load_s": e.load_s,
        "prompt_tokens": len(e.encode(prompts[0])),
        "prefix_tokens": len(e.encode(mp.prefix)),
        **{k2: round(v, 2) for k2, v in med.items()},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("packs", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args(argv)
    results = [bench_pack(p, a.threads, a.k, a.repeats, a.new_tokens) for p in a.packs]
    cols = [
        "precision",
        "load_s",
        "ttft_ms_no_reuse",
        "ttft_ms_prefix_reuse",
        "prefill_tps",
        "decode_tps",
        "raw_loop_decode_tps",
        "seq_s",
        "batch_s",
        "batch_speedup",
        "batch_decode_tps_total",
        "alone_s",
        "ratio_long_answer",
        "ratio_long_prompt",
    ]
    print(" | ".join(f"{c:>14}" for c in cols))
    for r in results:
        print(" | ".join(f"{r[c]:>14}" if not isinstance(r[c], float) else f"{r[c]:>14.2f}" for c in cols))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (timings are noisy on a shared machine)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "runtime_engine.png"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
        names = [r["precision"] for r in results]
        axes[0].bar(
            [f"{n}\nno reuse" for n in names] + [f"{n}\nprefix reuse" for n in names],
            [r["ttft_ms_no_reuse"] for r in results] + [r["ttft_ms_prefix_reuse"] for r in results],
        )
        axes[0].set_title("TTFT (ms)")
        axes[1].bar(names, [r["decode_tps"] for r in results])
        axes[1].set_title("decode tok/s (batch 1)")
        axes[2].bar(
            [f"{n}\nsequential" for n in names] + [f"{n}\nbatched" for n in names],
            [r["seq_s"] for r in results] + [r["batch_s"] for r in results],
        )
        axes[2].set_title(f"K={a.k} questions, {a.new_tokens} tokens each (s)")
        fig.tight_layout()
        fig.savefig(png, dpi=100)
    except ImportError:
        png = None
    print(json.dumps({"benchmark": "runtime_engine", "results": results, "png": str(png) if png else None}))


if __name__ == "__main__":
    main()
