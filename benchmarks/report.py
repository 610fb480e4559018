"""What every benchmark prints and saves: a machine/version header, a rich table, PNG plots, a last-line JSON."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VERSIONED = (
    "onnxruntime",
    "onnxruntime-genai",
    "tokenizers",
    "numpy",
    "torch",
    "transformers",
    "llama-cpp-python",
    "bm25s",
    "memo-edge",
)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L3 cache", "Flags"):
                val = val.strip()
                if key.strip() == "Flags":
                    val = " ".join(f for f in val.split() if f.startswith(("avx", "amx", "fma", "f16c")))
                info[key.strip().lower().replace(" ", "_").replace("(s)", "s")] = val
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import psutil

        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except (ImportError, OSError):
        pass
    return info


def commit() -> dict:
    """The code a result came from: HEAD's hash and whether the work tree had uncommitted changes."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    sha = git("rev-parse", "HEAD")
    # result files are outputs, not code: a tree whose only change is an earlier run's results is clean
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results")
    return {"sha": sha[:12] or None, "dirty": bool(changed) if sha else None}


def header(name: str, **settings) -> dict:
    return {
        "benchmark": name,
        "commit": commit(),
        "host": platform.node(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "command": " ".join([Path(sys.executable).name, "-m", f"benchmarks.{name}", *sys.argv[1:]]),
        "machine": machine(),
        "versions": versions(),
        "settings": settings,
    }


def stats(xs: list[float]) -> dict:
    """Median and spread (min/max, and the interquartile range when there are enough samples)."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    out = {"median": statistics.median(xs), "min": xs[0], "max": xs[-1], "n": len(xs)}
    if len(xs) >= 4:
        q = statistics.quantiles(xs, n=4)
        out["iqr"] = [q[0], q[2]]
    return out


def fmt(x, digits: int = 1, scale: float = 1.0) -> str:
    if x is None:
        return "-"
    return f"{x * scale:.{digits}f}"


def ratio(a, b):
    return None if a in (None, 0) or b in (None, 0) else a / b


def print_table(title: str, columns: list[str], rows: list[list], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=False, width=200)
    t = Table(title=title)
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    console.print(t)


def markdown_table(columns: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def save(out_dir: Path, name: str, doc: dict, markdown: str | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    if markdown:
        (out_dir / f"{name}.md").write_text(markdown, encoding="utf-8")
    return path


def emit(doc: dict) -> None:
    """The last stdout line: one JSON document (predictions and bulky details stay in the saved files)."""
    sys.stdout.flush()
    print(json.dumps(doc, default=str, separators=(",", ":")), flush=True)
