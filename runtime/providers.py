"""Execution provider and thread-count choice for the engine."""

from __future__ import annotations

import os

from memo_edge.errors import MemoError
from memo_edge.settings import env

MAX_DEFAULT_THREADS = 8  # past this, a 135M model's decode is memory-bound and extra threads only contend


def default_threads() -> int:
    """$MEMO_THREADS, else the physical core count capped at 8 (hyperthreads slow small-matmul decode)."""
    if env().threads:
        return env().threads
    try:
        import psutil

        n = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_DEFAULT_THREADS))


def spinning_default() -> bool | None:
    """$MEMO_SPIN (1/0): whether onnxruntime's intra-op threads busy-wait between ops; unset = onnxruntime's default.

    Spinning (the default) is fastest on an idle machine; on a CPU shared with other work (an app's UI thread, a
    training job) it burns the cores the others need, and turning it off was 1.65x faster there (benchmarks/
    ort_spinning.py).
    """
    spin = env().spin
    return None if spin is None else spin == "1"


ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}


def choose_providers(provider: str | None, available: list[str]) -> list[str]:
    """Explicit choice (alias or full name) or, by default, CUDA when onnxruntime-gpu sees a GPU, else CPU."""
    if provider in (None, "", "auto"):
        if env().provider:
            return choose_providers(env().provider, available)
        if "CUDAExecutionProvider" in available and _cuda_device_present():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]
    name = ALIASES.get(provider.lower(), provider)
    if name not in available:
        raise MemoError(
            f"provider '{provider}': not available in this onnxruntime build (available: {', '.join(available)})"
        )
    return [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]


def _cuda_device_present() -> bool:
    # onnxruntime-gpu lists CUDA even on machines without a GPU/driver; creating a session would then fail late.
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(os.path.exists(p) for p in ("/dev/nvidia0", "/dev/nvidiactl")) or os.name == "nt"
