"""Where the time goes: onnxruntime's profiler on our Engine (and on onnxruntime-genai's loop) per workload.

    python -m benchmarks.ort_profile [--pack PACK_DIR] [--threads 2] [--decode-tokens 64] [--quick]

Workloads, each in a fresh profiled session: decode (one row, a long answer), TTFT of a 64-token prompt, one
protocol call after the cached memory-prompt prefix, and a K=8 grounding round (batched, prefix reused).
For each: wall time, time inside onnxruntime's Run (graph) vs outside it (our Python loop: feeds, sampling,
detokenizing), and the graph's time by operator type. genai's decode is profiled the same way (its session
options take the profiler prefix) when onnxruntime-genai is installed. Prints tables, saves JSON + Markdown +
PNG under benchmarks/results/, last stdout line JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import latency, report


def parse_profile(path: str) -> dict:
    """Sum onnxruntime profile events: Run time (model_run) and kernel time per op type."""
    events = json.loads(Path(path).read_text())
    runs = [e["dur"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    ops: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            ops[e.get("args", {}).get("op_name", "?")] += e["dur"]
    return {
        "runs": len(runs),
        "run_ms": sum(runs) / 1e3,
        "ops_ms": {k: v / 1e3 for k, v in sorted(ops.items(), key=lambda x: -x[1])},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ort_profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", type=Path, help="ONNX pack (default: the base model's int4 pack from the latency cache)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv if argv is not None else sys.argv[1:])
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    ckpt = latency.checkpoint(argparse.Namespace(ckpt=None))
    pack = a.pack or latency._onnx_pack(ckpt, a.out / "cache" / latency._ckpt_key(ckpt), "int4", log)
    pr = latency.prompts(ckpt)
    n_dec = 24 if a.quick else a.decode_tokens
    work = Path(tempfile.mkdtemp(prefix="memo-ort-profile-"))
    from memo_edge.runtime import Engine

    prefix = Engine(pack, threads=a.threads).manifest.prompt.prefix

    def decode(e):
        c = e.generate([pr["decode"]], max_new_tokens=n_dec, stop_token_ids=[])[0]
        return {"tokens": c.completion_tokens, "per_token_ms": c.decode_s / max(1, c.completion_tokens - 1) * 1e3}

    def ttft64(e):
        e.generate([pr["fixed"]["64"]], max_new_tokens=1)

    def call(e):
        e.generate([pr["memory"][3]], max_new_tokens=1, prefix=prefix)

    def k8(e):
        outs = e.generate(pr["memory"][:8], max_new_tokens=24, prefix=prefix)
        return {"tokens": sum(c.completion_tokens for c in outs)}

    rows = {}
    try:
        for name, fn in (("decode", decode), ("ttft64", ttft64), ("protocol_call", call), ("k8_round", k8)):
            log(f"profiling {name}")
            rows[name] = profile_timed(pack, a.threads, work, name, fn)
        genai = profile_genai(pack, a.threads, work, pr["decode"], n_dec)
        if genai:
            rows["genai_decode"] = genai
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tab = []
    for name, r in rows.items():
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(r["ops_ms"].items())[:4])
        tab.append(
            [
                name,
                report.fmt(r["wall_ms"]),
                report.fmt(r["run_ms"]),
                report.fmt(r["wall_ms"] - r["run_ms"]),
                r["runs"],
                report.fmt(r.get("per_token_ms"), 2),
                top,
            ]
        )
    cols = ["workload", "wall ms", "in onnxruntime Run ms", "outside Run ms", "runs", "ms/token", "top ops (ms)"]
    report.print_table(
        f"where the time goes ({pack.name}, {a.threads} threads, load {os.getloadavg()[0]:.1f})", cols, tab
    )
    head = report.header("ort_profile", pack=str(pack), threads=a.threads, decode_tokens=n_dec)
    doc = {**head, "results": rows}
    md = f"## Where the time goes ({head['date_utc']} UTC)\n\n" + report.markdown_table(cols, tab) + "\n"
    report.save(a.out, "ort_profile-quick" if a.quick else "ort_profile", doc, md)
    plot(rows, a.out / ("ort_profile-quick.png" if a.quick else "ort_profile.png"))
    report.emit({k: doc[k] for k in ("benchmark", "date_utc", "settings", "results")})
    return 0


def profile_timed(pack: Path, threads: int, work: Path, name: str, fn) -> dict:
    """A warm-up call (arena, prefix cache), then the timed call; only the profile events of the timed call count
    (onnxruntime's profiling start time is on the wall clock, time.time_ns())."""
    from memo_edge.runtime import Engine

    e = Engine(pack, threads=threads, ort_profile=str(work / name))
    fn(e)
    t_ns = time.time_ns()
    t = time.perf_counter()
    out = fn(e)
    wall = (time.perf_counter() - t) * 1e3
    cut_us = (t_ns - e.session.get_profiling_start_time_ns()) / 1e3
    events = [ev for ev in json.loads(Path(e.session.end_profiling()).read_text()) if ev.get("ts", 0) >= cut_us]
    timed = work / f"{name}-timed.json"
    timed.write_text(json.dumps(events))
    return {"wall_ms": wall, **parse_profile(str(timed)), **(out or {})}


def profile_genai(pack: Path, threads: int, work: Path, prompt: str, n: int) -> dict | None:
    try:
        import onnxruntime_genai as og
    except ImportError:
        return None
    from benchmarks.contenders import _genai_dir_with_threads

    view = Path(_genai_dir_with_threads(pack, threads))
    cfg = json.loads((view / "genai_config.json").read_text())
    so = cfg["model"]["decoder"]["session_options"]
    so["enable_profiling"] = str(work / "genai")
    prof_view = view.with_name(view.name + "-prof")
    shutil.rmtree(prof_view, ignore_errors=True)
    prof_view.mkdir()
    for f in view.iterdir():
        if f.name != "genai_config.json":
            (prof_view / f.name).symlink_to(f.resolve())
    (prof_view / "genai_config.json").write_text(json.dumps(cfg))
    try:
        model = og.Model(str(prof_view))
        tok = og.Tokenizer(model)
        ids = tok.encode(prompt)

        def run():
            params = og.GeneratorParams(model)
            params.set_search_options(do_sample=False, max_length=len(ids) + n, batch_size=1)
            gen = og.Generator(model, params)
            gen.append_tokens(ids)
            times = []
            while not gen.is_done() and len(times) < n:
                gen.generate_next_token()
                times.append(time.perf_counter())
            return times

        run()
        t = time.perf_counter()
        times = run()
        wall = (time.perf_counter() - t) * 1e3
        run = tok = model = None  # genai writes its profile when the model's session ends
        files = sorted(work.glob("genai*.json"), key=lambda f: f.stat().st_mtime)
        prof = parse_profile(str(files[-1])) if files else {"runs": 0, "run_ms": 0.0, "ops_ms": {}}
        # the profile covers both runs: halve to compare with the timed one
        prof = {
            "runs": prof["runs"] // 2,
            "run_ms": prof["run_ms"] / 2,
            "ops_ms": {k: v / 2 for k, v in prof["ops_ms"].items()},
        }
        return {
            "wall_ms": wall,
            **prof,
            "tokens": len(times),
            "per_token_ms": (times[-1] - times[0]) / max(1, len(times) - 1) * 1e3,
        }
    finally:
        shutil.rmtree(prof_view, ignore_errors=True)


def plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    ops = sorted({k for r in rows.values() for k in list(r["ops_ms"])[:5]})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = [0.0] * len(names)
    for op in ops:
        vals = [rows[n]["ops_ms"].get(op, 0.0) for n in names]
        ax.bar(names, vals, bottom=bottom, label=op)
        bottom = [b + v for b, v in zip(bottom, vals)]
    other = [rows[n]["run_ms"] - b for n, b in zip(names, bottom)]
    ax.bar(names, other, bottom=bottom, label="other ops / Run overhead", color="lightgray")
    bottom = [b + o for b, o in zip(bottom, other)]
    ax.bar(
        names,
        [rows[n]["wall_ms"] - rows[n]["run_ms"] for n in names],
        bottom=bottom,
        label="outside Run (Python loop)",
        color="black",
    )
    ax.set_ylabel("ms")
    ax.legend(fontsize=7)
    ax.set_title("where the time goes: onnxruntime profiler")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
