"""Benchmark harness: `memo bench` dispatch, exact-length prompts, goal ratios, BM25-RAG pieces, and one real
latency run of two contenders on a tiny-random pack (speed itself is never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks/ is a folder of the checkout, not an installed package

from memo_cli import memo  # noqa: E402

from benchmarks import gpu_training, latency, quality, report  # noqa: E402


@pytest.mark.slow
def test_memo_bench_unknown_name_lists_benchmarks():
    p = memo("bench", "nope")
    assert p.returncode == 2
    assert "error: benchmark 'nope': unknown" in p.stderr and "latency" in p.stderr and "quality" in p.stderr


@pytest.mark.slow
def test_memo_bench_passes_arguments_through():
    p = memo("bench", "latency", "--help")
    assert p.returncode == 0, p.stderr
    assert "--quick" in p.stdout and "--threads" in p.stdout


@pytest.mark.slow
def test_memo_bench_outside_a_checkout_says_so(tmp_path):
    from memo_edge.cli.bench import find_benchmarks

    assert find_benchmarks(tmp_path) == REPO / "benchmarks"  # found through the editable install
    import memo_edge.cli.bench as b
    from memo_edge.errors import MemoError

    fake = tmp_path / "site" / "memo_edge" / "cli" / "bench.py"
    orig = b.__file__
    try:
        b.__file__ = str(fake)
        with pytest.raises(MemoError, match="source checkout"):
            find_benchmarks(tmp_path)
    finally:
        b.__file__ = orig


def test_gpu_training_steady_rate_reads_the_step_lines_of_metrics_jsonl(tmp_path):
    # 10 steps: the first 2 (skip=0.2) are warm-up at 100 tok/s, then 8 of 1000 tokens at 500 tok/s (2 s each)
    rows = [{"kind": "estimate"}] + [
        {
            "kind": "step",
            "step": i,
            "computed_tokens": 1000,
            "example_tokens": 800,
            "tokens_per_s": 100.0 if i < 3 else 500.0,
            "time": 10.0 + i,
        }
        for i in range(1, 11)
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    st = gpu_training.steady_from_metrics(tmp_path / "metrics.jsonl")
    assert st["steps"] == 10 and st["steady_tokens_per_s"] == 500.0 and st["steady_example_tokens_per_s"] == 400.0
    assert st["t_first_step"] == 11.0 - 10.0 and st["t_last_step"] == 20.0
    everything = gpu_training.steady_from_metrics(tmp_path / "metrics.jsonl", skip=0.0)
    assert everything["steady_tokens_per_s"] == pytest.approx(10_000 / (2 * 10 + 8 * 2))


def test_stats_median_and_spread():
    s = report.stats([3.0, 1.0, 2.0, 10.0, None])
    assert s["median"] == 2.5 and s["min"] == 1.0 and s["max"] == 10.0 and s["n"] == 4 and len(s["iqr"]) == 2
    assert report.stats([])["median"] is None


def test_prompts_have_exact_token_counts(tiny_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_dir / "tokenizer.json"))
    pr = latency.prompts(tiny_dir)
    for key in ("64", "256"):
        assert len(tok.encode(pr["fixed"][key], add_special_tokens=False).ids) == int(key)
    assert len(pr["memory"]) == 8 and all(q in m for q, m in zip(pr["questions"], pr["memory"]))
    assert all(m.startswith(pr["memory"][0][:40]) for m in pr["memory"])  # one shared prefix to reuse


def test_goal_ratios_and_verdicts():
    m = lambda v: {"median": v}  # noqa: E731
    rows = {
        "memo-int4": {
            "decode_tps": m(150.0),
            "cold_s": m(0.5),
            "ttft64_ms": m(40.0),
            "peak_rss_mb": 300.0,
            "peak_rss_mb_generate": 250.0,
        },
        "genai-int4": {"decode_tps": m(160.0), "peak_rss_mb": 280.0, "peak_rss_mb_generate": 280.0},
        "llamacpp-q4_0": {"decode_tps": m(100.0), "ttft64_ms": m(50.0)},
        "torch-fp32": {"cold_s": m(4.0)},
    }
    proto = {
        "memo-int4": {
            "sequential+prefix/call_ttft": {"wall_ms": m(20.0)},
            "batched+prefix/k8": {"wall_ms": m(90.0)},
            "sequential/k8": {"wall_ms": m(400.0)},
        },
        "llamacpp-q4_0": {"sequential/call_ttft": {"wall_ms": m(50.0)}, "sequential/k8": {"wall_ms": m(300.0)}},
    }
    g = latency.goals(rows, proto, "q4_0")
    assert g["decode_4bit_vs_llamacpp"]["ratio"] == pytest.approx(1.5) and g["decode_4bit_vs_llamacpp"]["met"]
    assert (
        g["protocol_call_ttft_vs_llamacpp"]["ratio"] == pytest.approx(0.4)
        and g["protocol_call_ttft_vs_llamacpp"]["met"]
    )
    assert g["k8_round_vs_llamacpp_sequential"]["ratio"] == pytest.approx(0.3)  # best mode: batched+prefix
    assert g["cold_start_vs_torch"]["ratio"] == pytest.approx(0.125) and g["cold_start_vs_torch"]["met"]
    assert g["decode_4bit_vs_genai"]["ratio"] == pytest.approx(150 / 160) and g["decode_4bit_vs_genai"]["met"] is False
    assert g["ttft64_vs_llamacpp"]["ratio"] == pytest.approx(0.8) and g["ttft64_vs_llamacpp"]["met"]
    assert g["peak_rss_4bit_vs_genai"]["met"] is False and g["peak_rss_4bit_vs_genai_same_work"]["met"]
    g = latency.goals({}, {}, "q4_0")
    assert all(v["met"] is None for v in g.values())  # missing contenders are n/a, not failures


def test_bm25_rag_pieces():
    docs = [
        {"id": "1", "title": "Quillfen Robotics", "text": "Quillfen Robotics was founded by Ysolde Marrick."},
        {"id": "2", "title": "Varrowick", "text": "Varrowick is a harbour town with a ferry."},
        {"id": "3", "title": "Saltcell", "text": "Saltcell makes batteries for boats."},
    ]
    hits = quality.BM25(docs).top(["Who founded Quillfen Robotics?", "batteries"], 2)
    assert hits[0][0]["id"] == "1" and hits[1][0]["id"] == "3" and len(hits[0]) == 2
    p = quality.rag_prompt("Who founded Quillfen Robotics?", hits[0])
    assert "[1] Quillfen Robotics: Quillfen Robotics was founded by Ysolde Marrick." in p
    assert p.endswith("<|im_start|>assistant\n")
    assert quality.short_answer("Answer: Ysolde Marrick\nmore text") == "Ysolde Marrick"
    assert quality.short_answer("") == ""
    assert quality.contains_gold("It was founded by Ysolde Marrick in 2011.", ["Ysolde Marrick"]) == 1.0
    assert quality.contains_gold("Marrickson", ["Marrick"]) == 0.0  # whole words only
    assert quality.chat("S", "Q?", quality.QA_SHOTS).count("<|im_start|>user") == 3


@pytest.mark.slow
def test_latency_runs_two_contenders_on_a_tiny_pack(tiny_dir, tmp_path):
    """A real run: our Engine and onnxruntime-genai on the same tiny-random int4 pack, interleaved workers, cold
    starts in fresh processes, table + PNG + last-line JSON."""
    out = tmp_path / "out"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.latency",
            "--ckpt",
            str(tiny_dir),
            "--only",
            "memo-int4,genai-int4",
            "--warmup",
            "0",
            "--repeats",
            "1",
            "--cold-repeats",
            "1",
            "--decode-tokens",
            "4",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["benchmark"] == "latency" and set(doc["results"]) == {"memo-int4", "genai-int4"}
    for label in ("memo-int4", "genai-int4"):
        r = doc["results"][label]
        assert r["prompt_tokens"] == {"64": 64, "256": 256}  # every contender sees the same token counts
        assert r["ttft64_ms"]["n"] == 1 and r["cold_s"]["n"] == 1 and r["size_mb"] > 0 and r["peak_rss_mb"] > 0
    proto = doc["protocol"]["memo-int4"]
    assert {"sequential/k8", "batched/k8", "batched+prefix/k8", "sequential+prefix/call_ttft"} <= set(proto)
    assert doc["goals"]["k8_round_vs_llamacpp_sequential"]["met"] is None  # no llama.cpp in this run
    assert (out / "latency.png").stat().st_size > 10_000 and (out / "latency.md").is_file()
    assert "| memo-int4 |" in (out / "latency.md").read_text()


def test_optimizer_step_benchmark_times_each_implementation_on_the_same_weights(tiny_dir, tmp_path, capsys):
    from benchmarks import optimizer_step

    assert optimizer_step.main(["--ckpt", str(tiny_dir), "--quick", "--out", str(tmp_path)]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = last["results"]
    assert set(rows) == set(optimizer_step.VARIANTS)
    assert all(r["step_s"]["n"] == 3 and r["step_s"]["median"] > 0 for r in rows.values())
    assert rows["fused"]["max_abs_diff"] < 1e-5  # the same update, whichever kernel
    assert (tmp_path / "optimizer_step.json").is_file() and (tmp_path / "optimizer_step.png").is_file()
