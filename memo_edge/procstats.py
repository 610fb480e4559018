"""Process statistics shared by the runtime profiler, training and benchmarks (stdlib only)."""

from __future__ import annotations

import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process image, in MiB.

    Linux: VmHWM from /proc, not getrusage's ru_maxrss, which survives fork+exec (a child would report the
    parent's high-water mark, e.g. after a multi-GB export). Elsewhere: ru_maxrss (bytes on macOS), or psutil's
    peak working set on Windows.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)
