"""The torch-free generation engine: onnxruntime + tokenizers + numpy over a pack's decoder graph with KV cache.

One decoder graph does prefill and decode (genai-builder layout: input_ids, attention_mask, past_key_values.%d.*;
GroupQueryAttention derives each row's length from the attention mask's row sum and writes a new token's K/V at
that index). The KV cache is one buffer per layer and K/V bound as both past and present (`kvcache.py`), so a
decode step writes one column per row in place instead of copying the cache.

Generation is continuous batching (`Batch`): a request joins the running batch at the next step (its prompt is
prefilled alone into a free row, on top of a cached shared prefix when it has one; prompts longer than
`prefill_chunk` are prefilled one chunk per step in a staging cache, so they never freeze the rows that are
decoding), every live row decodes one token per step, and a row leaves the moment it finishes, is cancelled or
passes its deadline (`should_stop`). `Engine.generate` runs one batch to completion; the server's `Batcher` keeps
one running and feeds it.

Packs exported by this version carry `model.memo.onnx` (role `engine_model`): the same weights file with a graph
that computes logits only at the positions asked for (`logits_index`) and takes rotary `position_ids` and an
additive `attention_bias`, so several prompts after a shared prefix are prefilled as ONE packed row with a block
mask. Older packs run their plain `model.onnx` (full logits, one prompt per prefill call).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from memo_edge.errors import MemoError, PackError
from memo_edge.pack import OnnxIO, Pack

from .kvcache import KVCache
from .providers import choose_providers, default_threads, spinning_default
from .sampling import pick

OnToken = Callable[[int, str, int], None]  # (row index, new text, token id)
PREFIX_CACHE_SIZE = 4
MAX_BATCH = 32        # rows decoded together
PREFILL_CHUNK = 256   # prompt tokens per prefill call; longer prompts are prefilled a chunk per step
KEEP_KV_BYTES = 128 << 20  # an idle batch keeps KV buffers up to this size (warm pages); larger ones are freed
SHRINK_ARENA_AT = 2048     # prefill calls over this many positions give onnxruntime's arena memory back after


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (stop token or string) | "length" | "cancelled" | "deadline"
    prompt_tokens: int
    completion_tokens: int
    prefix_tokens_reused: int = 0
    batch_size: int = 1        # most rows decoded together while this one was live
    ttft_s: float = 0.0        # request start -> first token chosen (tokenize + prefill + first pick)
    prefill_s: float = 0.0
    prefill_tps: float = 0.0   # tokens computed by the prefill call(s) of this row / their time
    decode_s: float = 0.0      # first token -> this row's last token
    decode_tps: float = 0.0    # this row's tokens after the first / decode_s
    tpot_s: float = 0.0        # time per output token after the first
    total_s: float = 0.0
    queue_s: float = 0.0       # time waiting before the request joined a batch (set by the server's batcher)

    def timings(self) -> dict:
        d = asdict(self)
        for k in ("text", "token_ids"):
            d.pop(k)
        return d


def _as_list(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: expected {n} values (one per prompt), got {len(value)}")
        return list(value)
    return [value] * n


class Request:
    """One prompt's generation: its settings and its decode state (a row of a Batch once admitted)."""

    def __init__(self, ids: list[int], max_new: int, temperature: float = 0.0, top_p: float = 1.0, seed=None,
                 stop_ids: frozenset[int] = frozenset(), stops: Sequence[str] = (), prefix: str | None = None,
                 on_token: Callable[[str, int], None] | None = None,
                 should_stop: Callable[[float], str | None] | None = None, t_start: float | None = None):
        self.ids, self.max_new = ids, max_new
        self.temperature, self.top_p = temperature, top_p
        self.rng = np.random.default_rng(seed) if temperature > 0 else None
        self.stop_ids, self.stops, self.prefix = stop_ids, [s for s in stops if s], prefix
        self.on_token, self.should_stop = on_token, should_stop
        self.t_start = time.perf_counter() if t_start is None else t_start
        self.out: list[int] = []
        self.text = ""
        self.emitted = 0
        self.finish = ""
        self.started = False      # prefill begun (a cancelled request that never started was never run)
        self.cached = 0           # prompt tokens in the KV cache so far
        self.length = 0           # tokens in this row's KV cache
        self.prefix_reused = 0
        self.prefix_computed = False
        self.batch_size = 1
        self.prefill_s = 0.0
        self.prefill_tokens = 0
        self.t_first = self.t_last = 0.0
        self._detok = (0, 0)      # incremental detokenizer offsets (prefix start, read end) into self.out
        self._pending = None      # logits row of the first token, set by prefill

    def completion(self) -> Completion:
        ntok = len(self.out)
        t_first = self.t_first or self.t_last or time.perf_counter()
        dec_s = max(0.0, self.t_last - t_first)
        return Completion(text=self.text, token_ids=self.out, finish_reason=self.finish or "length",
                          prompt_tokens=len(self.ids), completion_tokens=ntok, prefix_tokens_reused=self.prefix_reused,
                          batch_size=self.batch_size, ttft_s=max(0.0, t_first - self.t_start),
                          prefill_s=self.prefill_s,
                          prefill_tps=self.prefill_tokens / self.prefill_s if self.prefill_s > 0 else 0.0,
                          decode_s=dec_s, decode_tps=(ntok - 1) / dec_s if ntok > 1 and dec_s > 0 else 0.0,
                          tpot_s=dec_s / (ntok - 1) if ntok > 1 else 0.0,
                          total_s=max(0.0, (self.t_last or t_first) - self.t_start))


