"""Continuous batching over one KV cache: requests join at any step, decode together, leave when done.

Each step: rows whose `should_stop` fires leave; waiting prompts that fit in one chunk are prefilled straight into
free rows (packed into one call after a shared prefix when the engine graph allows, right-padded in one call when
they have no cached prefix, else one call each) and pick their first token; one chunk of a long prompt is
prefilled in a single-row staging cache (copied into a row once complete; while other rows decode, chunks are 4x
smaller and take at most half of the time); then every live row decodes one token. Live rows occupy KV rows [0:n)
in order; a finished row is replaced by the last one (one row's used columns copied). See runtime/README.md.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from .kvcache import KVCache
from .model import Model, Request

KEEP_KV_BYTES = 128 << 20  # an idle batch keeps KV buffers up to this size (warm pages); larger ones are freed
SHRINK_ARENA_AT = 2048  # prefill calls over this many positions give onnxruntime's arena memory back after


class Batch:
    """A continuous batch: `add()` requests at any time, `step()` until `busy` is False (module docstring).
    Not thread-safe: one thread drives a batch."""

    def __init__(self, model: Model, max_rows: int):
        self.e = model
        self.max_rows = max_rows
        m = model.manifest.model
        self.kv = KVCache(
            len(model.past_names), m.num_key_value_heads, m.head_dim, model.kv_dtype, max_rows, model.context_length
        )
        self.waiting: deque[Request] = deque()
        self.live: list[Request] = []
        self.staging: tuple[Request, KVCache] | None = None
        self.finished: list[Request] = []
        self._bindings: dict = {}
        self._logits = np.empty(0, np.float32)
        self._logit_values: dict[tuple, tuple[np.ndarray, object]] = {}  # shape -> (view, OrtValue over it)
        self._positions = np.arange(model.context_length + 1)
        self._zeros = np.zeros((max_rows, 1), np.int64)
        self.keep_kv_bytes = KEEP_KV_BYTES
        self._chunk_s = self._decoded_s = 0.0  # last long-prompt chunk's time, decode time since then
        self.steps = 0

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.live or self.staging)

    @property
    def rows(self) -> int:
        return len(self.live)

    def add(self, r: Request) -> Request:
        self.waiting.append(r)
        return r

    def reset(self) -> None:
        """Back to idle; large KV buffers (a long prompt's) are given back to the OS."""
        self.waiting.clear()
        self.live.clear()
        self.staging = None
        self.finished = []
        self._trim()

    def _trim(self) -> None:
        if self.kv.nbytes > self.keep_kv_bytes:
            self.kv.release()
            self._bindings.clear()
        if self._logits.size > 2 * self.max_rows * self.e.vocab:  # a plain graph's full prefill logits
            self._logits = np.empty(0, np.float32)
            self._logit_values.clear()

    # ---- one step ------------------------------------------------------------------------------------------
    def step(self) -> list[Request]:
        """One scheduling step; returns the requests that finished in it."""
        self.finished = []
        now = time.perf_counter()
        self._expire(now)
        self._admit()
        self._stage()
        self._retire()  # rows whose first token already ended them
        if self.live:
            self._decode()
            self._retire()
        if not self.busy:
            self._trim()
        self.steps += 1
        return self.finished

    def _expire(self, now: float) -> None:
        for r in [*self.waiting, *self.live, *([self.staging[0]] if self.staging else [])]:
            if r.should_stop is not None and not r.finish:
                reason = r.should_stop(now)
                if reason:
                    r.finish = reason
                    r.t_last = r.t_last or now
        for r in [r for r in self.waiting if r.finish]:
            self.waiting.remove(r)
            self.finished.append(r)
        if self.staging and self.staging[0].finish:
            self.finished.append(self.staging[0])
            self.staging = None
        self._retire()

    def _retire(self) -> None:
        """Remove finished live rows; the last row moves into each hole (one row's columns copied)."""
        i = 0
        while i < len(self.live):
            r = self.live[i]
            if not r.finish:
                i += 1
                continue
            self.finished.append(r)
            last = self.live.pop()
            if last is not r:
                self.kv.move_row(len(self.live), i, last.length)
                self.live[i] = last

    # ---- prefill -------------------------------------------------------------------------------------------
    def _prefix(self, r: Request) -> tuple[int, list[np.ndarray] | None]:
        if not r.prefix:
            return 0, None
        cached = self.e.prefix_cached(r.prefix)
        t = time.perf_counter()
        p_ids, kv = self.e.prefix_state(r.prefix)
        P = len(p_ids)
        if not cached:  # computed for this request: its time and tokens are this row's prefill, not a reuse
            r.prefill_s += time.perf_counter() - t
            r.prefill_tokens += P
            r.prefix_computed = True
        # BPE can merge across the boundary: only reuse when the prefix tokens really are the prompt's first tokens
        if P == 0 or len(r.ids) <= P or r.ids[:P] != p_ids:
            return 0, None
        return P, kv

    def _admit(self) -> None:
        """Prefill waiting prompts that fit in one chunk into free rows (shortest wait first: FIFO)."""
        chunk = self.e.prefill_chunk
        ready: list[tuple[Request, int, list | None]] = []
        for r in list(self.waiting):
            if len(self.live) + len(ready) >= self.max_rows:
                break
            P, pkv = self._prefix(r)
            if len(r.ids) - P > chunk:
                continue  # a long prompt: staged a chunk per step
            self.waiting.remove(r)
            ready.append((r, P, pkv))
        if not ready:
            return
        groups: dict[int, list] = {}
        for item in ready:  # rows after the same prefix (or none) can share one call
            groups.setdefault(id(item[2]) if item[2] is not None else 0, []).append(item)
        for items in groups.values():
            if len(items) == 1:
                self._prefill_row(*items[0])
            elif items[0][1] == 0:
                self._prefill_padded(items)
            elif self.e.packed_prefill:
                self._prefill_packed(items)
            else:
                for item in items:
                    self._prefill_row(*item)

    def _place(self, rows: int, cols: int) -> None:
        used_cols = max((r.length for r in self.live), default=0)
        self.kv.reserve(rows, cols, len(self.live), used_cols)

    def _prefill_row(self, r: Request, P: int, pkv) -> None:
        slot = len(self.live)
        self._place(slot + 1, len(r.ids) + 1)
        if P:
            self.kv.write_row(slot, pkv, P)
        t = time.perf_counter()
        r.started = True
        logits = self._prefill_call(self.kv, slot, r.ids[P:], P)
        self._joined(r, P, logits, time.perf_counter() - t, len(r.ids) - P)

    def _prefill_padded(self, items: list) -> None:
        """Whole prompts (no cached prefix) in one call, right-padded: a first prompt may be batched, and each row's
        length comes from its mask row; logits at each row's own last position."""
        slot0 = len(self.live)
        lens = [len(r.ids) for r, _, _ in items]
        n, L = len(items), max(lens)
        self._place(slot0 + n, L + 1)
        x = np.full((n, L), self.e.pad_id, np.int64)
        for i, (r, _, _) in enumerate(items):
            x[i, : lens[i]] = r.ids
            r.started = True
        mask = (np.arange(L)[None, :] < np.array(lens)[:, None]).astype(np.int64)
        pos = np.broadcast_to(np.arange(L), (n, L)).copy()
        t = time.perf_counter()
        logits = self._call(
            self.kv, slot0, slot0 + n, x, mask, self.e.extra_feeds(pos, L, np.array(lens).reshape(n, 1) - 1), L
        )
        dt = time.perf_counter() - t
        for i, (r, _, _) in enumerate(items):
            self._joined(r, 0, logits[i, 0] if self.e.logits_index else logits[i, lens[i] - 1], dt, sum(lens))

    def _prefill_packed(self, items: list) -> None:
        """Prompts after the same cached prefix in ONE call: their suffixes concatenated in one row after the
        prefix, each with its own rotary positions and a block mask (a suffix sees the prefix and itself only);
        then each suffix's K/V is copied into its own row after the prefix. (GQA honours position_ids only for
        tokens that follow a past, which is why whole prompts take _prefill_padded instead.)"""
        slot0 = len(self.live)
        P, pkv = items[0][1], items[0][2]
        segs = [r.ids[P:] for r, _, _ in items]
        lens = [len(s) for s in segs]
        S = sum(lens)
        self._place(slot0 + len(items), P + S + 1)
        for j in range(len(items)):
            if P:
                self.kv.write_row(slot0 + j, pkv, P)
        starts = np.cumsum([0, *lens[:-1]])
        pos = np.concatenate([np.arange(P, P + n) for n in lens])[None]
        bias = np.zeros((1, 1, S, P + S), self.e.kv_dtype)
        for st, n in zip(starts, lens):  # hide the other suffixes from this one (the prefix stays visible)
            bias[0, 0, st : st + n, P : P + st] = -np.inf
            bias[0, 0, st : st + n, P + st + n :] = -np.inf
        t = time.perf_counter()
        for r, _, _ in items:
            r.started = True
        x = np.array([np.concatenate(segs)], np.int64)
        logits = self._call(
            self.kv,
            slot0,
            slot0 + 1,
            x,
            np.ones((1, P + S), np.int64),
            self.e.extra_feeds(pos, P + S, [[int(st + n - 1) for st, n in zip(starts, lens)]], bias),
            P + S,
        )
        # row slot0 holds prefix + suffix 0 in place; move suffix j's columns to row slot0 + j
        for j, (st, n) in enumerate(zip(starts, lens)):
            if j:
                for b in self.kv.bufs:
                    b[slot0 + j, :, P : P + n] = b[slot0, :, P + st : P + st + n]
        dt = time.perf_counter() - t
        for j, (r, _, _) in enumerate(items):
            self._joined(r, P, logits[0, j], dt, S)

    def _joined(self, r: Request, P: int, logits: np.ndarray, dt: float, computed: int) -> None:
        r.prefix_reused = 0 if r.prefix_computed else P
        r.cached = r.length = len(r.ids)
        r.prefill_s += dt
        r.prefill_tokens += computed
        self.live.append(r)
        self.e.accept(r, logits, time.perf_counter())
        r.batch_size = max(r.batch_size, 1)

    def _stage(self) -> None:
        """One chunk of a long prompt, in its own single-row cache; the row joins the batch when complete."""
        if self.staging is None:
            for r in self.waiting:
                P, pkv = self._prefix(r)
                if len(r.ids) - P > self.e.prefill_chunk:
                    self.waiting.remove(r)
                    m = self.e.manifest.model
                    cache = KVCache(
                        len(self.e.past_names),
                        m.num_key_value_heads,
                        m.head_dim,
                        self.e.kv_dtype,
                        1,
                        self.e.context_length,
                    )
                    cache.reserve(1, len(r.ids) + 1)
                    if P:
                        cache.write_row(0, pkv, P)
                    r.cached, r.started = P, True
                    r.prefix_reused = 0 if r.prefix_computed else P
                    self.staging = (r, cache)
                    break
        if self.staging is None:
            return
        r, cache = self.staging
        # Rows decoding beside a long prompt keep at least half of the time: a chunk runs only once they have
        # decoded for as long as the previous chunk took, and chunks are 4x smaller while they wait on it.
        sharing = bool(self.live)
        if r.cached < len(r.ids) and (not sharing or self._decoded_s >= self._chunk_s):
            size = max(16, self.e.prefill_chunk // 4) if sharing else self.e.prefill_chunk
            piece = r.ids[r.cached : r.cached + size]
            t = time.perf_counter()
            r._pending = self._prefill_call(cache, 0, piece, r.cached).copy()
            self._chunk_s, self._decoded_s = time.perf_counter() - t, 0.0
            r.prefill_s += self._chunk_s
            r.prefill_tokens += len(piece)
            r.cached += len(piece)
        if r.cached == len(r.ids) and len(self.live) < self.max_rows:
            slot = len(self.live)
            self._place(slot + 1, len(r.ids) + 1)
            self.kv.write_row(slot, cache.bufs, len(r.ids))
            self.staging = None  # its cache is freed with it
            r.length = len(r.ids)
            self.live.append(r)
            self.e.accept(r, r._pending, time.perf_counter())
            r._pending = None

    def _prefill_call(self, cache: KVCache, slot: int, ids: list[int], past: int) -> np.ndarray:
        """Prefill `ids` into row `slot` of `cache` after `past` cached tokens; logits of the last one."""
        s = len(ids)
        x = np.array([ids], np.int64)
        total = past + s
        logits = self._call(
            cache,
            slot,
            slot + 1,
            x,
            np.ones((1, total), np.int64),
            self.e.extra_feeds(np.arange(past, total)[None], total, None),
            total,
        )
        return logits[0, -1]

    # ---- decode --------------------------------------------------------------------------------------------
    def _decode(self) -> None:
        t0 = time.perf_counter()
        live = self.live
        n = len(live)
        lens = np.fromiter((r.length for r in live), np.int64, n)
        width = int(lens.max()) + 1
        if width > self.kv.capacity:
            self._place(n, width)
        tok = np.fromiter((r.out[-1] for r in live), np.int64, n).reshape(n, 1)
        mask = (self._positions[:width] <= lens[:, None]).astype(np.int64)
        logits = self._call(
            self.kv, 0, n, tok, mask, self.e.extra_feeds(lens.reshape(n, 1), width, self._zeros[:n]), width
        )
        now = time.perf_counter()
        for j, r in enumerate(live):
            r.length += 1
            r.batch_size = max(r.batch_size, n)
            self.e.accept(r, logits[j, 0], now)
        self._decoded_s += time.perf_counter() - t0

    # ---- the graph call ------------------------------------------------------------------------------------
    def _binding(self, cache: KVCache, lo: int, hi: int):
        key = (id(cache), cache.generation, lo, hi)
        io = self._bindings.get(key)
        if io is None:
            e = self.e
            io = e.session.io_binding()
            for past, present, v in zip(e.past_names, e.present_names, cache.ortvalues(lo, hi)):
                io.bind_ortvalue_input(past, v)
                io.bind_ortvalue_output(present, v)
            if cache is not self.kv:  # a staging cache lives for one prompt: keep no bindings of it around
                return io
            stale = [k for k in self._bindings if k[1] != cache.generation]
            for k in stale:
                del self._bindings[k]
            self._bindings[key] = io
        return io

    def _call(
        self, cache: KVCache, lo: int, hi: int, input_ids: np.ndarray, mask: np.ndarray, extra: dict, total: int
    ) -> np.ndarray:
        import onnxruntime as ort

        e = self.e
        io = self._binding(cache, lo, hi)
        io.bind_cpu_input(e.io.input_ids, input_ids)
        io.bind_cpu_input(e.io.attention_mask, mask)
        for name, arr in extra.items():
            io.bind_cpu_input(name, arr)
        n_logits = extra[e.logits_index].shape[1] if e.logits_index else input_ids.shape[1]
        size = (hi - lo) * n_logits * e.vocab
        if self._logits.size < size or len(self._logit_values) > 64:
            self._logits = np.empty(max(size, self._logits.size), e.logits_dtype)
            self._logit_values.clear()
        shape = (hi - lo, n_logits, e.vocab)
        hit = self._logit_values.get(shape)
        if hit is None:
            view = self._logits[:size].reshape(shape)
            hit = self._logit_values[shape] = (view, ort.OrtValue.ortvalue_from_numpy(view))
        logits = hit[0]  # valid until the next call
        io.bind_ortvalue_output(e.io.logits, hit[1])
        if total > SHRINK_ARENA_AT and input_ids.shape[1] > 1:
            e.session.run_with_iobinding(io, e.shrink_arena)
        else:
            e.session.run_with_iobinding(io)
        return logits if logits.dtype == np.float32 else logits.astype(np.float32)  # sampling works in fp32
