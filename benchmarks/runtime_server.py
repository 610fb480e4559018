"""memo serve under load: N concurrent clients (batched by the server) vs the same requests one at a time.

    python -m benchmarks.runtime_server PACK [--clients 64] [--sequential 16] [--threads 2] [--max-tokens 32]

Prints a table, saves a PNG of latency distributions, and prints ONE JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

from benchmarks.runtime_engine import questions


def _post(url: str, q: str, max_tokens: int) -> tuple[int, float]:
    import httpx

    t = time.perf_counter()
    r = httpx.post(url + "/v1/chat/completions", timeout=600,
                   json={"messages": [{"role": "user", "content": q}], "max_tokens": max_tokens})
    return r.status_code, time.perf_counter() - t


def _stats(lat: list[float]) -> dict:
    from memo_edge.runtime.profile import percentiles

    p = percentiles(lat)
    return {k: round(p[k], 3) for k in ("p50", "p95", "p99", "mean")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--sequential", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args(argv)

    from memo_edge.runtime.memory import Memory
    from memo_edge.runtime.server import MemoServer, ServerConfig

    qs = questions(max(a.clients, a.sequential))
    with MemoServer(Memory.load(a.pack, threads=a.threads), ServerConfig(port=0, max_batch=a.max_batch)) as srv:
        _post(srv.url, qs[0], 4)  # warm-up: session, prefix KV
        t = time.perf_counter()
        seq = [_post(srv.url, q, a.max_tokens) for q in qs[: a.sequential]]
        seq_wall = time.perf_counter() - t
        b0 = srv.batcher.batches
        conc: list[tuple[int, float]] = []
        lock = threading.Lock()

        def client(q):
            r = _post(srv.url, q, a.max_tokens)
            with lock:
                conc.append(r)

        ts = [threading.Thread(target=client, args=(q,)) for q in qs[: a.clients]]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        conc_wall = time.perf_counter() - t
        batches = srv.batcher.batches - b0
    res = {
        "pack": a.pack, "threads": a.threads, "max_tokens": a.max_tokens,
        "sequential": {"requests": len(seq), "errors": sum(s != 200 for s, _ in seq), "wall_s": round(seq_wall, 2),
                       "req_per_s": round(len(seq) / seq_wall, 2), "latency_s": _stats([x for _, x in seq])},
        "concurrent": {"clients": len(conc), "errors": sum(s != 200 for s, _ in conc), "wall_s": round(conc_wall, 2),
                       "req_per_s": round(len(conc) / conc_wall, 2), "batches": batches,
                       "latency_s": _stats([x for _, x in conc])},
    }
    res["throughput_gain"] = round(res["concurrent"]["req_per_s"] / res["sequential"]["req_per_s"], 2)
    print(f"{'mode':<12} {'requests':>8} {'errors':>6} {'wall s':>7} {'req/s':>6} {'p50 s':>6} {'p95 s':>6}")
    for mode in ("sequential", "concurrent"):
        r = res[mode]
        print(f"{mode:<12} {r.get('requests', r.get('clients')):>8} {r['errors']:>6} {r['wall_s']:>7} "
              f"{r['req_per_s']:>6} {r['latency_s']['p50']:>6} {r['latency_s']['p95']:>6}")
    print(f"concurrent requests ran in {res['concurrent']['batches']} batches; throughput x{res['throughput_gain']}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.boxplot([[x for _, x in seq], [x for _, x in conc]])
        ax.set_xticks([1, 2], ["sequential", f"{a.clients} concurrent"])
        ax.set_ylabel("request latency (s)")
        ax.set_title(f"memo serve, {Path(a.pack).name}, {a.threads} threads")
        fig.tight_layout()
        fig.savefig(out / "runtime_server.png", dpi=100)
        res["png"] = str(out / "runtime_server.png")
    except ImportError:
        res["png"] = None
    print(json.dumps({"benchmark": "runtime_server", **res}))


if __name__ == "__main__":
    main()
