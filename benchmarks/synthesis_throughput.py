"""Synthesis throughput: the five-step LLM pipeline against a server that takes 200 ms per call,
concurrency 1 vs 8, side by side in one run (goal: >= 6x).

    python -m benchmarks.synthesis_throughput [--quick] [--latency 0.2] [--concurrency 1,8]

The server is the real OpenAI-compatible test server (tests/openai_server.py) in its own process, answering with
the scripted generator (valid JSON for every step, deterministic), so both runs make exactly the same calls. Each
run starts with an empty call cache. Prints a table, saves JSON + Markdown + PNG under benchmarks/results/, and
prints one JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEMO = REPO / "memo_edge" / "demo" / "corpus"
QUICK_DOCS = (
    "03-quillfen-robotics.md",
    "04-ysolde-marrick.md",
    "07-ilsen-strait-ferries.md",
    "09-drossel-dynamics.md",
    "10-saltcell-batteries.md",
    "12-pellory-innovation-prize.md",
)
GOAL = 6.0


def _serve(latency: float, q) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from openai_server import ScriptedServer

    from memo_edge.synthesis.scripted import scripted_reply

    with ScriptedServer(scripted_reply, latency_s=latency) as srv:
        q.put(srv.url)
        while True:
            time.sleep(3600)


def _corpus(quick: bool, tmp: Path) -> Path:
    if not quick:
        return DEMO
    c = tmp / "corpus"
    c.mkdir()
    for name in QUICK_DOCS:
        shutil.copy(DEMO / name, c / name)
    return c


def _run(corpus: Path, url: str, conc: int, tmp: Path) -> dict:
    from memo_edge.synthesis import SynthesisConfig, synthesize

    out = tmp / f"c{conc}" / "r.jsonl"
    cfg = SynthesisConfig(generator="openai", generator_urls=[url], generator_model="scripted", concurrency=conc)
    t0 = time.perf_counter()
    card = synthesize(corpus, out, cfg, progress=False)
    wall = time.perf_counter() - t0
    calls = sum(s.get("calls", 0) for s in card["step_stats"].values() if isinstance(s, dict))
    return {
        "concurrency": conc,
        "wall_s": round(wall, 2),
        "calls": calls,
        "calls_per_s": round(calls / wall, 2),
        "reflections": card["reflections"],
        "failed_items": len(card["failed_items"]),
        "output_sha": __import__("hashlib").sha256(out.read_bytes()).hexdigest()[:16],
    }


def _plot(rows: list[dict], path: Path, latency: float) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar([f"concurrency {r['concurrency']}" for r in rows], [r["calls_per_s"] for r in rows], color="#4a7ab0")
    ax.set_ylabel("generator calls / s")
    ax.set_title(f"Synthesis throughput ({int(latency * 1000)} ms per call)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.synthesis_throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"{len(QUICK_DOCS)} demo documents instead of all 12")
    p.add_argument("--latency", type=float, default=0.2, help="server seconds per call (default 0.2)")
    p.add_argument("--concurrency", default="1,8", help="comma-separated levels, first is the baseline")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    levels = [int(x) for x in a.concurrency.split(",")]

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=_serve, args=(a.latency, q), daemon=True)
    server.start()
    try:
        url = q.get(timeout=60)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            corpus = _corpus(a.quick, tmp)
            rows = [_run(corpus, url, c, tmp) for c in levels]
    finally:
        server.terminate()
        server.join(5)

    base = rows[0]
    for r in rows:
        r["speedup"] = round(base["wall_s"] / r["wall_s"], 2)
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"Synthesis throughput, {a.latency * 1000:.0f} ms per call "
        f"({'quick: ' + str(len(QUICK_DOCS)) if a.quick else 12} docs, same calls in every run)"
    )
    for col in ("concurrency", "calls", "wall s", "calls/s", "speedup", "reflections", "failed", "output sha"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            str(r["concurrency"]),
            str(r["calls"]),
            f"{r['wall_s']:.2f}",
            f"{r['calls_per_s']:.1f}",
            f"{r['speedup']:.2f}x",
            str(r["reflections"]),
            str(r["failed_items"]),
            r["output_sha"],
        )
    Console(width=140).print(t)
    top = rows[-1]
    doc = {
        "benchmark": "synthesis_throughput",
        "latency_s": a.latency,
        "quick": a.quick,
        "docs": len(QUICK_DOCS) if a.quick else 12,
        "levels": levels,
        "runs": rows,
        "speedup": top["speedup"],
        "goal": GOAL,
        "goal_met": top["speedup"] >= GOAL,
        "same_output": len({r["output_sha"] for r in rows}) == 1,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "synthesis_throughput.json").write_text(json.dumps(doc, indent=1))
    md = ["| concurrency | calls | wall s | calls/s | speedup |", "|---|---|---|---|---|"]
    md += [
        f"| {r['concurrency']} | {r['calls']} | {r['wall_s']:.2f} | {r['calls_per_s']:.1f} | {r['speedup']:.2f}x |"
        for r in rows
    ]
    (a.out / "synthesis_throughput.md").write_text("\n".join(md) + "\n")
    doc["plot"] = (
        str(a.out / "synthesis_throughput.png") if _plot(rows, a.out / "synthesis_throughput.png", a.latency) else None
    )
    print(json.dumps(doc, separators=(",", ":")), flush=True)
    return doc


if __name__ == "__main__":
    main()