class Engine:
    """A loaded pack ready to generate: `Engine(path).generate(["prompt", ...])`."""

    def __init__(self, pack_or_path, threads: int | None = None, provider: str | None = None, verify: bool = True,
                 max_batch: int = MAX_BATCH, spin: bool | None = None, prefill_chunk: int = PREFILL_CHUNK,
                 ort_profile: str | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.pack = pack_or_path if isinstance(pack_or_path, Pack) else Pack.open(pack_or_path, verify=verify)
        m = self.pack.manifest
        if m.kind != "onnx":
            raise PackError(f"{self.pack.root}: a '{m.kind}' pack; this runtime runs ONNX packs")
        self.manifest = m
        self.io = m.onnx_io or OnnxIO()
        self.threads = threads or default_threads()
        self.max_batch = max(1, max_batch)
        self.prefill_chunk = max(16, prefill_chunk)
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.spin = spinning_default() if spin is None else spin
        if self.spin is not None:
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        if ort_profile:  # onnxruntime's own per-node timings (benchmarks/ort_profile.py); end_profiling() writes them
            so.enable_profiling = True
            so.profile_file_prefix = ort_profile
        self.providers = choose_providers(provider, ort.get_available_providers())
        graph = self.pack.path("engine_model" if "engine_model" in m.files else "model")
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(graph), so, providers=self.providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise PackError(f"{graph}: onnxruntime could not load it ({str(e).splitlines()[0]})") from None
        self.load_s = time.perf_counter() - t0
        self.tokenizer = Tokenizer.from_file(str(self.pack.path("tokenizer")))
        self._check_graph()
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._prefix_cache: OrderedDict[str, tuple[list[int], list[np.ndarray]]] = OrderedDict()
        self._prefix_lock = threading.Lock()
        self._idle: list[Batch] = []  # one warm batch (KV buffers) kept between generate() calls
        self._idle_lock = threading.Lock()
        st = m.special_tokens
        eos = st.eos_token_id if isinstance(st.eos_token_id, list) else [st.eos_token_id]
        self.stop_token_ids = sorted({*st.stop_token_ids, *[e for e in eos if e is not None],
                                      *self._single_token_ids(m.prompt.stop)})
        self.pad_id = st.pad_token_id if st.pad_token_id is not None else (self.stop_token_ids or [0])[0]

    # ---- setup -------------------------------------------------------------------------------------------
    def _check_graph(self) -> None:
        m, io = self.manifest.model, self.io
        ins = {i.name: i for i in self.session.get_inputs()}
        self.past_names = [n for i in range(m.num_layers) for n in (io.past_key % i, io.past_value % i)]
        self.present_names = [n for i in range(m.num_layers) for n in (io.present_key % i, io.present_value % i)]
        missing = [n for n in (io.input_ids, io.attention_mask, *self.past_names) if n not in ins]
        if missing:
            raise PackError(f"{self.pack.path('model')}: graph lacks input '{missing[0]}' named in the manifest")
        self.kv_dtype = np.float16 if "float16" in ins[self.past_names[0]].type else np.float32
        self.kv_shape = (m.num_key_value_heads, m.head_dim)
        self.output_names = [io.logits, *self.present_names]
        # the engine graph's extra inputs (see the module docstring); absent from plain genai-builder graphs
        self.logits_index = "logits_index" if "logits_index" in ins else None
        self.position_ids = "position_ids" if "position_ids" in ins and "attention_bias" in ins else None
        self.packed_prefill = bool(self.logits_index and self.position_ids)
        self.vocab = m.vocab_size

    def _single_token_ids(self, strings: Sequence[str]) -> list[int]:
        out = []
        for s in strings or []:
            tid = self.tokenizer.token_to_id(s)
            if tid is not None:
                out.append(tid)
        return out

    @property
    def context_length(self) -> int:
        return self.manifest.model.context_length

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # ---- graph calls ---------------------------------------------------------------------------------------
    def _empty_past(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, *self.kv_shape[:1], 0, self.kv_shape[1]), self.kv_dtype) for _ in self.past_names]

    def extra_feeds(self, positions: np.ndarray, total: int, index: Sequence[int] | None,
                    bias: np.ndarray | None = None) -> dict:
        """The engine graph's extra inputs: rotary positions (rows, tokens), an additive attention bias
        (zeros unless given) and where logits are wanted (default: the last input position)."""
        feeds = {}
        b, s = positions.shape
        if self.position_ids:
            feeds[self.position_ids] = positions
            feeds["attention_bias"] = bias if bias is not None else np.zeros((b, 1, s, total), self.kv_dtype)
        if self.logits_index:
            feeds[self.logits_index] = np.asarray([s - 1] if index is None else index, np.int64)
        return feeds

    def _run(self, input_ids: np.ndarray, mask: np.ndarray, past: list[np.ndarray]):
        """One plain session.run (no IO binding): logits at the last position(s) and the grown present KV."""
        past_len = past[0].shape[2]
        s = input_ids.shape[1]
        feeds = {self.io.input_ids: input_ids, self.io.attention_mask: mask}
        feeds.update(zip(self.past_names, past))
        feeds.update(self.extra_feeds(np.broadcast_to(np.arange(past_len, past_len + s), input_ids.shape).copy(),
                                      mask.shape[1], None))
        out = self.session.run(self.output_names, feeds)
        return out[0], out[1:]

    def prefix_state(self, prefix: str) -> tuple[list[int], list[np.ndarray]]:
        """Token ids and KV cache of a fixed prompt prefix, computed once per engine (i.e. per process)."""
        with self._prefix_lock:
            hit = self._prefix_cache.get(prefix)
            if hit is not None:
                self._prefix_cache.move_to_end(prefix)
                return hit
            ids = self.encode(prefix)
            if ids:
                x = np.array([ids], np.int64)
                _, kv = self._run(x, np.ones_like(x), self._empty_past(1))
            else:
                kv = self._empty_past(1)
            self._prefix_cache[prefix] = (ids, kv)
            while len(self._prefix_cache) > PREFIX_CACHE_SIZE:
                self._prefix_cache.popitem(last=False)
            return ids, kv

    # ---- requests ------------------------------------------------------------------------------------------
    def request(self, prompt: str | list[int], max_new_tokens: int = 64, temperature: float = 0.0,
                top_p: float = 1.0, seed: int | None = None, stop: Sequence[str] | None = None,
                stop_token_ids: Sequence[int] | None = None, prefix: str | None = None,
                on_token: Callable[[str, int], None] | None = None,
                should_stop: Callable[[float], str | None] | None = None, t_start: float | None = None,
                name: str = "prompt") -> Request:
        """A validated Request for Batch.add: `should_stop(now)` may return "cancelled"/"deadline" to end it."""
        ids = self.encode(prompt) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise MemoError(f"{name}: empty after tokenization")
        if len(ids) >= self.context_length:
            raise MemoError(f"{name}: {len(ids)} tokens; the model's context is {self.context_length}")
        stops = [s for s in (stop or []) if s]
        stop_ids = set(self.stop_token_ids if stop_token_ids is None else stop_token_ids)
        stop_ids.update(self._single_token_ids(stops))
        max_new = max(0, min(int(max_new_tokens), self.context_length - len(ids)))
        return Request(ids, max_new, float(temperature), float(top_p), seed, frozenset(stop_ids), stops, prefix,
                       on_token, should_stop, t_start)

    def batch(self, max_rows: int | None = None) -> "Batch":
        return Batch(self, max_rows or self.max_batch)

    # ---- generation ----------------------------------------------------------------------------------------
    def generate(self, prompts: list[str], max_new_tokens: int | list[int] = 64, temperature: float | list[float] = 0.0,
                 top_p: float | list[float] = 1.0, seed: int | list[int | None] | None = None,
                 stop: list[str] | None = None, on_token: OnToken | None = None, prefix: str | None = None,
                 stop_token_ids: list[int] | None = None) -> list[Completion]:
        """Generate for all prompts as one continuous batch (at most `max_batch` rows decode together).

        `prefix`: a fixed leading text shared by every prompt (the memory prompt's prefix); its KV cache is computed
        once and reused whenever a prompt's tokens start with the prefix's tokens (else it is ignored for it).
        `seed` seeds each row's own RNG (a list gives one seed per row), so a row samples the same tokens batched
        or alone. `stop` strings end a row and are cut from its text; stop token ids come from the manifest.
        """
        if isinstance(prompts, str):
            raise TypeError("generate() takes a list of prompts")
        n = len(prompts)
        if n == 0:
            return []
        t0 = time.perf_counter()
        seeds = seed if isinstance(seed, (list, tuple)) else [seed] * n
        settings = zip(_as_list(max_new_tokens, n, "max_new_tokens"), _as_list(temperature, n, "temperature"),
                       _as_list(top_p, n, "top_p"), _as_list(seeds, n, "seed"))
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(prompts), add_special_tokens=False)]
        reqs = []
        for i, (ids, (mx, t, p, s)) in enumerate(zip(encoded, settings)):
            cb = (lambda i: (lambda text, tid: on_token(i, text, tid)))(i) if on_token else None
            reqs.append(self.request(ids, mx, t, p, s, stop, stop_token_ids, prefix, cb, t_start=t0,
                                     name=f"prompt {i}"))
        batch = self._checkout()
        try:
            for r in reqs:
                batch.add(r)
            while batch.busy:
                batch.step()
        finally:
            self._checkin(batch)
        return [r.completion() for r in reqs]

    def _checkout(self) -> "Batch":
        with self._idle_lock:
            return self._idle.pop() if self._idle else self.batch()

    def _checkin(self, batch: "Batch") -> None:
        batch.reset()
        with self._idle_lock:
            if not self._idle:
                self._idle.append(batch)

    # ---- tokens --------------------------------------------------------------------------------------------
    def _detokenize(self, r: Request) -> str | None:
        """New text for r.out[-1], or None while it ends in an incomplete UTF-8 sequence (incremental: decodes a
        short window, not the whole answer, each token)."""
        start, read = r._detok
        before = self.decode(r.out[start:read]) if read > start else ""
        now = self.decode(r.out[start:])
        if now.endswith("\ufffd"):
            return None
        r._detok = (read, len(r.out))
        return now[len(before):] if now.startswith(before) else now

    def accept(self, r: Request, logits: np.ndarray, now: float) -> None:
        """Choose r's next token from its logits row, apply stops/limits and stream its text."""
        if r.max_new <= 0:
            r.finish = "length"
            return
        tid = pick(logits, r.temperature, r.top_p, r.rng)
        if not r.out:
            r.t_first = now
        r.t_last = now
        if tid in r.stop_ids:
            r.finish = "stop"
            self._flush(r, final=True)
            return
        r.out.append(tid)
        new = self._detokenize(r)
        if new:
            seen = len(r.text)
            r.text += new
            for s in r.stops:  # only where a stop string could newly appear
                k = r.text.find(s, max(0, seen - len(s) + 1))
                if k >= 0:
                    r.text = r.text[:k]
                    r.finish = "stop"
                    break
        if not r.finish and len(r.out) >= r.max_new:
            r.finish = "length"
            if r._detok[1] < len(r.out):  # ended inside a UTF-8 sequence: keep what decode() gives for it
                r.text += self.decode(r.out[r._detok[0]:])[len(self.decode(r.out[r._detok[0]:r._detok[1]])):]
        self._flush(r, final=bool(r.finish), tid=tid)

    @staticmethod
    def _flush(r: Request, final: bool, tid: int = -1) -> None:
        if r.on_token is None:
            return
        safe = len(r.text)
        if not final:
            for s in r.stops:  # hold back text that may be the start of a stop string
                for k in range(min(len(s) - 1, len(r.text)), 0, -1):
                    if r.text.endswith(s[:k]):
                        safe = min(safe, len(r.text) - k)
                        break
        if safe > r.emitted:
            text, r.emitted = r.text[r.emitted:safe], safe
            r.on_token(text, tid)


