"""A pack's decoder graph ready to run: the onnxruntime session, the tokenizer, the cached KV of shared prompt
prefixes, the graph's feeds, and token acceptance (stops, limits, streaming). `Request` is one prompt's generation
state and `Completion` its result.

This is the surface `Batch` (batch.py) runs on; `Engine` (engine.py) is a Model that also makes requests and runs
batches to completion. Nothing here imports the batch or the engine.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from tokenizers.decoders import DecodeStream

from memo_edge.errors import PackError
from memo_edge.pack import OnnxIO, Pack

from .grammar import Constraint, Grammars
from .providers import choose_providers, default_threads, spinning_default
from .sampling import pick

PREFIX_CACHE_SIZE = 4
PREFILL_CHUNK = 256  # prompt tokens per prefill call; longer prompts are prefilled a chunk per step


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    # "stop" (stop token or string) | "length" | "cancelled" | "deadline" | "abstain" (Memory: not run at all)
    finish_reason: str
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
    grammar_s: float = 0.0  # time masking logits with the response_format's grammar (inside ttft/decode)

    def timings(self) -> dict:
        d = asdict(self)
        for k in ("text", "token_ids"):
            d.pop(k)
        return d


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
        constraint: Constraint | None = None,
    ):
        self.ids, self.max_new = ids, max_new
        self.constraint = constraint  # a JSON-schema grammar masking this row's logits (grammar.py)
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
        self._detok = DecodeStream(skip_special_tokens=True)  # tokenizers' incremental detokenizer
        self._undecoded = 0  # tokens at the end of self.out not yet in self.text (an incomplete UTF-8 sequence)
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
            grammar_s=self.constraint.spent_s if self.constraint is not None else 0.0,
        )


class Model:
    """A loaded pack's decoder graph and tokenizer (module docstring)."""

    def __init__(
        self,
        pack_or_path,
        threads: int | None = None,
        provider: str | None = None,
        verify: bool = True,
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
        self.shrink_arena = ort.RunOptions()  # run options that give onnxruntime's arena memory back after a call
        self.shrink_arena.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._prefix_cache: OrderedDict[str, tuple[list[int], list[np.ndarray]]] = OrderedDict()
        self._prefix_lock = threading.Lock()
        st = m.special_tokens
        eos = st.eos_token_id if isinstance(st.eos_token_id, list) else [st.eos_token_id]
        self.stop_token_ids = sorted(
            {*st.stop_token_ids, *[e for e in eos if e is not None], *self._single_token_ids(m.prompt.stop)}
        )
        self.pad_id = st.pad_token_id if st.pad_token_id is not None else (self.stop_token_ids or [0])[0]
        self._grammars: Grammars | None = None

    @property
    def grammars(self) -> Grammars:
        """JSON-schema constraints for this model's vocabulary (llguidance is imported on first use only)."""
        if self._grammars is None:
            special = {i for i, t in self.tokenizer.get_added_tokens_decoder().items() if t.special}
            # only special tokens end a constrained reply: a stop id that is ordinary text stays text to the grammar
            eos = [i for i in self.stop_token_ids if i in special] or self.stop_token_ids[:1]
            self._grammars = Grammars(self.tokenizer.to_str(), self.vocab, eos)
        return self._grammars

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

    def prefix_cached(self, prefix: str) -> bool:
        """Whether prefix_state(prefix) would return a cached KV (no graph call)."""
        with self._prefix_lock:
            return prefix in self._prefix_cache

    # ---- tokens --------------------------------------------------------------------------------------------

    # ---- tokens --------------------------------------------------------------------------------------------
    def _detokenize(self, r: Request) -> str | None:
        """New text for r.out[-1], or None while it ends in an incomplete UTF-8 sequence (tokenizers' DecodeStream:
        one step per token, 0.7 vs 17.6 us for two window decodes, measured)."""
        new = r._detok.step(self.tokenizer, r.out[-1])
        r._undecoded = 0 if new is not None else r._undecoded + 1
        return new

    def accept(self, r: Request, logits: np.ndarray, now: float) -> None:
        """Choose r's next token from its logits row, apply stops/limits and stream its text."""
        if r.max_new <= 0:
            r.finish = "length"
            return
        g = r.constraint
        if g is not None:
            logits = g.mask(logits, r.max_new - len(r.out))
        tid = pick(logits, r.temperature, r.top_p, r.rng)
        if not r.out:
            r.t_first = now
        r.t_last = now
        if tid in r.stop_ids:
            r.finish = "stop"
            self._flush(r, final=True)
            return
        r.out.append(tid)
        if g is not None and (not g.consume(tid) or g.done):
            r.finish = "stop"  # the reply is complete (or, never expected, the grammar is in error)
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
            if r._undecoded:  # ended inside a UTF-8 sequence: keep what decode() gives for it
                r.text += self.decode(r.out[-r._undecoded :])
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
