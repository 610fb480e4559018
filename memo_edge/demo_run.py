"""`memo demo` / `make demo` (application layer): the main job end to end on the shipped demo corpus."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .atomic import write_json
from .build import build
from .config import BuildConfig
from .evaluate import evaluate, print_table
from .metrics import best_em_f1
from .records import load_eval_items
from .runtime.memory import Memory

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def _pick(items, show: int):
    """A spread of question kinds: single-hop first, then multi-hop, then entity questions."""
    by_hops = sorted(items, key=lambda it: (it.hops > 1, it.id))
    singles = [it for it in by_hops if it.hops == 1]
    multis = [it for it in by_hops if it.hops > 1]
    k = max(show // 2, 1)
    return (singles[:k] + multis[: show - k])[:show]


def run_demo(out: Path, base: str = "smollm2-135m-instruct", precision: str = "int8", show: int = 8) -> dict:
    console = Console()
    out = Path(out)
    t0 = time.perf_counter()
    cfg = BuildConfig(
        corpus=DEMO_DIR / "corpus", out=out / "pack", work_dir=out / "work", base=base, precision=precision
    )
    pack = build(cfg, log=lambda m: console.print(m, highlight=False))
    build_s = time.perf_counter() - t0

    items = load_eval_items(DEMO_DIR / "questions.jsonl")
    memory = Memory.load(pack)
    memory.answer([items[0].question])  # first call pays for the prefix prefill and ORT's lazy init
    table = Table(title=f"demo questions, memory only ({precision} pack)")
    for col in ("hops", "question", "gold", "memory answer", "EM", "TTFT ms", "tok/s"):
        table.add_column(col, overflow="fold")
    ttfts, tps = [], []
    for it in _pick(items, show):
        c = memory.complete([it.question])[0]
        em, _ = best_em_f1(c.text, [it.answer, *it.answer_aliases])
        ttfts.append(c.ttft_s * 1e3)
        if c.completion_tokens > 1:
            tps.append(c.decode_tps)
        table.add_row(
            str(it.hops),
            it.question,
            it.answer,
            c.text.strip(),
            "✓" if em else "·",
            f"{c.ttft_s * 1e3:.0f}",
            f"{c.decode_tps:.0f}",
        )
    console.print(table)
    latency = {"ttft_ms_median": statistics.median(ttfts), "decode_tps_median": statistics.median(tps) if tps else 0.0}
    console.print(
        f"latency: time to first token {latency['ttft_ms_median']:.0f} ms (median), "
        f"decode {latency['decode_tps_median']:.0f} tokens/s (median), {memory.engine.threads} threads"
    )

    results = {}
    for ex in ("none", "oracle"):
        res = evaluate(pack, items, executive=ex, progress=False)
        print_table(res, console)
        write_json(out / f"eval-{ex}.json", res)
        results[ex] = {"em": res["em"], "f1": res["f1"]}
    summary = {
        "pack": str(pack),
        "build_s": round(build_s, 1),
        "latency": latency,
        "eval": results,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    write_json(out / "demo-summary.json", summary)
    console.print(f"demo done in {summary['wall_s']:.0f} s; results in {out}/")
    return summary
