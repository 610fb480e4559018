"""memo serve (uvicorn + Starlette) under load. The stdlib http.server stack it replaced was measured beside it
until issue 21 deleted that copy (benchmarks/legacy_http_server.py; git history has it, RESULTS.md its numbers):

  load        N requests one at a time, then C concurrent clients (batched), then 200 concurrent clients: latency
              p50/p95 and errors
  short/long  a short request alone, then the same request sent while a long one decodes: latency ratio
              (goal <= 2x; needs the engine-level scheduler)
  shutdown    `memo serve` as a process, 50 idle keep-alive clients, SIGTERM: seconds until it exits (goal <= 5 s)
  memory      `memo serve` as a process: RSS at baseline, after 500 mixed requests, after an ~8k-token prompt
              (goal: back within 10% of the baseline)
  system      EM/F1 on the demo questions through the API: no system message; a desktop app's system message kept
              as context after the trained one. Meaningful on a pack trained on the demo corpus (make demo ->
              demo-build/pack)

    python -m benchmarks.runtime_server PACK [--quick] [--threads 2] [--max-tokens 32] [--clients 64] ...

Prints a table, saves a PNG, and prints ONE JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from benchmarks import report
from benchmarks.runtime_engine import DEMO_QUESTIONS, questions
from memo_edge.metrics import best_em_f1
from memo_edge.runtime.memory import Memory
from memo_edge.runtime.server import MemoServer, ServerConfig

CAP_S = 20.0  # a server that has not exited this long after SIGTERM is killed and reported as such


def _stats(lat: list[float]) -> dict:
    from memo_edge.runtime.profile import percentiles

    if not lat:
        return {"p50": None, "p95": None, "mean": None}
    p = percentiles(lat)
    return {k: round(p[k], 3) for k in ("p50", "p95", "mean")}


def _body(model: str, q: str, max_tokens: int, stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": q}], "max_tokens": max_tokens, "stream": stream}


def _post(url: str, body: dict) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        r = httpx.post(url + "/v1/chat/completions", json=body, timeout=900)
        ok = r.status_code if not body.get("stream") or b"data: [DONE]" in r.content else -1
        return ok, time.perf_counter() - t
    except httpx.HTTPError:
        return -1, time.perf_counter() - t


def _concurrent(url: str, bodies: list[dict]) -> tuple[list[tuple[int, float]], float]:
    """All bodies at once, one client thread each; (status, latency) in the order of `bodies`."""
    out: list[tuple[int, float]] = [(-1, 0.0)] * len(bodies)

    def client(i, b):
        out[i] = _post(url, b)

    ts = [threading.Thread(target=client, args=(i, b)) for i, b in enumerate(bodies)]
    t = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return out, time.perf_counter() - t


def load_test(pack: str, a, qs: list[str]) -> dict:
    """Sequential requests, then C concurrent clients, then 200 concurrent clients."""
    srv = MemoServer(
        Memory.load(pack, threads=a.threads, max_batch=a.max_batch, abstain=False), ServerConfig(port=0)
    ).start()
    try:
        _post(srv.url, _body(srv.model_id, qs[0], 4))  # warm-up: session, prefix KV
        t = time.perf_counter()
        seq = [_post(srv.url, _body(srv.model_id, q, a.max_tokens)) for q in qs[: a.sequential]]
        seq_wall = time.perf_counter() - t
        b0 = srv.batcher.batches
        conc, conc_wall = _concurrent(srv.url, [_body(srv.model_id, q, a.max_tokens) for q in qs[: a.clients]])
        batches = srv.batcher.batches - b0
        many, many_wall = _concurrent(
            srv.url, [_body(srv.model_id, q, a.many_tokens, stream=i % 4 == 0) for i, q in enumerate(qs[: a.many])]
        )
    finally:
        srv.stop()
    return {
        "sequential": {
            "requests": len(seq),
            "errors": sum(s != 200 for s, _ in seq),
            "wall_s": round(seq_wall, 2),
            "req_per_s": round(len(seq) / seq_wall, 2),
            "latency_s": _stats([x for _, x in seq]),
        },
        "concurrent": {
            "requests": len(conc),
            "errors": sum(s != 200 for s, _ in conc),
            "wall_s": round(conc_wall, 2),
            "req_per_s": round(len(conc) / conc_wall, 2),
            "batches": batches,
            "latency_s": _stats([x for _, x in conc]),
        },
        "many": {
            "requests": len(many),
            "errors": sum(s != 200 for s, _ in many),
            "wall_s": round(many_wall, 2),
            "latency_s": _stats([x for _, x in many]),
        },
        "_lat": {"sequential": [x for _, x in seq], "concurrent": [x for _, x in conc]},
    }


def short_behind_long(pack: str, a) -> dict:
    cfg = ServerConfig(port=0, max_tokens=max(a.long_tokens, 64))
    with MemoServer(Memory.load(pack, threads=a.threads, max_batch=a.max_batch, abstain=False), cfg) as srv:
        short = _body(srv.model_id, "Who founded Quillfen Robotics?", 4)
        _post(srv.url, short)
        alone = sorted(_post(srv.url, short)[1] for _ in range(5))[2]
        long_done = threading.Event()
        started = threading.Event()
        long_s: list[float] = []

        def long_request():
            t = time.perf_counter()
            with httpx.stream(
                "POST",
                srv.url + "/v1/chat/completions",
                timeout=900,
                json=_body(srv.model_id, "Tell me everything about Quillfen Robotics.", a.long_tokens, stream=True),
            ) as r:
                for line in r.iter_lines():
                    if '"content": "' in line and '"content": ""' not in line:
                        started.set()  # decoding has begun
            long_s.append(time.perf_counter() - t)
            long_done.set()

        th = threading.Thread(target=long_request)
        th.start()
        started.wait(120)
        behind = _post(srv.url, short)[1]
        th.join()
    return {
        "short_alone_s": round(alone, 3),
        "short_behind_long_s": round(behind, 3),
        "ratio": round(behind / alone, 2),
        "long_tokens": a.long_tokens,
        "long_s": round(long_s[0], 2),
        "goal": "<= 2x",
    }


def _start(cmd: list[str]) -> tuple[subprocess.Popen, str, str]:
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    threading.Thread(target=p.stderr.read, daemon=True).start()  # keep the pipe drained
    url = line.split(" on ")[1].split("/v1")[0]
    model = line.split(": ", 1)[1].split(" on ")[0]
    return p, url, model


def _serve_cmd(pack: str, a, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from memo_edge.cli import main; main()",
        "serve",
        pack,
        "--port",
        "0",
        "--threads",
        str(a.threads),
        *extra,
    ]


def shutdown_time(pack: str, a) -> dict:
    p, url, model = _start(_serve_cmd(pack, a))
    host, port = url.removeprefix("http://").rsplit(":", 1)
    socks = []
    try:
        for _ in range(a.idle):  # pooled clients: one request each, then the connection sits idle
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(65536)
            socks.append(s)
        t = time.perf_counter()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=CAP_S)
            took = time.perf_counter() - t
        except subprocess.TimeoutExpired:
            p.kill()
            rc, took = None, None
    finally:
        for s in socks:
            s.close()
        if p.poll() is None:
            p.kill()
    return {
        "idle_clients": a.idle,
        "exit_s": round(took, 2) if took is not None else f">{CAP_S:g} (killed)",
        "exit_code": rc,
        "goal": "<= 5 s",
    }


def memory_after_load(pack: str, a) -> dict:
    ctx = int(json.loads((Path(pack) / "manifest.json").read_text())["model"]["context_length"])
    long_prompt_tokens = min(a.long_prompt, ctx - 64)
    # no deadline here: on a loaded machine the long prefill can outlast the default 300 s, and this measures memory
    p, url, model = _start(
        _serve_cmd(pack, a, "--max-prompt-tokens", str(long_prompt_tokens + 200), "--request-timeout", "36000")
    )
    proc = psutil.Process(p.pid)

    def rss() -> float:
        time.sleep(1.0)
        return round(proc.memory_info().rss / 2**20, 1)

    try:
        qs = questions(32)
        for q in qs[:8]:
            _post(url, _body(model, q, 16))
        base = rss()
        rng = random.Random(0)
        bodies = []
        for i in range(a.mixed):  # streams and not, short and longer answers, some refused requests
            kind = i % 8
            if kind == 7:
                bodies.append(
                    {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}
                )
            else:
                bodies.append(_body(model, rng.choice(qs), rng.choice((4, 16, 32, 64)), stream=kind % 2 == 0))
        statuses = []
        for k in range(0, len(bodies), 16):
            res, _ = _concurrent(url, bodies[k : k + 16])
            statuses += [s for s, _ in res]
        after_mixed = rss()
        word = "memory "  # ~1 token per word: the prompt is built to ~long_prompt_tokens tokens
        t = time.perf_counter()
        status, _ = _post(url, _body(model, word * (long_prompt_tokens - 60), 8))
        long_s = time.perf_counter() - t
        peak = round(proc.memory_info().rss / 2**20, 1)
        for q in qs[:8]:
            _post(url, _body(model, q, 16))
        after_long = rss()
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    return {
        "baseline_mb": base,
        "after_mixed_mb": after_mixed,
        "mixed_requests": len(bodies),
        "mixed_errors_unexpected": sum(1 for i, s in enumerate(statuses) if s != (400 if i % 8 == 7 else 200)),
        "after_mixed_ratio": round(after_mixed / base, 3),
        "long_prompt_tokens": long_prompt_tokens,
        "long_prompt_status": status,
        "long_prompt_s": round(long_s, 2),
        "after_long_mb": after_long,
        "after_long_ratio": round(after_long / base, 3),
        "peak_seen_mb": peak,
        "goal": "<= 1.10",
    }


DESKTOP_SYSTEM = (
    "You are a helpful assistant running on the user's computer. Answer the user's questions accurately and concisely."
)


def system_messages(pack: str, a) -> dict:
    rows = [json.loads(line) for line in DEMO_QUESTIONS.read_text().splitlines() if line.strip()]
    mem = Memory.load(pack, threads=a.threads, abstain=False)
    out = {}
    for label, system in (("no system message", None), ("client system kept as context", DESKTOP_SYSTEM)):
        srv = MemoServer(mem, ServerConfig(port=0)).start()
        try:
            bodies = []
            for r in rows:
                msgs = ([{"role": "system", "content": system}] if system else []) + [
                    {"role": "user", "content": r["question"]}
                ]
                bodies.append(
                    {
                        "model": srv.model_id,
                        "messages": msgs,
                        "temperature": 0,
                        "max_tokens": mem.defaults.max_new_tokens,
                    }
                )
            answers = [
                httpx.post(srv.url + "/v1/chat/completions", json=b, timeout=600)
                .json()["choices"][0]["message"]["content"]
                .strip()
                for b in bodies
            ]
        finally:
            srv.stop()
        scores = [best_em_f1(ans, [r["answer"], *r.get("answer_aliases", [])]) for ans, r in zip(answers, rows)]
        out[label] = {
            "n": len(rows),
            "em": round(sum(e for e, _ in scores) / len(rows), 3),
            "f1": round(sum(f for _, f in scores) / len(rows), 3),
            "em_count": int(sum(e for e, _ in scores)),
        }
    out["system_message"] = DESKTOP_SYSTEM
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("--quick", action="store_true", help="Small numbers everywhere (a smoke run).")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--sequential", type=int, default=16)
    ap.add_argument("--many", type=int, default=200, help="Concurrent clients of the 0-errors check.")
    ap.add_argument("--many-tokens", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--long-tokens", type=int, default=512)
    ap.add_argument("--idle", type=int, default=50)
    ap.add_argument("--mixed", type=int, default=500)
    ap.add_argument("--long-prompt", type=int, default=8000)
    ap.add_argument("--skip", default="", help="Comma-separated sections to skip: load,short,shutdown,memory,system.")
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args(argv)
    if a.quick:
        a.clients, a.sequential, a.many, a.long_tokens, a.mixed, a.long_prompt = 16, 4, 40, 128, 48, 1000
    skip = set(filter(None, a.skip.split(",")))
    qs = questions(max(a.clients, a.sequential, a.many))
    res: dict = {"pack": a.pack, "threads": a.threads, "max_tokens": a.max_tokens, "quick": a.quick}
    lat: dict = {}
    if "load" not in skip:
        res["load"] = load_test(a.pack, a, qs)
        lat = res["load"].pop("_lat")
        print(f"{'mode':<11} {'requests':>8} {'errors':>6} {'wall s':>7} {'p50 s':>7} {'p95 s':>7}")
        for mode in ("sequential", "concurrent", "many"):
            r = res["load"][mode]
            print(
                f"{mode:<11} {r['requests']:>8} {r['errors']:>6} {r['wall_s']:>7} "
                f"{r['latency_s']['p50']:>7} {r['latency_s']['p95']:>7}",
                flush=True,
            )
    if "short" not in skip:
        res["short_behind_long"] = s_ = short_behind_long(a.pack, a)
        print(
            f"short alone {s_['short_alone_s']} s, behind a {s_['long_tokens']}-token answer "
            f"{s_['short_behind_long_s']} s: x{s_['ratio']} (goal <= 2x)",
            flush=True,
        )
    if "shutdown" not in skip:
        res["shutdown"] = s_ = shutdown_time(a.pack, a)
        print(
            f"shutdown with {s_['idle_clients']} idle keep-alive clients: {s_['exit_s']} s, exit code {s_['exit_code']}",
            flush=True,
        )
    if "memory" not in skip:
        res["memory"] = m = memory_after_load(a.pack, a)
        print(
            f"RSS baseline {m['baseline_mb']} MB; after {m['mixed_requests']} mixed requests {m['after_mixed_mb']}"
            f" MB (x{m['after_mixed_ratio']}); after a {m['long_prompt_tokens']}-token prompt {m['after_long_mb']} MB"
            f" (x{m['after_long_ratio']}, peak seen {m['peak_seen_mb']} MB, {m['long_prompt_s']} s, "
            f"status {m['long_prompt_status']})",
            flush=True,
        )
    if "system" not in skip:
        res["system"] = system_messages(a.pack, a)
        for label, r in res["system"].items():
            if isinstance(r, dict):
                print(f"demo questions, {label}: EM {r['em_count']}/{r['n']} ({r['em']}), F1 {r['f1']}", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res["png"] = None
    if "load" in res:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(7, 3.5))
            ax.boxplot([lat["sequential"], lat["concurrent"]])
            ax.set_xticks([1, 2], ["sequential", f"{a.clients} concurrent"])
            ax.set_ylabel("request latency (s)")
            ax.set_title(f"memo serve, {Path(a.pack).name}, {a.threads} threads")
            fig.tight_layout()
            fig.savefig(out / "runtime_server.png", dpi=100)
            res["png"] = str(out / "runtime_server.png")
        except ImportError:
            pass
    doc = {"benchmark": "runtime_server", **res}
    report.save(out, "runtime_server", doc)
    report.emit(doc)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
