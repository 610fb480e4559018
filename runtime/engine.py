"""The torch-free generation engine: onnxruntime + tokenizers + numpy over a pack's decoder graph with KV cache.

One decoder graph does prefill and decode (genai-builder layout: input_ids, attention_mask, past_key_values.%d.*;
GroupQueryAttention derives each row's length from the attention mask's row sum and writes a new token's K/V at
that index). The KV cache is one buffer per layer and K/V bound as both past and present (`kvcache.py`), so a
decode step writes one column per row in place instead of copying the cache.

Generation is continuous batching (`batch.py`): a request joins the running batch at the next step (its prompt is
prefilled into a free row, on top of a cached shared prefix when it has one; prompts longer than `prefill_chunk`
are prefilled a chunk at a time in a staging cache, so they never freeze the rows that are decoding), every live
row decodes one token per step, and a row leaves the moment it finishes, is cancelled or passes its deadline
(`should_stop`). `Engine.generate` runs one batch to completion; the server's `Batcher` keeps one running and
feeds it. This module holds the session, the tokenizer, the prefix cache, requests and token acceptance.

Packs exported by this version carry `model.memo.onnx` (role `engine_model`): the same weights file with a graph
that computes logits only at the positions asked for (`logits_index`) and takes rotary `position_ids` and an
additive `attention_bias`, so several prompts after a shared prefix are prefilled as ONE packed row with a block
mask. Older packs run their plain `model.onnx` (full logits, one prompt per prefill call).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from memo_edge.errors import MemoError, PackError
from memo_edge.pack import OnnxIO, Pack

from .batch import Batch
from .providers import choose_providers, default_threads, spinning_default
from .sampling import pick

# Each new token is checked against every stop string (and text that may begin one is held back): the work grows
# with their length, so a stop string is at most this long (a 120,000-character one slowed every stream 3.6x).
MAX_STOP_CHARS = 256

OnToken = Callable[[int, str, int], None]  # (row index, new text, token id)
PREFIX_CACHE_SIZE = 4
MAX_BATCH = 32  # rows decoded together
PREFILL_CHUNK = 256  # prompt tokens per prefill call; longer prompts are prefilled a chunk per step


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (stop token or string) | "length" | "cancelled" | "deadline"
    prompt_tokens: int
    completion_tokens: int
    prefix_tokens_reused: int = 0
    batch_size: int = 1  # most rows decoded together while this one was live
    ttft_s: float = 0.0  # request start -> first token chosen (tokenize + prefill + first pick)
    prefill_s: float = 0.0
    prefill_tps: float = 0.0  # tokens computed by the prefill call(s) of this row / their time
    decode_s: float = 0.0  # first token -> this row's last token
    decode_tps: float = 0.0  # this row's tokens after the first / decode_s
    tpot_s: float = 0.0  # time per output token after the first
    total_s: float = 0.0
    queue_s: float = 0.0  # time waiting before the request joined a batch (set by the server's batcher)

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

    def __init__(
        self,
        ids: list[int],
        max_new: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed=None,
        stop_ids: frozenset[int] = frozenset(),
        stops: Sequence[str] = (),
        prefix: str | None = None,
        on_token: Callable[[str, int], None] | None = None,
        should_stop: Callable[[float], str | None] | None = None,
        t_start: float | None = None,
    ):
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
        self.started = False  # prefill begun (a cancelled request that never started was never run)
        self.cached = 0  # prompt tokens in the KV cache so far
        self.length = 0  # tokens in this row's KV cache
        self.prefix_reused = 0
        self.prefix_computed = False
        self.batch_size = 1
        self.prefill_s = 0.0
        self.prefill_tokens = 0
        self.t_first = self.t_last = 0.0
        self._detok = (0, 0)  # incremental detokenizer offsets (prefix start, read end) into self.out
        self._pending = None  # logits row of the first token, set by prefill

    def completion(self) -> Completion:
        ntok = len(self.out)
        t_first = self.t_first or self.t_last or time.perf_counter()
        dec_s = max(0.0, self.t_last - t_first)
        return Completion(
            text=self.text,
            token_ids=self.out,
            finish_reason=self.finish or "length",
            prompt_tokens=len(self.ids),
            completion_tokens=ntok,
            prefix_tokens_reused=self.prefix_reused,
            batch_size=self.batch_size,
            ttft_s=max(0.0, t_first - self.t_start),
            prefill_s=self.prefill_s,
            prefill_tps=self.prefill_tokens / self.prefill_s if self.prefill_s > 0 else 0.0,
            decode_s=dec_s,
            decode_tps=(ntok - 1) / dec_s if ntok > 1 and dec_s > 0 else 0.0,
            tpot_s=dec_s / (ntok - 1) if ntok > 1 else 0.0,
            total_s=max(0.0, (self.t_last or t_first) - self.t_start),
        )


class Engine:
    """A loaded pack ready to generate: `Engine(path).generate(["prompt", ...])`."""

    def __init__(
        self,
        pack_or_path,
        threads: int | None = None,
        provider: str | None = None,
        verify: bool = True,
        max_batch: int = MAX_BATCH,
        spin: bool | None = None,
        prefill_chunk: int = PREFILL_CHUNK,
        packed_prefill: bool = True,
        ort_profile: str | None = None,
    ):
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
        self.graph_path = graph
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(graph), so, providers=self.providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise PackError(f"{graph}: onnxruntime could not load it ({str(e).splitlines()[0]})") from None
        self.load_s = time.perf_counter() - t0
        tok_path = self.pack.path("tokenizer")
        try:
            self.tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # tokenizers raises its own exception type for an empty or foreign file
            raise PackError(
                f"{tok_path}: not a tokenizer the runtime can read ({str(e).splitlines()[0][:160]})"
            ) from None
        # The most characters one token stands for (the longest vocabulary entry; a byte-level entry decodes to at
        # most as many characters): a text longer than n times this is surely more than n tokens.
        self.max_token_chars = max(map(len, self.tokenizer.get_vocab(with_added_tokens=True)), default=1)
        self._check_graph()
        # Packing several prompts into one prefill call is exact up to float rounding in the attention's sums; with
        # int8 activations (int4/int8 packs) such a rounding can flip a later token. False: one call per prompt,
        # bit-identical to running each prompt alone.
        self.packed_prefill = packed_prefill and self.packed_prefill
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._prefix_cache: OrderedDict[str, tuple[list[int], list[np.ndarray]]] = OrderedDict()
        self._prefix_lock = threading.Lock()
        self._idle: list[Batch] = []  # one warm batch (KV buffers) kept between generate() calls
        self._idle_lock = threading.Lock()
        st = m.special_tokens
        eos = st.eos_token_id if isinstance(st.eos_token_id, list) else [st.eos_token_id]
        self.stop_token_ids = sorted(
            {*st.stop_token_ids, *[e for e in eos if e is not None], *self._single_token_ids(m.prompt.stop)}
        )
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
        model = self.graph_path
        if io.past_key % m.num_layers in ins:
            raise PackError(f"{model}: the graph has more layers than the manifest's num_layers {m.num_layers}")
        shape = ins[self.past_names[0]].shape  # [batch, kv heads, positions, head dim]; names where dynamic
        for i, field in ((1, "num_key_value_heads"), (3, "head_dim")):
            if isinstance(shape[i], int) and shape[i] != getattr(m, field):
                raise PackError(f"{model}: manifest {field} {getattr(m, field)}, the graph's is {shape[i]}")
        if "genai_config" in self.manifest.files:  # the builder's own record of the graph (dims the graph leaves named)
            try:
                dec = json.loads(self.pack.path("genai_config").read_text(encoding="utf-8"))["model"]["decoder"]
            except (OSError, ValueError, KeyError, TypeError):
                dec = {}
            for key, field in (("head_size", "head_dim"), ("num_key_value_heads", "num_key_value_heads")):
                if isinstance(dec.get(key), int) and dec[key] != getattr(m, field):
                    raise PackError(f"{model}: manifest {field} {getattr(m, field)}, the graph's is {dec[key]}")
        logits = next((o for o in self.session.get_outputs() if o.name == io.logits), None)
        if logits is not None and isinstance(logits.shape[-1], int) and logits.shape[-1] != m.vocab_size:
            raise PackError(f"{model}: manifest vocab_size {m.vocab_size}, the graph's logits have {logits.shape[-1]}")
        n_tokens = self.tokenizer.get_vocab_size(with_added_tokens=True)
        if n_tokens > m.vocab_size:  # ids past the vocabulary would index past the embedding table
            raise PackError(
                f"{self.pack.path('tokenizer')}: {n_tokens} tokens, more than the model's vocab_size {m.vocab_size} "
                "(a tokenizer of another model)"
            )
        self.kv_dtype = np.float16 if "float16" in ins[self.past_names[0]].type else np.float32
        outs = {o.name: o for o in self.session.get_outputs()}
        # fp16 graphs (CUDA packs) return fp16 logits: the bound output buffer must match
        self.logits_dtype = np.float16 if "float16" in outs[io.logits].type else np.float32
        self.kv_shape = (m.num_key_value_heads, m.head_dim)
        self.output_names = [io.logits, *self.present_names]
        # the engine graph's extra inputs (see the module docstring); absent from plain genai-builder graphs
        self.logits_index = "logits_index" if "logits_index" in ins else None
        self.position_ids = "position_ids" if "position_ids" in ins and "attention_bias" in ins else None
        self.packed_prefill = bool(self.logits_index and self.position_ids)  # the graph allows it
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

    def surely_longer(self, text: str, tokens: int) -> bool:
        """True when `text` cannot be `tokens` tokens or fewer, decided from its length alone: a megabyte prompt
        is refused without being tokenized (which would take seconds and hundreds of MB)."""
        return len(text) > tokens * self.max_token_chars

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # ---- graph calls ---------------------------------------------------------------------------------------
    def _empty_past(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, *self.kv_shape[:1], 0, self.kv_shape[1]), self.kv_dtype) for _ in self.past_names]

    def extra_feeds(
        self,
        positions: np.ndarray,
        total: int,
        index: Sequence[int] | np.ndarray | None = None,
        bias: np.ndarray | None = None,
    ) -> dict:
        """The engine graph's extra inputs: rotary positions (rows, tokens), an additive attention bias (zeros
        unless given) and where each row's logits are wanted ((rows, n) positions; default: the last input one)."""
        feeds = {}
        b, s = positions.shape
        if self.position_ids:
            feeds[self.position_ids] = positions
            feeds["attention_bias"] = bias if bias is not None else np.zeros((b, 1, s, total), self.kv_dtype)
        if self.logits_index:
            idx = np.full((b, 1), s - 1, np.int64) if index is None else np.asarray(index, np.int64).reshape(b, -1)
            feeds[self.logits_index] = idx[:, :, None]
        return feeds

    def _run(self, input_ids: np.ndarray, mask: np.ndarray, past: list[np.ndarray]):
        """One plain session.run (no IO binding): logits at the last position(s) and the grown present KV."""
        past_len = past[0].shape[2]
        s = input_ids.shape[1]
        feeds = {self.io.input_ids: input_ids, self.io.attention_mask: mask}
        feeds.update(zip(self.past_names, past))
        feeds.update(
            self.extra_feeds(
                np.broadcast_to(np.arange(past_len, past_len + s), input_ids.shape).copy(), mask.shape[1], None
            )
        )
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
    def request(
        self,
        prompt: str | list[int],
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        stop_token_ids: Sequence[int] | None = None,
        prefix: str | None = None,
        on_token: Callable[[str, int], None] | None = None,
        should_stop: Callable[[float], str | None] | None = None,
        t_start: float | None = None,
        name: str = "prompt",
    ) -> Request:
        """A validated Request for Batch.add: `should_stop(now)` may return "cancelled"/"deadline" to end it."""
        if isinstance(prompt, str) and self.surely_longer(prompt, self.context_length):
            raise MemoError(
                f"{name}: {len(prompt)} characters, surely more than the model's context of "
                f"{self.context_length} tokens"
            )
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise MemoError(f"seed: {seed!r}: expected an integer >= 0")
        ids = self.encode(prompt) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise MemoError(f"{name}: empty after tokenization")
        if len(ids) >= self.context_length:
            raise MemoError(f"{name}: {len(ids)} tokens; the model's context is {self.context_length}")
        stops = [s for s in (stop or []) if s]
        for s in stops:
            if len(s) > MAX_STOP_CHARS:
                raise MemoError(f"stop: a stop string of {len(s)} characters; at most {MAX_STOP_CHARS} are allowed")
        stop_ids = set(self.stop_token_ids if stop_token_ids is None else stop_token_ids)
        stop_ids.update(self._single_token_ids(stops))
        max_new = max(0, min(int(max_new_tokens), self.context_length - len(ids)))
        return Request(
            ids,
            max_new,
            float(temperature),
            float(top_p),
            seed,
            frozenset(stop_ids),
            stops,
            prefix,
            on_token,
            should_stop,
            t_start,
        )

    def batch(self, max_rows: int | None = None) -> Batch:
        return Batch(self, max_rows or self.max_batch)

    # ---- generation ----------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int | list[int] = 64,
        temperature: float | list[float] = 0.0,
        top_p: float | list[float] = 1.0,
        seed: int | list[int | None] | None = None,
        stop: list[str] | None = None,
        on_token: OnToken | None = None,
        prefix: str | None = None,
        stop_token_ids: list[int] | None = None,
    ) -> list[Completion]:
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
        settings = zip(
            _as_list(max_new_tokens, n, "max_new_tokens"),
            _as_list(temperature, n, "temperature"),
            _as_list(top_p, n, "top_p"),
            _as_list(seeds, n, "seed"),
        )
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(prompts), add_special_tokens=False)]
        reqs = []
        for i, (ids, (mx, t, p, s)) in enumerate(zip(encoded, settings)):
            cb = (lambda i: lambda text, tid: on_token(i, text, tid))(i) if on_token else None
            reqs.append(
                self.request(ids, mx, t, p, s, stop, stop_token_ids, prefix, cb, t_start=t0, name=f"prompt {i}")
            )
        batch = self._checkout()
        try:
            for r in reqs:
                batch.add(r)
            while batch.busy:
                batch.step()
        finally:
            self._checkin(batch)
        return [r.completion() for r in reqs]

    def _checkout(self) -> Batch:
        with self._idle_lock:
            return self._idle.pop() if self._idle else self.batch()

    def _checkin(self, batch: Batch) -> None:
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
        return now[len(before) :] if now.startswith(before) else now

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
                r.text += self.decode(r.out[r._detok[0] :])[len(self.decode(r.out[r._detok[0] : r._detok[1]])) :]
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
            text, r.emitted = r.text[r.emitted : safe], safe
            r.on_token(text, tid)


def load_engine(path: str | Path, threads: int | None = None, provider: str | None = None) -> Engine:
    return Engine(path, threads=threads, provider=provider)
