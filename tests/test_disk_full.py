"""A full disk (ENOSPC) is one `error:` line naming where, exit 2, and nothing half-written left behind.

Each command runs as a real `memo` process whose output folder is a small tmpfs mounted in a private mount
namespace (`unshare -m`, root or user namespaces needed; skipped where that is not possible)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "memo_edge" / "demo"


def _can_mount() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    flags = "-m" if os.geteuid() == 0 else "-rm"
    p = subprocess.run(
        ["unshare", flags, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, timeout=30
    )
    return p.returncode == 0


pytestmark = pytest.mark.skipif(not _can_mount(), reason="cannot mount a tmpfs in a private mount namespace here")


def on_full_disk(tmp_path: Path, size: str, *memo_args) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `memo ARGS` with tmp_path/full as a tmpfs of `size`; return the process and what was left in it."""
    full = tmp_path / "full"
    full.mkdir(exist_ok=True)
    listing = tmp_path / "left.txt"
    memo = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "memo_edge", *map(str, memo_args)])
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(full))} || exit 99\n"
        f"{memo}\nrc=$?\n(cd {shlex.quote(str(full))} && find . -mindepth 1) > {shlex.quote(str(listing))}\n"
        "exit $rc"
    )
    env = {k: v for k, v in os.environ.items() if k != "MEMO_DEBUG"}
    p = subprocess.run(
        ["unshare", "-m" if os.geteuid() == 0 else "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode != 99, "mount failed"
    return p, listing.read_text().split()


def one_error(p: subprocess.CompletedProcess, *names: str) -> str:
    errs = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert p.returncode == 2 and len(errs) == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
    for n in names:
        assert n in errs[0], errs[0]
    return errs[0]


@pytest.mark.slow
def test_synthesize_on_a_full_disk(tmp_path):
    out = tmp_path / "full" / "r.jsonl"
    p, left = on_full_disk(tmp_path, "48k", "synthesize", DEMO / "corpus", "-o", out, "--no-progress")
    one_error(p, "no space left", "r.jsonl")
    assert not [f for f in left if f.endswith((".tmp", ".partial"))], left


@pytest.mark.slow
def test_eval_on_a_full_disk(tmp_path, tiny_dir):
    from runtime_fixtures import varied_pack

    pack = varied_pack(tiny_dir)[1]
    qs = tmp_path / "q.jsonl"
    # long gold answers: the results JSON outgrows the one-page disk
    qs.write_text(
        "".join(
            json.dumps({"id": str(i), "question": f"Who founded company {i}?", "answer": "A" * 2000}) + "\n"
            for i in range(4)
        )
    )
    out = tmp_path / "full" / "res.json"
    p, left = on_full_disk(tmp_path, "4k", "eval", pack, qs, "-o", out)
    one_error(p, "no space left", "res.json")
    assert not [f for f in left if f.endswith(".tmp")], left


@pytest.mark.slow
def test_train_on_a_full_disk_leaves_no_partial(tmp_path, tiny_dir):
    refl = tmp_path / "r.jsonl"
    refl.write_text(
        "".join(
            json.dumps({"id": str(i), "question": f"What is fact {i} of Varrowick?", "answer": f"Fact {i}."}) + "\n"
            for i in range(12)
        )
    )
    out = tmp_path / "full" / "ck"
    # 20 MB: room for the data and metrics, not for the 29 MB of weights saved at the end of the epoch
    p, left = on_full_disk(
        tmp_path,
        "20m",
        "train",
        refl,
        "-o",
        out,
        "--base",
        tiny_dir,
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--threads",
        "2",
    )
    one_error(p, "no space left", "ck")
    assert not [f for f in left if "partial" in f], left


def test_keygen_on_a_full_disk_leaves_no_empty_key(tmp_path):
    key = tmp_path / "full" / "k"
    # one page: the private key fits, its .pub does not
    p, left = on_full_disk(tmp_path, "4k", "keygen", key)
    one_error(p, "no space left", "k.pub")
    assert left == [], left  # no 0-byte key, no half pair, no temp file: the next try is not blocked


@pytest.mark.slow
def test_ask_trace_on_a_full_disk_leaves_no_empty_trace(tmp_path, tiny_dir):
    from runtime_fixtures import varied_pack

    pack = varied_pack(tiny_dir)[1]
    trace = tmp_path / "full" / "t.json"
    question = "Who founded " + "Lumen " * 300 + "Labs?"  # its trace (~6 KB) outgrows the one-page disk
    p, left = on_full_disk(tmp_path, "4k", "ask", pack, question, "--executive", "none", "--trace", trace)
    one_error(p, "no space left", "t.json")
    assert left == [], left  # no 0-byte trace, no temp file
