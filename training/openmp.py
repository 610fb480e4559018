"""OpenMP's wait policy for torch's CPU threads, chosen before torch is first imported.

torch's CPU threads are libgomp threads. By default a thread that reaches the end of a parallel region first spins
before it sleeps; when another process holds one of the cores (a laptop is rarely idle), the spinning thread takes
the time slices the late thread needs and every op waits for it. `benchmarks/cpu_contention.py` measures the real
training step both ways, on a quiet machine and beside one busy process. libgomp reads the variable once, when torch
loads it: this must run before anything imports torch in the process (spaCy's thinc may, so the CLI calls it first).
"""

from __future__ import annotations

import os

from memo_edge.settings import env


def prefer_sleeping_threads() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless MEMO_OMP_WAIT=default or the user set OMP_WAIT_POLICY themselves."""
    if env().omp_wait == "passive":
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
