"""Shared fixtures: a temp MEMO_HOME per test, one models cache per machine, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Pulled/converted checkpoints are shared across tests and runs (gitignored); each test still gets its own home.
MODELS_CACHE = Path(os.environ.get("MEMO_TEST_MODELS_DIR", REPO / ".cache" / "test-models"))


@pytest.fixture(autouse=True)
def memo_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "memo-home"
    monkeypatch.setenv("MEMO_HOME", str(home))
    monkeypatch.setenv("MEMO_MODELS_DIR", str(MODELS_CACHE))
    return home


def _pull(name: str) -> Path:
    os.environ["MEMO_MODELS_DIR"] = str(MODELS_CACHE)
    from memo_edge.models import pull

    return pull(name, log=lambda *a: None)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct checkpoint (pulled once per machine)."""
    return _pull("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct's original Q4_1 GGUF (for llama.cpp), unpacked once per machine."""
    os.environ["MEMO_MODELS_DIR"] = str(MODELS_CACHE)
    from memo_edge.models import pull_gguf

    return pull_gguf(log=lambda *a: None)


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """tiny-random: SmolLM2's architecture and tokenizer, 2 layers, hidden 128, random weights."""
    return _pull("tiny-random")


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return REPO / "memo_edge" / "demo"
