"""SIGKILL a real `memo synthesize` process mid-run, rerun it, and compare with an uninterrupted run: the same
output, and not one finished generator call asked again (counted at the real HTTP server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memo_edge.synthesis.scripted import scripted_reply
from openai_server import ScriptedServer

DEMO = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "corpus"
MEMO = str(Path(sys.executable).parent / "memo")


def _cmd(url: str, out: Path) -> list[str]:
    return [
        MEMO,
        "synthesize",
        str(DEMO),
        "-o",
        str(out),
        "--generator",
        "openai",
        "--generator-url",
        url,
        "--generator-model",
        "scripted",
        "--concurrency",
        "4",
        "--no-progress",
    ]


def _finished_calls(cache: Path) -> list[str]:
    keys = []
    for line in cache.read_bytes().splitlines():
        try:
            keys.append(json.loads(line)["key"])
        except ValueError:
            pass  # the line the kill cut short
    return keys


@pytest.mark.slow
def test_sigkill_and_rerun_asks_no_finished_call_again(tmp_path):
    with ScriptedServer(scripted_reply, latency_s=0.03) as srv:
        ref = tmp_path / "ref" / "r.jsonl"
        done = subprocess.run(_cmd(srv.url, ref), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        total = len(srv.requests)
        assert total > 100

        out = tmp_path / "run" / "r.jsonl"
        start = len(srv.requests)
        proc = subprocess.Popen(_cmd(srv.url, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(srv.requests) - start < total // 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not out.exists()  # no half-written output that looks whole
        finished = _finished_calls(out.with_name("r.cache.jsonl"))
        assert 0 < len(finished) < total

        before = len(srv.requests)
        again = subprocess.run(_cmd(srv.url, out), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        asked_again = len(srv.requests) - before

    assert asked_again == total - len(finished)  # every finished call came from the cache
    keys = _finished_calls(out.with_name("r.cache.jsonl"))
    assert len(keys) == len(set(keys)) == total  # nothing duplicated, nothing lost
    assert out.read_bytes() == ref.read_bytes()  # same result as the uninterrupted run
    card, ref_card = (json.loads(p.with_name("r.card.json").read_text()) for p in (out, ref))
    assert card["counts_by_type"] == ref_card["counts_by_type"]
