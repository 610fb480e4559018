"""The torch-free generation engine: onnxruntime + tokenizers + numpy over a pack's decoder graph with KV cache.

One decoder graph does prefill and decode (genai-builder layout: input_ids, attention_mask, past_key_values.%d.*,
no position_ids; GroupQueryAttention derives each row's sequence length from the attention mask's row sum).
That is what makes right-padded batching work: a row's real length is the number of ones in its mask row, and its
next token's KV lands at that index, overwriting whatever padding sat there.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from memo_edge.errors import MemoError, PackError
from memo_edge.pack import OnnxIO, Pack

from .providers import choose_providers, default_threads, spinning_default
from .sampling import pick

OnToken = Callable[[int, str, int], None]  # (row index, new text, token id)
PREFIX_CACHE_SIZE = 4
MAX_BATCH = 32  # rows per graph call: a batched prefill returns [rows, tokens, vocab] float logits


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (stop token or string) | "length"
    prompt_tokens: int
    completion_tokens: int
    prefix_tokens_reused: int = 0
    batch_size: int = 1
    ttft_s: float = 0.0        # call start -> first token chosen (tokenize + prefill + first pick)
    prefill_s: float = 0.0
    prefill_tps: float = 0.0   # prompt tokens actually computed this call / prefill_s
    decode_s: float = 0.0      # first token -> this row's last token
    decode_tps: float = 0.0    # this row's tokens after the first / decode_s
    tpot_s: float = 0.0        # time per output token after the first
    total_s: float = 0.0
    queue_s: float = 0.0       # time waiting for a batch (set by the server's batcher)

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


class _Row:
    """Decode state of one prompt in a batch."""

    def __init__(self, index: int, max_new: int, temperature: float, top_p: float, seed):
        self.index = index
        self.max_new = max_new
        self.temperature = temperature
        self.top_p = top_p
        self.rng = np.random.default_rng(seed) if temperature > 0 else None
        self.ids: list[int] = []
        self.text = ""
        self.emitted = 0
        self.finish = ""
        self.t_last = 0.0


class Engine:
    """A loaded pack ready to generate: `Engine(path).generate(["prompt", ...])`."""

    def __init__(self, pack_or_path, threads: int | None = None, provider: str | None = None, verify: bool = True,
                 max_batch: int = MAX_BATCH, spin: bool | None = None):
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
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.spin = spinning_default() if spin is None else spin
        if self.spin is not None:
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        self.providers = choose_providers(provider, ort.get_available_providers())
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(self.pack.path("model")), so, providers=self.providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise PackError(f"{self.pack.path('model')}: onnxruntime could not load it ({str(e).splitlines()[0]})") from None
        self.load_s = time.perf_counter() - t0
        self.tokenizer = Tokenizer.from_file(str(self.pack.path("tokenizer")))
        self._check_graph()
        self._prefix_cache: OrderedDict[str, tuple[list[int], list[np.ndarray]]] = OrderedDict()
        self._prefix_lock = threading.Lock()
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

    def _run(self, input_ids: np.ndarray, mask: np.ndarray, past: list[np.ndarray]):
        feeds = {self.io.input_ids: input_ids, self.io.attention_mask: mask}
        feeds.update(zip(self.past_names, past))
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

    # ---- generation ----------------------------------------------------------------------------------------
    def generate(self, prompts: list[str], max_new_tokens: int | list[int] = 64, temperature: float | list[float] = 0.0,
                 top_p: float | list[float] = 1.0, seed: int | list[int | None] | None = None,
                 stop: list[str] | None = None, on_token: OnToken | None = None, prefix: str | None = None,
                 stop_token_ids: list[int] | None = None) -> list[Completion]:
        """Generate for all prompts in one batch.

        `prefix`: a fixed leading text shared by every prompt (the memory prompt's prefix); its KV cache is computed
        once and reused whenever every prompt's tokens start with the prefix's tokens (else it is ignored).
        `seed` seeds each row's own RNG (a list gives one seed per row), so a row samples the same tokens batched
        or alone. `stop` strings end a row and are cut from its text; stop token ids come from the manifest.
        """
        if isinstance(prompts, str):
            raise TypeError("generate() takes a list of prompts")
        n = len(prompts)
        if n == 0:
            return []
        if n > self.max_batch:
            return self._generate_chunked(prompts, max_new_tokens=max_new_tokens, temperature=temperature,
                                          top_p=top_p, seed=seed, stop=stop, on_token=on_token, prefix=prefix,
                                          stop_token_ids=stop_token_ids)
        t0 = time.perf_counter()
        rows = self._rows(n, max_new_tokens, temperature, top_p, seed)
        stops = [s for s in (stop or []) if s]
        stop_ids = set(self.stop_token_ids if stop_token_ids is None else stop_token_ids)
        stop_ids.update(self._single_token_ids(stops))
        ids = self._encode_prompts(prompts, rows)
        p_ids, past, computed = self._prefix_for(prefix, ids)
        P = len(p_ids)
        suffix = [x[P:] for x in ids]
        lens = np.array([len(s) for s in suffix])
        tp = time.perf_counter()
        last, kv = self._prefill(suffix, lens, past)
        prefill_s = time.perf_counter() - tp + computed[1]
        self._step_rows(rows, range(n), last, stop_ids, stops, on_token)
        t_first = time.perf_counter()
        for r in rows:
            r.t_last = t_first
        self._decode(rows, kv, P + lens, P + int(lens.max()), stop_ids, stops, on_token)
        t_end = time.perf_counter()
        timing = dict(batch_size=n, ttft_s=t_first - t0, prefill_s=prefill_s, total_s=t_end - t0,
                      prefill_tps=(int(lens.sum()) + computed[0]) / prefill_s if prefill_s > 0 else 0.0,
                      prefix_tokens_reused=P if not computed[0] else 0)
        return [self._completion(r, len(x), t_first, timing) for r, x in zip(rows, ids)]

    @staticmethod
    def _rows(n, max_new_tokens, temperature, top_p, seed) -> list[_Row]:
        seeds = seed if isinstance(seed, (list, tuple)) else [seed] * n
        return [_Row(i, int(mx), float(t), float(p), s) for i, (mx, t, p, s) in enumerate(zip(
            _as_list(max_new_tokens, n, "max_new_tokens"), _as_list(temperature, n, "temperature"),
            _as_list(top_p, n, "top_p"), _as_list(seeds, n, "seed")))]

    def _encode_prompts(self, prompts: list[str], rows: list[_Row]) -> list[list[int]]:
        ids = [e.ids for e in self.tokenizer.encode_batch(list(prompts), add_special_tokens=False)]
        for i, x in enumerate(ids):
            if not x:
                raise MemoError(f"prompt {i}: empty after tokenization")
            if len(x) >= self.context_length:
                raise MemoError(f"prompt {i}: {len(x)} tokens; the model's context is {self.context_length}")
            rows[i].max_new = max(0, min(rows[i].max_new, self.context_length - len(x)))
        return ids

    def _prefill(self, suffix: list[list[int]], lens: np.ndarray, prefix_kv):
        """Logits at each row's last prompt token, and the right-padded KV cache of the batch."""
        n, L = len(suffix), int(lens.max())
        if prefix_kv is not None:
            return self._prefill_after_prefix(suffix, prefix_kv, prefix_kv[0].shape[2] + L)
        x = np.full((n, L), self.pad_id, np.int64)
        for i, s in enumerate(suffix):
            x[i, : len(s)] = s
        mask = (np.arange(L)[None, :] < lens[:, None]).astype(np.int64)
        logits, kv = self._run(x, mask, self._empty_past(n))
        return logits[np.arange(n), lens - 1], kv

    def _decode(self, rows: list[_Row], kv, cur: np.ndarray, cols: int, stop_ids: set, stops: list[str],
                on_token: OnToken | None) -> None:
        """One token per live row per step; `cur[j]` is where live row j's next token goes in the cache."""
        alive = [i for i, r in enumerate(rows) if not r.finish]
        if len(alive) < len(rows):
            kv, cur = [k[alive] for k in kv], cur[alive]
        while alive:
            tok = np.array([[rows[i].ids[-1]] for i in alive], np.int64)
            cols += 1
            mask = (np.arange(cols)[None, :] <= cur[:, None]).astype(np.int64)
            logits, kv = self._run(tok, mask, kv)
            cur = cur + 1
            self._step_rows(rows, alive, logits[:, -1], stop_ids, stops, on_token)
            now = time.perf_counter()
            for i in alive:
                rows[i].t_last = now
            keep = [j for j, i in enumerate(alive) if not rows[i].finish]
            if len(keep) < len(alive):  # drop finished rows so the rest decode at the smaller batch's cost
                alive = [alive[j] for j in keep]
                kv, cur = [k[keep] for k in kv], cur[keep]

    @staticmethod
    def _completion(r: _Row, prompt_tokens: int, t_first: float, timing: dict) -> Completion:
        ntok, dec_s = len(r.ids), r.t_last - t_first
        return Completion(text=r.text, token_ids=r.ids, finish_reason=r.finish or "length",
                          prompt_tokens=prompt_tokens, completion_tokens=ntok, decode_s=dec_s,
                          decode_tps=(ntok - 1) / dec_s if ntok > 1 and dec_s > 0 else 0.0,
                          tpot_s=dec_s / (ntok - 1) if ntok > 1 else 0.0, **timing)

    def _generate_chunked(self, prompts: list[str], on_token: OnToken | None = None, **kw) -> list[Completion]:
        n, out = len(prompts), []
        for start in range(0, n, self.max_batch):
            end = min(n, start + self.max_batch)
            part = {k: v[start:end] if isinstance(v, (list, tuple)) and k != "stop" and k != "stop_token_ids" else v
                    for k, v in kw.items()}
            cb = (lambda off: (lambda i, text, tid: on_token(i + off, text, tid)))(start) if on_token else None
            out.extend(self.generate(prompts[start:end], on_token=cb, **part))
        return out

    def _prefill_after_prefix(self, suffixes: list[list[int]], prefix_kv: list[np.ndarray], width: int):
        """Prefill each suffix on top of the prefix KV, then right-pad the caches into one batch of `width`.

        GroupQueryAttention refuses batch > 1 when several new tokens follow a past, so rows go one at a time here;
        the short suffixes make that cheap, and decoding (one token per row) is batched again.
        """
        n = len(suffixes)
        last = np.empty((n, self.manifest.model.vocab_size), np.float32)
        kv = [np.zeros((n, k.shape[1], width, k.shape[3]), k.dtype) for k in prefix_kv]
        P = prefix_kv[0].shape[2]
        for i, s in enumerate(suffixes):
            x = np.array([s], np.int64)
            logits, row_kv = self._run(x, np.ones((1, P + len(s)), np.int64), prefix_kv)
            last[i] = logits[0, -1]
            for dst, src in zip(kv, row_kv):
                dst[i, :, : src.shape[2]] = src[0]
        return last, kv

    def _prefix_for(self, prefix: str | None, ids: list[list[int]]):
        """(prefix ids, prefix KV, (tokens computed now, seconds)) or no prefix when it does not apply."""
        if not prefix:
            return [], None, (0, 0.0)
        cached = prefix in self._prefix_cache
        t = time.perf_counter()
        p_ids, kv = self.prefix_state(prefix)
        spent = (0, 0.0) if cached else (len(p_ids), time.perf_counter() - t)
        P = len(p_ids)
        # BPE can merge across the boundary: only reuse when the prefix tokens really are each prompt's first tokens
        if P == 0 or any(len(x) <= P or x[:P] != p_ids for x in ids):
            return [], None, (0, 0.0)
        return p_ids, kv, spent

    def _step_rows(self, rows: list[_Row], which, logits: np.ndarray, stop_ids: set, stops: list[str],
                   on_token: OnToken | None) -> None:
        for j, i in enumerate(which):
            r = rows[i]
            if r.max_new <= 0:
                r.finish = "length"
                continue
            tid = pick(logits[j], r.temperature, r.top_p, r.rng)
            if tid in stop_ids:
                r.finish = "stop"
                self._flush(r, on_token, final=True)
                continue
            r.ids.append(tid)
            r.text = self.decode(r.ids)
            for s in stops:
                k = r.text.find(s)
                if k >= 0:
                    r.text = r.text[:k]
                    r.finish = "stop"
            if not r.finish and len(r.ids) >= r.max_new:
                r.finish = "length"
            self._flush(r, on_token, final=bool(r.finish), tid=tid, stops=stops)

    @staticmethod
    def _flush(r: _Row, on_token: OnToken | None, final: bool, tid: int = -1, stops: list[str] = ()) -> None:
        if on_token is None:
            return
        safe = len(r.text)
        if not final:
            if r.text.endswith("\ufffd"):  # an incomplete UTF-8 sequence: wait for the next token
                return
            for s in stops:  # hold back text that may be the start of a stop string
                for k in range(min(len(s) - 1, len(r.text)), 0, -1):
                    if r.text.endswith(s[:k]):
                        safe = min(safe, len(r.text) - k)
                        break
        if safe > r.emitted:
            on_token(r.index, r.text[r.emitted:safe], tid)
            r.emitted = safe


def load_engine(path: str | Path, threads: int | None = None, provider: str | None = None) -> Engine:
    return Engine(path, threads=threads, provider=provider)
