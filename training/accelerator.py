"""The one place training touches private members of torch and accelerate (tests/test_library_internals.py checks
both, so an upgrade that removes one fails a test instead of silently changing a run).

- `torch.cpu._is_avx512_bf16_supported`: torch has no public "does this CPU do native bf16" query (the public
  `torch.backends.cpu.get_cpu_capability()` says AVX512, not AVX512-BF16); bf16 autocast is ~2x faster on such
  CPUs and slower where bf16 is emulated.
- `AcceleratorState._reset_state`: accelerate keeps its first mixed-precision choice process-wide; a second
  `train()` in one process (tests, benchmarks) with another precision needs it forgotten (the process group, if
  any, is kept). A launched multi-GPU run makes one Accelerator and never calls it.
"""

from __future__ import annotations

import torch


def bf16_available() -> bool:
    """bf16 autocast pays off on CUDA and on CPUs with native bf16 dot products (AVX512-BF16/AMX: ~2x faster
    steps for the 135M model, measured); master weights and optimizer state stay fp32 either way."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # gone in some release: bf16 off, test fails
    return bool(probe and probe())


def make_accelerator(bf16: bool):
    """An Accelerator with this precision, even when an earlier one in this process chose another."""
    from accelerate import Accelerator  # with torch: only when training
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state:
        AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision="bf16" if bf16 else "no")
