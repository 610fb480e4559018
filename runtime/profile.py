"""Latency profiles of protocol runs: per memory call (TTFT, prefill/decode tok/s, time per output token, tokens,
queue), per stage and per question (executive vs memory vs overhead), p50/p95/p99 across a run, peak RSS.

Outputs: a JSON document, a Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev), a terminal table and a PNG
timeline (matplotlib, imported only when plotting, optional).
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from memo_edge.atomic import write_bytes, write_json
from memo_edge.procstats import peak_rss_mb

CALL_METRICS = (
    "ttft_s",
    "prefill_tps",
    "decode_tps",
    "tpot_s",
    "prompt_tokens",
    "completion_tokens",
    "queue_s",
    "total_s",
    "batch_size",
)
LANES = {"stage": 1, "executive": 2, "memory": 3}


def percentiles(values: list[float]) -> dict:
    """p50/p95/p99 (nearest rank), mean, min, max, n."""
    v = sorted(float(x) for x in values)
    if not v:
        return {"n": 0}

    def rank(p):
        return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]

    return {
        "n": len(v),
        "mean": sum(v) / len(v),
        "min": v[0],
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": v[-1],
    }


def _get(ans: Any, key: str, default=None):
    return ans.get(key, default) if isinstance(ans, dict) else getattr(ans, key, default)


class Profile:
    """Accumulates answers (Answer objects or their dicts with trace) and reports on them."""

    def __init__(self):
        self.answers: list[Any] = []

    def add(self, ans: Any) -> None:
        self.answers.append(ans)

    # ---- numbers ---------------------------------------------------------------------------------------------
    def memory_calls(self) -> list[dict]:
        rows = []
        for a in self.answers:
            for s in _get(a, "spans", []):
                if s["cat"] == "memory":
                    for c in s["args"].get("calls") or []:
                        rows.append({**c, "stage": s["args"].get("stage")})
        return rows

    def summary(self) -> dict:
        calls = self.memory_calls()
        exec_lat = [
            s["end"] - s["start"] for a in self.answers for s in _get(a, "spans", []) if s["cat"] == "executive"
        ]
        batch_spans = [s for a in self.answers for s in _get(a, "spans", []) if s["cat"] == "memory"]
        per_q = [_get(a, "timings", {}) for a in self.answers]
        stages: dict[str, dict] = {}
        for t in per_q:
            for name, st in (t.get("stages") or {}).items():
                agg = stages.setdefault(
                    name,
                    {
                        "wall_s": 0.0,
                        "executive_s": 0.0,
                        "memory_s": 0.0,
                        "overhead_s": 0.0,
                        "memory_calls": 0,
                        "executive_calls": 0,
                    },
                )
                for k in agg:
                    agg[k] += st.get(k, 0)
        return {
            "questions": len(self.answers),
            "memory_calls": {m: percentiles([c[m] for c in calls if m in c]) for m in CALL_METRICS},
            "memory_batches": {
                "n": len(batch_spans),
                "latency_s": percentiles([s["end"] - s["start"] for s in batch_spans]),
                "batch_size": percentiles([s["args"].get("n", 1) for s in batch_spans]),
            },
            "executive_calls": {"latency_s": percentiles(exec_lat)},
            "per_question": {
                k: percentiles([t.get(k, 0.0) for t in per_q])
                for k in ("wall_s", "executive_s", "memory_s", "overhead_s")
            },
            "memory_calls_per_question": percentiles([_get(a, "memory_calls", 0) for a in self.answers]),
            "stages": stages,
            "peak_rss_mb": peak_rss_mb(),
        }

    def to_json(self) -> dict:
        return {
            "summary": self.summary(),
            "questions": [
                {
                    "question": _get(a, "question"),
                    "final_answer": _get(a, "final_answer"),
                    "mode": _get(a, "mode"),
                    "status": _get(a, "status"),
                    "memory_calls": _get(a, "memory_calls"),
                    "executive_calls": _get(a, "executive_calls"),
                    "timings": _get(a, "timings"),
                    "memory_call_timings": [
                        c for s in _get(a, "spans", []) if s["cat"] == "memory" for c in s["args"].get("calls") or []
                    ],
                }
                for a in self.answers
            ],
        }

    # ---- outputs ---------------------------------------------------------------------------------------------
    def chrome_trace(self) -> dict:
        """Chrome trace-event JSON: one process per question, lanes for stages, executive and memory calls."""
        events = []
        for pid, a in enumerate(self.answers, start=1):
            events.append(
                {
                    "name": "process_name",
                    "ph": "M",
                    "pid": pid,
                    "args": {"name": f"Q{pid}: {str(_get(a, 'question'))[:80]}"},
                }
            )
            for lane, tid in LANES.items():
                events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": lane}})
            for s in _get(a, "spans", []):
                args = {k: v for k, v in s["args"].items() if k != "calls"}
                events.append(
                    {
                        "name": s["name"],
                        "cat": s["cat"],
                        "ph": "X",
                        "pid": pid,
                        "tid": LANES.get(s["cat"], 4),
                        "ts": round(s["start"] * 1e6, 1),
                        "dur": round((s["end"] - s["start"]) * 1e6, 1),
                        "args": args,
                    }
                )
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write(self, path: str | Path, png: bool = True) -> list[Path]:
        path = Path(path)
        base = path.with_suffix("") if path.suffix == ".json" else path
        trace_path = base.with_name(base.name + ".trace.json")
        write_json(path, self.to_json())
        write_json(trace_path, self.chrome_trace())
        out = [path, trace_path]
        if png:
            png_path = base.with_name(base.name + ".png")
            if self.plot(png_path):
                out.append(png_path)
        return out

    def plot(self, path: Path, max_questions: int = 20) -> bool:
        """PNG timeline; returns False (with a warning) when matplotlib is not installed."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            warnings.warn("matplotlib is not installed: no PNG timeline (pip install 'memo-edge[plot]')", stacklevel=2)
            return False
        answers = self.answers[:max_questions]
        colors = {"executive": "#e07b39", "memory": "#3a7ca5"}
        stage_colors = {
            "grounding": "#c9d6e3",
            "entity_pinning": "#d8c9e3",
            "answer_seeking": "#c9e3d0",
            "final": "#e3dcc9",
            "none": "#dddddd",
        }
        fig, ax = plt.subplots(figsize=(11, 1.2 + 0.9 * len(answers)))
        yticks, ylabels = [], []
        for qi, a in enumerate(answers):
            spans = _get(a, "spans", [])
            t0 = min((s["start"] for s in spans), default=0.0)
            width = max((s["end"] for s in spans), default=1.0) - t0 or 1.0
            for lane, off in (("stage", 0.0), ("executive", 0.3), ("memory", 0.6)):
                y = qi * 1.2 + off
                for s in (x for x in spans if x["cat"] == lane):
                    start, dur = s["start"] - t0, max(s["end"] - s["start"], 1e-4)
                    color = stage_colors.get(s["name"], "#cccccc") if lane == "stage" else colors[lane]
                    ax.broken_barh([(start, dur)], (y, 0.25), facecolors=color, edgecolor="white", linewidth=0.5)
                    if lane == "stage" and dur / width > 0.08:  # label only where the name fits
                        ax.text(start + dur / 2, y + 0.125, s["name"], ha="center", va="center", fontsize=6)
                yticks.append(y + 0.12)
                ylabels.append(f"Q{qi + 1} {lane}")
        ax.set_yticks(yticks, ylabels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the question started")
        ax.set_title("memo ask timeline: stages, executive calls, memory calls")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        write_bytes(path, buf.getvalue())
        return True

    def print_summary(self, file=None) -> None:
        s = self.summary()
        t = Table(title=f"latency profile ({s['questions']} question(s), peak RSS {s['peak_rss_mb']:.0f} MB)")
        for col in ("metric", "n", "p50", "p95", "p99", "mean"):
            t.add_column(col, justify="right" if col != "metric" else "left")

        def row(name, d, scale=1.0, fmt="{:.1f}"):
            if d.get("n"):
                t.add_row(name, str(d["n"]), *(fmt.format(d[k] * scale) for k in ("p50", "p95", "p99", "mean")))

        mc = s["memory_calls"]
        row("memory TTFT (ms)", mc["ttft_s"], 1000)
        row("memory prefill (tok/s)", mc["prefill_tps"], fmt="{:.0f}")
        row("memory decode (tok/s)", mc["decode_tps"], fmt="{:.0f}")
        row("memory time/output token (ms)", mc["tpot_s"], 1000)
        row("memory tokens in", mc["prompt_tokens"], fmt="{:.0f}")
        row("memory tokens out", mc["completion_tokens"], fmt="{:.0f}")
        row("memory queue (ms)", mc["queue_s"], 1000)
        row("memory batch latency (ms)", s["memory_batches"]["latency_s"], 1000)
        row("executive call (ms)", s["executive_calls"]["latency_s"], 1000)
        for k in ("wall_s", "executive_s", "memory_s", "overhead_s"):
            row(f"per question {k[:-2]} (s)", s["per_question"][k], fmt="{:.3f}")
        console = Console(file=file or sys.stderr)
        console.print(t)
        if s["stages"]:
            st = Table(title="per stage (summed over questions)")
            for col in ("stage", "wall s", "executive s", "memory s", "overhead s", "memory calls", "executive calls"):
                st.add_column(col, justify="right" if col != "stage" else "left")
            for name, d in s["stages"].items():
                st.add_row(
                    name,
                    *(f"{d[k]:.3f}" for k in ("wall_s", "executive_s", "memory_s", "overhead_s")),
                    str(d["memory_calls"]),
                    str(d["executive_calls"]),
                )
            console.print(st)


def latency_line(ans: Any, load_s: float | None = None) -> str:
    """One line: TTFT and decode tok/s of the memory, plus where the time went."""
    calls = [c for s in _get(ans, "spans", []) if s["cat"] == "memory" for c in s["args"].get("calls") or []]
    t = _get(ans, "timings", {}) or {}
    parts = []
    if calls:
        ttft = calls[0]["ttft_s"]
        dec = [c["decode_tps"] for c in calls if c["decode_tps"] > 0]
        toks = sum(c["completion_tokens"] for c in calls)
        parts.append(f"TTFT {ttft * 1000:.0f} ms")
        parts.append(f"decode {sum(dec) / len(dec):.0f} tok/s" if dec else "decode n/a (1 token)")
        parts.append(f"{toks} tokens out")
    nb = _get(ans, "memory_calls", 0)
    parts.append(f"{nb} memory call{'s' if nb != 1 else ''}")
    if _get(ans, "executive_calls", 0):
        parts.append(f"executive {t.get('executive_s', 0):.2f} s in {_get(ans, 'executive_calls')} calls")
    parts.append(f"total {t.get('wall_s', 0):.2f} s")
    if load_s is not None:
        parts.append(f"pack load {load_s:.2f} s")
    return "latency: " + " | ".join(parts)