class Batch:
    """A continuous batch: `add()` requests at any time, `step()` until `busy` is False.

    Each step: rows whose `should_stop` fires leave; waiting prompts that fit in one chunk are prefilled (packed
    into one call when the graph allows, else one call each) straight into free rows and give their first token;
    one chunk of a long prompt is prefilled in a staging cache (copied into a row once complete; while other rows
    decode, chunks are 4x smaller and take at most half of the time); then every live row decodes one token.
    Live rows occupy KV rows [0:n) in order; a finished row is replaced by the last one.
    Not thread-safe: one thread drives a batch.
    """

    def __init__(self, engine: Engine, max_rows: int):
        self.e = engine
        self.max_rows = max_rows
        m = engine.manifest.model
        self.kv = KVCache(len(engine.past_names), m.num_key_value_heads, m.head_dim, engine.kv_dtype, max_rows,
                          engine.context_length)
        self.waiting: deque[Request] = deque()
        self.live: list[Request] = []
        self.staging: tuple[Request, KVCache] | None = None
        self.finished: list[Request] = []
        self._bindings: dict = {}
        self._logits = np.empty(0, np.float32)
        self._logit_values: dict[tuple, tuple[np.ndarray, object]] = {}  # shape -> (view, OrtValue over it)
        self._positions = np.arange(engine.context_length + 1)
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
        cached = r.prefix in self.e._prefix_cache
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
        length comes from its mask row. The engine graph computes logits at every row's last position for every
        row (rows^2 lm_head rows, still far fewer than rows x length); row i's are [i, i]."""
        slot0 = len(self.live)
        lens = [len(r.ids) for r, _, _ in items]
        n, L = len(items), max(lens)
        self._place(slot0 + n, L + 1)
        x = np.full((n, L), self.e.pad_id, np.int64)
        for i, (r, _, _) in enumerate(items):
            x[i, :lens[i]] = r.ids
            r.started = True
        mask = (np.arange(L)[None, :] < np.array(lens)[:, None]).astype(np.int64)
        pos = np.broadcast_to(np.arange(L), (n, L)).copy()
        t = time.perf_counter()
        logits = self._call(self.kv, slot0, slot0 + n, x, mask,
                            self.e.extra_feeds(pos, L, [k - 1 for k in lens]), L)
        dt = time.perf_counter() - t
        for i, (r, _, _) in enumerate(items):
            self._joined(r, 0, logits[i, i] if self.e.logits_index else logits[i, lens[i] - 1], dt, sum(lens))

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
            bias[0, 0, st:st + n, P:P + st] = -np.inf
            bias[0, 0, st:st + n, P + st + n:] = -np.inf
        t = time.perf_counter()
        for r, _, _ in items:
            r.started = True
        x = np.array([np.concatenate(segs)], np.int64)
        logits = self._call(self.kv, slot0, slot0 + 1, x, np.ones((1, P + S), np.int64),
                            self.e.extra_feeds(pos, P + S, [int(st + n - 1) for st, n in zip(starts, lens)], bias),
                            P + S)
        # row slot0 holds prefix + suffix 0 in place; move suffix j's columns to row slot0 + j
        for j, (st, n) in enumerate(zip(starts, lens)):
            if j:
                for b in self.kv.bufs:
                    b[slot0 + j, :, P:P + n] = b[slot0, :, P + st:P + st + n]
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
                    cache = KVCache(len(self.e.past_names), m.num_key_value_heads, m.head_dim, self.e.kv_dtype, 1,
                                    self.e.context_length)
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
            piece = r.ids[r.cached:r.cached + size]
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
        logits = self._call(cache, slot, slot + 1, x, np.ones((1, total), np.int64),
                            self.e.extra_feeds(np.arange(past, total)[None], total, None), total)
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
        logits = self._call(self.kv, 0, n, tok, mask, self.e.extra_feeds(lens.reshape(n, 1), width, [0]), width)
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

    def _call(self, cache: KVCache, lo: int, hi: int, input_ids: np.ndarray, mask: np.ndarray, extra: dict,
              total: int) -> np.ndarray:
        import onnxruntime as ort

        e = self.e
        io = self._binding(cache, lo, hi)
        io.bind_cpu_input(e.io.input_ids, input_ids)
        io.bind_cpu_input(e.io.attention_mask, mask)
        for name, arr in extra.items():
            io.bind_cpu_input(name, arr)
        n_logits = len(extra[e.logits_index]) if e.logits_index else input_ids.shape[1]
        size = (hi - lo) * n_logits * e.vocab
        if self._logits.size < size or len(self._logit_values) > 64:
            self._logits = np.empty(max(size, self._logits.size), np.float32)
            self._logit_values.clear()
        shape = (hi - lo, n_logits, e.vocab)
        hit = self._logit_values.get(shape)
        if hit is None:
            view = self._logits[:size].reshape(shape)
            hit = self._logit_values[shape] = (view, ort.OrtValue.ortvalue_from_numpy(view))
        logits = hit[0]  # valid until the next call
        io.bind_ortvalue_output(e.io.logits, hit[1])
        if total > SHRINK_ARENA_AT and input_ids.shape[1] > 1:
            e.session.run_with_iobinding(io, e._shrink)
        else:
            e.session.run_with_iobinding(io)
        return logits


def load_engine(path: str | Path, threads: int | None = None, provider: str | None = None) -> Engine:
    return Engine(path, threads=threads, provider=provider)
