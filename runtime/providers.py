"""Execution provider and thread-count choice for the engine."""

from __future__ import annotations

import os

from memo_edge.errors import MemoError

MAX_DEFAULT_THREADS = 8  # past this, a 135M model's decode is memory-bound and extra threads only contend


def default_threads() -> int:
    """$MEMO_THREADS, else the physical core count capped at 8 (hyperthreads slow small-matmul decode)."""
    env = os.environ.get("MEMO_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise MemoError(f"MEMO_THREADS={env!r}: expected a positive integer") from None
        if n < 1:
            raise MemoError(f"MEMO_THREADS={env!r}: expected a positive integer")
        return n
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
    env = os.environ.get("MEMO_SPIN")
    if env is None or env == "":
        return None
    if env not in ("0", "1"):
        raise MemoError(f"MEMO_SPIN={env!r}: expected 1 (spin) or 0 (sleep between ops)")
    return env == "1"


ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}


def choose_providers(provider: str | None, available: list[str]) -> list[str]:
    """Explicit choice (alias or full name) or, by default, CUDA when onnxruntime-gpu sees a GPU, else CPU."""
    if provider in (None, "", "auto"):
        env = os.environ.get("MEMO_PROVIDER")
        if env:
            return choose_providers(env, available)
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
