"""Training on a CPU that something else is using: OpenMP's wait policy, side by side, quiet and busy.

    python -m benchmarks.cpu_contention [--steps 6] [--repeats 2] [--threads 2] [--quick]

A laptop that builds a memory is rarely idle. torch's CPU threads are OpenMP (libgomp) threads, and libgomp's
default makes a thread that waits for the others at the end of each parallel region spin for a while before it
sleeps. When another process holds one of the two cores, the spinning thread burns the time slices the late thread
needs, and every op waits. Measured while developing this: a 2-thread training run beside two busy processes
trained at 7 example tokens/s where a 1-thread run did 120.

Each cell is the real `memo train` step (SmolLM2-135M full SFT, packed batches of 16 demo reflections; --quick: the
tiny random model) in its own process: OMP_WAIT_POLICY unset (libgomp's default) or PASSIVE (waiting threads sleep),
with the machine as it is ("quiet") or beside one process that spins on a core ("busy": another app). Cells run
interleaved, rotating the order each repeat; a cell's figure is the median example tokens/s of its steps after the
first. Prints a table, saves a plot, and prints one JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report

REPO = Path(__file__).resolve().parent.parent
POLICIES = ("default", "passive")
LOADS = ("quiet", "busy")


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu_contention", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=6, help="optimizer steps per cell")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny random model: checks the plumbing, not the effect")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    return p.parse_args(argv)


def _reflections(n: int, path: Path) -> Path:
    from memo_edge.synthesis import synthesize

    synthesize(REPO / "memo_edge" / "demo" / "corpus", path, progress=False)
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _hog() -> subprocess.Popen:
    """Another app: one process that keeps one core busy."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _cell(refl: Path, policy: str, load: str, a, work: Path) -> dict:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    env.pop("OMP_WAIT_POLICY", None)
    env["MEMO_OMP_WAIT"] = "default"  # memo's own choice off: the cell decides
    if policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = Path(tempfile.mkdtemp(dir=work))
    cmd = [sys.executable, "-m", "memo_edge.training", str(refl), "-o", str(out), "--epochs", "1"]
    cmd += ["--batch-size", "16", "--threads", str(a.threads), "--eval-train-sample", "0", "--no-keep-best"]
    cmd += ["--heldout-fraction", "0", "--idk-fraction", "0", "--preset", "tiny" if a.quick else "cpu-default"]
    hog = _hog() if load == "busy" else None
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - t0
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if proc.returncode != 0:
        tail = [x for x in proc.stderr.splitlines() if x.strip()][-1:]
        return {"error": tail[0] if tail else f"exit {proc.returncode}"}
    steps = [
        json.loads(x)
        for x in (out / "metrics.jsonl").read_text().splitlines()
        if x.strip() and json.loads(x).get("kind") == "step"
    ]
    rates = [s["example_tokens_per_s"] for s in steps[1:]] or [s["example_tokens_per_s"] for s in steps]
    return {"steps": len(steps), "example_tokens_per_s": statistics.median(rates), "wall_s": round(wall, 1)}


def main(argv=None) -> dict:
    a = parse(argv if argv is not None else sys.argv[1:])
    head = report.header("cpu_contention", steps=a.steps, repeats=a.repeats, threads=a.threads, quick=a.quick)
    work = Path(tempfile.mkdtemp(prefix="memo-contention-"))
    refl = _reflections(16 * a.steps, work / "reflections.jsonl")
    cells = [(p, lo) for lo in LOADS for p in POLICIES]
    runs: dict[str, list[dict]] = {f"{p}/{lo}": [] for p, lo in cells}
    for r in range(a.repeats):
        for p, lo in cells[r % len(cells) :] + cells[: r % len(cells)]:
            res = _cell(refl, p, lo, a, work)
            print(f"repeat {r + 1}: {p:8} {lo:6} {res}", file=sys.stderr)
            runs[f"{p}/{lo}"].append(res)
    rows = {}
    for key, rs in runs.items():
        ok = [x["example_tokens_per_s"] for x in rs if "example_tokens_per_s" in x]
        rows[key] = {"example_tokens_per_s": round(statistics.median(ok), 1) if ok else None, "runs": rs}
    ratios = {lo: _ratio(rows, lo) for lo in LOADS}
    result = {**head, "rows": rows, "passive_over_default": ratios}
    _table(rows, ratios)
    report.save(a.out, "cpu_contention", result)
    _plot(rows, a.out / "cpu_contention.png")
    print(json.dumps({"benchmark": "cpu_contention", "passive_over_default": ratios}))
    return result


def _ratio(rows: dict, load: str) -> float | None:
    d, p = rows[f"default/{load}"]["example_tokens_per_s"], rows[f"passive/{load}"]["example_tokens_per_s"]
    return round(p / d, 2) if d and p else None


def _table(rows: dict, ratios: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="memo train on a shared CPU: example tokens/s (median of steps)")
    for col in ("machine", "OMP_WAIT_POLICY unset", "PASSIVE", "PASSIVE / unset"):
        t.add_column(col)
    for lo in LOADS:
        d, p = rows[f"default/{lo}"]["example_tokens_per_s"], rows[f"passive/{lo}"]["example_tokens_per_s"]
        t.add_row(lo, str(d), str(p), str(ratios[lo]))
    Console(stderr=True).print(t)


def _plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, policy in enumerate(POLICIES):
        vals = [rows[f"{policy}/{lo}"]["example_tokens_per_s"] or 0 for lo in LOADS]
        ax.bar([i + k * 0.4 for i in range(len(LOADS))], vals, width=0.4, label=policy)
    ax.set_xticks([i + 0.2 for i in range(len(LOADS))], LOADS)
    ax.set_ylabel("example tokens/s")
    ax.set_title("memo train, 2 threads, OpenMP wait policy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
