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
feeds it. `Engine` is a `Model` (model.py: the session, the tokenizer, the prefix cache, `Request`, token
acceptance) that also validates requests and runs batches; `Batch` sees only the `Model`.

Packs exported by this version carry `model.memo.onnx` (role `engine_model`): the same weights file with a graph
that computes logits only at the positions asked for (`logits_index`) and takes rotary `position_ids` and an
additive `attention_bias`, so several prompts after a shared prefix are prefilled as ONE packed row with a block
mask. Older packs run their plain `model.onnx` (full logits, one prompt per prefill call).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from memo_edge.errors import MemoError

from .batch import Batch
from .config import MAX_BATCH
from .grammar import response_schema
from .model import PREFILL_CHUNK, Completion, Model, Request

# Each new token is checked against every stop string (and text that may begin one is held back): the work grows
# with their length, so a stop string is at most this long (a 120,000-character one slowed every stream 3.6x).
MAX_STOP_CHARS = 256

OnToken = Callable[[int, str, int], None]  # (row index, new text, token id)


def _as_list(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: expected {n} values (one per prompt), got {len(value)}")
        return list(value)
    return [value] * n


class Engine(Model):
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
        super().__init__(pack_or_path, threads, provider, verify, spin, prefill_chunk, packed_prefill, ort_profile)
        self.max_batch = max(1, max_batch)
        self._idle: list[Batch] = []  # one warm batch (KV buffers) kept between generate() calls
        self._idle_lock = threading.Lock()

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
        response_format: dict | None = None,
    ) -> Request:
        """A validated Request for Batch.add: `should_stop(now)` may return "cancelled"/"deadline" to end it.
        `response_format` (OpenAI's: json_schema / json_object) constrains the reply to its JSON schema."""
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
        schema = response_schema(response_format)
        constraint = self.grammars.constraint(schema) if schema is not None else None
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
            constraint,
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
        response_format: dict | list[dict | None] | None = None,
    ) -> list[Completion]:
        """Generate for all prompts as one continuous batch (at most `max_batch` rows decode together).

        `prefix`: a fixed leading text shared by every prompt (the memory prompt's prefix); its KV cache is computed
        once and reused whenever a prompt's tokens start with the prefix's tokens (else it is ignored for it).
        `seed` seeds each row's own RNG (a list gives one seed per row), so a row samples the same tokens batched
        or alone. `stop` strings end a row and are cut from its text; stop token ids come from the manifest.
        `response_format` (one, or one per prompt): an OpenAI response_format whose JSON schema the reply follows
        (grammar.py); the row ends when the JSON is complete.
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
            _as_list(response_format, n, "response_format"),
        )
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(prompts), add_special_tokens=False)]
        reqs = []
        for i, (ids, (mx, t, p, s, rf)) in enumerate(zip(encoded, settings)):
            cb = (lambda i: lambda text, tid: on_token(i, text, tid))(i) if on_token else None
            reqs.append(
                self.request(
                    ids,
                    mx,
                    t,
                    p,
                    s,
                    stop,
                    stop_token_ids,
                    prefix,
                    cb,
                    t_start=t0,
                    name=f"prompt {i}",
                    response_format=rf,
                )
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


def load_engine(path: str | Path, threads: int | None = None, provider: str | None = None) -> Engine:
    return Engine(path, threads=threads, provider=provider)
