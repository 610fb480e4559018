"""Memory (pack + manifest prompt) and `memo ask`: torch-free, batched answers, latency line, trace, profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from runtime_fixtures import varied_pack

from memo_edge.runtime import Memory

FORBIDDEN = ("torch", "transformers", "memo_edge.training", "memo_edge.export", "peft", "accelerate")


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


def test_memory_answers_batched_with_the_manifest_prompt(pack):
    mem = Memory.load(pack, threads=2)
    qs = ["Who founded Lumen Labs?", "What is 2+2?", "Where is Vell?"]
    batched = mem.answer(qs)
    assert batched == [mem.answer([q])[0] for q in qs]
    comps = mem.complete(qs)
    assert all(c.prefix_tokens_reused > 0 for c in comps)  # the memory prompt's prefix KV is reused
    expected = mem.engine.generate([mem.prompt.render(q) for q in qs], max_new_tokens=64, stop=mem.prompt.stop)
    assert [c.text.strip() for c in expected] == batched
    assert Memory.load(pack, threads=2).engine is mem.engine  # one engine (and prefix cache) per process


def test_ask_none_mode(pack):
    ans = Memory.load(pack, threads=2).ask("Who founded Lumen Labs?")
    assert ans.mode == "none" and ans.memory_calls == 1 and ans.final_answer
    assert ans.timings["memory_s"] > 0 and ans.timings["executive_s"] == 0


def _run_memo(args, env_extra=None):
    code = (
        "import sys\n"
        "from memo_edge.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "else:\n"
        "    code = 0\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} or m.startswith({FORBIDDEN!r}))\n"
        "print('MODULES', bad, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_memo_ask_cli_is_torch_free_and_prints_answer_and_latency(pack, tmp_path):
    trace, profile = tmp_path / "t.jsonl", tmp_path / "prof.json"
    r = _run_memo(
        [
            "ask",
            str(pack),
            "Who founded Lumen Labs?",
            "--executive",
            "none",
            "--threads",
            "2",
            "--trace",
            str(trace),
            "--profile",
            str(profile),
        ]
    )
    assert r.returncode == 0, r.stderr
    assert "MODULES []" in r.stderr, r.stderr
    assert r.stdout.strip()  # the answer
    lat = [line for line in r.stderr.splitlines() if line.startswith("latency:")]
    assert len(lat) == 1 and "TTFT" in lat[0] and "tok/s" in lat[0]
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [e["kind"] for e in events][0] == "start" and events[-1]["kind"] == "answer"
    prof = json.loads(profile.read_text())
    assert prof["summary"]["memory_calls"]["ttft_s"]["n"] == 1 and prof["summary"]["peak_rss_mb"] > 0
    chrome = json.loads((tmp_path / "prof.trace.json").read_text())
    assert any(e.get("ph") == "X" and e["cat"] == "memory" for e in chrome["traceEvents"])
    assert (tmp_path / "prof.png").stat().st_size > 1000


@pytest.mark.slow
def test_memo_ask_bad_pack_is_one_line_error(tmp_path):
    r = _run_memo(["ask", str(tmp_path / "nope"), "q?"])
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_memopack_zip_answers_like_the_directory(pack, tmp_path):
    from memo_edge.pack import zip_pack

    z = zip_pack(pack, tmp_path / "demo.memopack")
    q = ["Who founded Lumen Labs?"]
    assert Memory.load(z, threads=2).answer(q) == Memory.load(pack, threads=2).answer(q)


def test_tampered_pack_is_refused(pack, tmp_path):
    import shutil

    from memo_edge.errors import PackError

    bad = tmp_path / "bad"
    shutil.copytree(pack, bad)
    with open(bad / "tokenizer.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(PackError, match="tokenizer.json"):
        Memory.load(bad)
