"""Thread-count default and execution-provider choice; CUDA parity where a GPU is present (skipped elsewhere)."""

from __future__ import annotations

import pytest
from runtime_fixtures import varied_pack

from memo_edge.errors import MemoError
from memo_edge.runtime.providers import MAX_DEFAULT_THREADS, choose_providers, default_threads, spinning_default


def test_default_threads(monkeypatch):
    monkeypatch.delenv("MEMO_THREADS", raising=False)
    n = default_threads()
    assert 1 <= n <= MAX_DEFAULT_THREADS
    monkeypatch.setenv("MEMO_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("MEMO_THREADS", "lots")
    with pytest.raises(MemoError, match="MEMO_THREADS"):
        default_threads()


def test_spinning_switch(monkeypatch, tiny_dir):
    monkeypatch.delenv("MEMO_SPIN", raising=False)
    assert spinning_default() is None  # onnxruntime decides
    monkeypatch.setenv("MEMO_SPIN", "0")
    assert spinning_default() is False
    monkeypatch.setenv("MEMO_SPIN", "yes")
    with pytest.raises(MemoError, match="MEMO_SPIN"):
        spinning_default()
    monkeypatch.setenv("MEMO_SPIN", "0")
    from memo_edge.runtime.engine import Engine

    pack = varied_pack(tiny_dir)[1]
    quiet, spinning = Engine(pack), Engine(pack, spin=True)  # the argument wins over the environment
    opts = lambda e: e.session.get_session_options().get_session_config_entry(  # noqa: E731
        "session.intra_op.allow_spinning"
    )
    assert (opts(quiet), opts(spinning)) == ("0", "1")
    p = [quiet.manifest.prompt.render("Who founded Lumen Labs?")]
    assert quiet.generate(p, max_new_tokens=8)[0].token_ids == spinning.generate(p, max_new_tokens=8)[0].token_ids


def test_choose_providers(monkeypatch):
    monkeypatch.delenv("MEMO_PROVIDER", raising=False)
    cpu_only = ["CPUExecutionProvider"]
    assert choose_providers(None, cpu_only) == cpu_only
    assert choose_providers("cpu", cpu_only) == cpu_only
    with pytest.raises(MemoError, match="not available"):
        choose_providers("cuda", cpu_only)
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("cuda", both) == both  # explicit: CUDA first, CPU for unsupported nodes
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert choose_providers(None, both) == cpu_only  # onnxruntime-gpu installed but no usable GPU: stay on CPU
    monkeypatch.setenv("MEMO_PROVIDER", "cpu")
    assert choose_providers("auto", both) == cpu_only


@pytest.mark.gpu
def test_cuda_engine_matches_cpu_greedy(tiny_dir):
    ort = pytest.importorskip("onnxruntime")
    from memo_edge.runtime.providers import _cuda_device_present

    if "CUDAExecutionProvider" not in ort.get_available_providers() or not _cuda_device_present():
        pytest.skip("no CUDA execution provider / GPU here")
    from memo_edge.runtime.engine import Engine

    pack = varied_pack(tiny_dir)[1]
    cpu, gpu = Engine(pack, provider="cpu"), Engine(pack)  # auto-pick must choose CUDA here
    assert gpu.providers[0] == "CUDAExecutionProvider"
    ps = [cpu.manifest.prompt.render(q) for q in ("Who founded Lumen Labs?", "What is 2+2?")]
    a = cpu.generate(ps, max_new_tokens=12, stop_token_ids=[])
    b = gpu.generate(ps, max_new_tokens=12, stop_token_ids=[])
    assert [c.token_ids[:6] for c in a] == [c.token_ids[:6] for c in b]
