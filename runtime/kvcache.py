"""The decoder's KV cache: one preallocated buffer per layer and K/V, bound as both past input and present output.

onnxruntime's GroupQueryAttention recognises a past and a present bound to the same memory (genai's
`past_present_share_buffer` layout) and then writes each new token's K/V in place at the row's own length, instead
of copying the whole past into a freshly allocated present every step. A buffer is (rows, kv_heads, capacity,
head_dim); a batch of n rows binds the contiguous view [lo:hi] of it, so rows that leave are compacted by moving
the last row into the hole (one row's used columns), never by copying the others.

Buffers grow by doubling (copying only used columns) and are dropped by `release()`, so a long prompt does not
keep its memory after it finishes. They are anonymous memory maps, not malloc'd: pages a row never reaches are
never touched (no resident memory), and a dropped buffer is unmapped, i.e. really returned to the OS (glibc keeps
freed blocks under its 32 MB dynamic mmap threshold in the heap, where RSS stays high).
"""

from __future__ import annotations

import mmap

import numpy as np

MIN_CAPACITY = 256  # positions per row allocated at first use


def _zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    return np.frombuffer(mmap.mmap(-1, max(n, 1)), dtype, count=int(np.prod(shape))).reshape(shape)


def _round_up(n: int, floor: int) -> int:
    c = floor
    while c < n:
        c *= 2
    return c


class KVCache:
    def __init__(self, n_tensors: int, kv_heads: int, head_dim: int, dtype, max_rows: int, max_capacity: int):
        self.n_tensors, self.kv_heads, self.head_dim, self.dtype = n_tensors, kv_heads, head_dim, dtype
        self.max_rows, self.max_capacity = max_rows, max_capacity
        self.bufs: list[np.ndarray] = []
        self.rows = self.capacity = 0
        self.generation = 0  # bumped on every reallocation: bindings of older buffers are stale
        self._values: dict[tuple[int, int], list] = {}

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.bufs)

    def reserve(self, rows: int, capacity: int, used_rows: int = 0, used_cols: int = 0) -> None:
        """Make room for `rows` rows of `capacity` positions, keeping rows [0:used_rows] up to `used_cols`."""
        if rows <= self.rows and capacity <= self.capacity:
            return
        if capacity > self.max_capacity:
            raise ValueError(f"KV cache: {capacity} positions exceed the model's context of {self.max_capacity}")
        new_rows = min(max(_round_up(rows, 1), self.rows), max(self.max_rows, rows))
        new_cap = min(max(_round_up(capacity, MIN_CAPACITY), self.capacity), self.max_capacity)
        shape = (new_rows, self.kv_heads, new_cap, self.head_dim)
        old = self.bufs
        self.bufs = [_zeros(shape, self.dtype) for _ in range(self.n_tensors)]
        if old and used_rows and used_cols:
            for dst, src in zip(self.bufs, old):
                dst[:used_rows, :, :used_cols] = src[:used_rows, :, :used_cols]
        self.rows, self.capacity = new_rows, new_cap
        self.generation += 1
        self._values.clear()

    def release(self) -> None:
        """Drop the buffers (a later reserve() allocates small ones again)."""
        self.bufs, self.rows, self.capacity = [], 0, 0
        self.generation += 1
        self._values.clear()

    def ortvalues(self, lo: int, hi: int) -> list:
        """OrtValues over rows [lo:hi] of every buffer (sharing their memory), cached until the next reallocation."""
        key = (lo, hi)
        vals = self._values.get(key)
        if vals is None:
            import onnxruntime as ort

            vals = [ort.OrtValue.ortvalue_from_numpy(b[lo:hi]) for b in self.bufs]
            self._values[key] = vals
        return vals

    def move_row(self, src: int, dst: int, cols: int) -> None:
        for b in self.bufs:
            b[dst, :, :cols] = b[src, :, :cols]

    def write_row(self, row: int, kv: list[np.ndarray], cols: int | None = None, at: int = 0) -> None:
        """Copy one row of per-tensor arrays shaped (1 or more, kv_heads, >= cols, head_dim) into `row` at `at`."""
        for b, src in zip(self.bufs, kv):
            n = src.shape[2] if cols is None else cols
            b[row, :, at : at + n] = src[0, :, :n]

    def read_row(self, row: int, cols: int) -> list[np.ndarray]:
        return [b[row : row + 1, :, :cols].copy() for b in self.bufs]
