"""SIGKILL in the middle of `memo train`, run the same command again: it resumes and ends with identical weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from test_training import qa_rows, write_rows

pytestmark = pytest.mark.slow  # every test here trains a model

ARGS = ["--preset", "tiny", "--epochs", "2", "--batch-size", "4", "--save-every-steps", "2", "--idk-fraction", "0.1"]


def memo_train(refl, out, base, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    cmd = [sys.executable, "-m", "memo_edge.training", str(refl), "-o", str(out), "--base", str(base), *ARGS]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_sigkill_then_rerun_resumes_to_identical_weights(tiny_dir, tmp_path):
    from memo_edge.training.loop import KILL_ENV

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(6))
    ref = memo_train(refl, tmp_path / "ref", tiny_dir)
    assert ref.returncode == 0, ref.stderr
    # 9 reflections + 1 IDK example / batch 4 -> 3 steps per epoch, state saved after steps 2, 3 (epoch end), 4, 6;
    # kill after step 5 (mid epoch 2, one step past a checkpoint).
    killed = memo_train(refl, tmp_path / "ck", tiny_dir, {KILL_ENV: "5"})
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "ck" / "config.json").exists(), "a killed run must not look like a finished checkpoint"
    resumed = memo_train(refl, tmp_path / "ck", tiny_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from step 4" in resumed.stderr
    a, b = weights(tmp_path / "ref"), weights(tmp_path / "ck")
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
    # The metrics file has one line per step, no duplicates from the replayed steps.
    import json

    steps = [
        json.loads(ln)["step"]
        for ln in (tmp_path / "ck" / "metrics.jsonl").read_text().splitlines()
        if json.loads(ln)["kind"] == "step"
    ]
    assert steps == list(range(1, 7))


def test_changed_config_starts_over_instead_of_resuming(tiny_dir, tmp_path):
    from memo_edge.training.loop import KILL_ENV

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(6))
    killed = memo_train(refl, tmp_path / "ck", tiny_dir, {KILL_ENV: "3"})
    assert killed.returncode == -signal.SIGKILL
    env = {**os.environ}
    cmd = [
        sys.executable,
        "-m",
        "memo_edge.training",
        str(refl),
        "-o",
        str(tmp_path / "ck"),
        "--base",
        str(tiny_dir),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--lr",
        "0.001",
    ]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert "different run" in again.stderr and "resuming" not in again.stderr
