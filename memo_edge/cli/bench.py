"""memo bench NAME [ARGS...]: run a benchmark of a source checkout (benchmarks/ is not installed with the package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from memo_edge.errors import MemoError
from memo_edge.settings import env

from .app import app


def find_benchmarks(start: Path | None = None) -> Path:
    """The checkout's benchmarks/ folder: $MEMO_REPO, else the repo an editable install points at, else the cwd."""
    candidates = []
    if env().repo:
        candidates.append(env().repo)
    candidates.append(Path(__file__).resolve().parents[2])  # <repo>/memo_edge/cli/bench.py in an editable install
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    for root in candidates:
        if (root / "benchmarks" / "__init__.py").is_file():
            return root / "benchmarks"
    raise MemoError(
        "benchmarks/ not found: `memo bench` runs the benchmarks of a memo-edge source checkout "
        "(run it inside the checkout, or set MEMO_REPO to its path)"
    )


def available(bench_dir: Path) -> list[str]:
    skip = {"__init__", "report", "contenders"}
    return sorted(p.stem for p in bench_dir.glob("*.py") if p.stem not in skip and not p.stem.startswith("_"))


# help_option_names=[]: `memo bench latency --help` must reach the benchmark's own --help.
@app.command(
    "bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def bench(
    ctx: typer.Context,
    name: str = typer.Argument(
        None,
        help="Benchmark: latency | quality | scaling | synthesis_throughput | "
        "training_throughput | export_sizes (see benchmarks/RESULTS.md).",
    ),
):
    """Run `python -m benchmarks.NAME ARGS...` from the checkout; extra arguments (e.g. --quick) pass through.

    Each benchmark prints a table, saves JSON/Markdown/PNG under benchmarks/results/, and prints one JSON document
    as its last stdout line.
    """
    if name in (None, "-h", "--help"):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    bench_dir = find_benchmarks()
    names = available(bench_dir)
    if name not in names:
        raise MemoError(f"benchmark '{name}': unknown (expected one of: {', '.join(names)})")
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *ctx.args], cwd=bench_dir.parent)
    raise typer.Exit(proc.returncode)
