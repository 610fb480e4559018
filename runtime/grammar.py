"""Grammar-constrained decoding: a JSON schema (an OpenAI `response_format`) masks each step's logits so that the
reply always parses and matches the schema.

llguidance (the `[grammar]` extra, imported only when a schema is given) compiles the schema in about a millisecond
and computes the allowed-token bitmask in about 10 µs per token on the 135M's 49k vocabulary (measured against
outlines-core and xgrammar by benchmarks/grammar_cost.py; xgrammar also imports torch). `Grammars` holds what a
model needs once (the llguidance tokenizer, compiled schemas); `Constraint` is one request's matcher.

A reply must also END within its token budget: a model that wanders inside a string (a small or untrained one
does) would otherwise be cut off as unparseable JSON. So when the tokens left fall to what the schema needs to
close from its start (measured once per schema by walking the same closing policy) plus a margin, the constraint
wraps up. It follows the reply's JSON nesting (`_Nesting`: open strings, arrays, objects) and, among the allowed
tokens, takes the longest one that is a prefix of the ideal closing text (say `"]}`); when the grammar needs more
first (a required key, a value), the structural token (`""`, `[]`, `,` ...) that leaves the nesting shallowest;
and otherwise lets the model choose among the allowed tokens (keys, enum values, literals, which the grammar bounds).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict

import numpy as np

from memo_edge.errors import MemoError

SCHEMA_CACHE = 32  # compiled grammars kept per model (a server sees the same few schemas again and again)
WRAP_MARGIN = 8  # tokens of slack beyond the measured closing length before wrap-up starts
_STRUCTURAL = frozenset(b'"[]{},:')
_NEG_INF = np.float32(-np.inf)


class _Nesting:
    """Where a JSON text stands: inside a string or not, and the open arrays/objects (innermost last)."""

    __slots__ = ("in_string", "escaped", "stack")

    def __init__(self, in_string: bool = False, escaped: bool = False, stack: str = ""):
        self.in_string, self.escaped, self.stack = in_string, escaped, stack

    def copy(self) -> "_Nesting":
        return _Nesting(self.in_string, self.escaped, self.stack)

    def feed(self, data: bytes) -> "_Nesting":
        for ch in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == 0x5C:  # backslash
                    self.escaped = True
                elif ch == 0x22:
                    self.in_string = False
            elif ch == 0x22:
                self.in_string = True
            elif ch in (0x5B, 0x7B):  # [ {
                self.stack += "]" if ch == 0x5B else "}"
            elif ch in (0x5D, 0x7D) and self.stack:
                self.stack = self.stack[:-1]
        return self

    @property
    def depth(self) -> int:
        return len(self.stack) + self.in_string

    def closing(self) -> bytes:
        """The shortest text that would close everything open (the grammar may ask for more first)."""
        return (b'"' if self.in_string else b"") + self.stack[::-1].encode()


class GrammarError(MemoError):
    """A response_format the runtime cannot honour (unknown type, not a schema, a schema llguidance rejects)."""


def response_schema(response_format) -> dict | None:
    """The JSON schema an OpenAI `response_format` asks for; None for plain text. GrammarError names the field.

    {"type": "json_schema", "json_schema": {"schema": {...}}} -> that schema; {"type": "json_object"} -> any JSON
    object; {"type": "json_object", "schema": {...}} (llama.cpp's form) -> that schema."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise GrammarError('response_format: expected an object such as {"type": "json_schema", ...}')
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        schema = response_format.get("schema")
        where = "response_format.schema"
        if schema is None:
            return {"type": "object"}
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise GrammarError("response_format.json_schema: expected an object with a 'schema'")
        schema, where = spec.get("schema"), "response_format.json_schema.schema"
    else:
        raise GrammarError(f"response_format.type: {kind!r}: expected 'text', 'json_schema' or 'json_object'")
    if not isinstance(schema, dict):
        raise GrammarError(f"{where}: expected a JSON schema object")
    return schema


def _llguidance():
    try:
        import llguidance
    except ImportError:
        raise GrammarError(
            "response_format: constrained decoding needs llguidance: pip install 'memo-edge[grammar]'"
        ) from None
    return llguidance


class Grammars:
    """One model's grammar state: its llguidance tokenizer (built on first use, ~0.2 s) and compiled schemas."""

    def __init__(self, tokenizer_json: str, vocab_size: int, eos_ids: list[int]):
        self._tokenizer_json, self.vocab_size, self.eos_ids = tokenizer_json, vocab_size, list(eos_ids)
        self._tok = None
        self._compiled: OrderedDict[str, tuple[object, int]] = OrderedDict()  # schema JSON -> (matcher, reserve)
        self._lock = threading.Lock()
        self.token_bytes: list[bytes] = []
        self.structural = np.zeros(0, np.int64)  # ids of tokens made only of JSON punctuation
        self.structural_ids: dict[bytes, int] = {}

    def _tokenizer(self):
        if self._tok is None:
            ll = _llguidance()
            tok = ll.LLTokenizer(self._tokenizer_json, n_vocab=self.vocab_size, eos_token=self.eos_ids)
            # each token's bytes (special tokens: none; the grammar never allows them but EOS), for the nesting
            self.token_bytes = [
                b"" if tok.is_special_token(i) else tok.decode_bytes([i]) for i in range(tok.vocab_size)
            ]
            self.structural = np.array(
                [i for i, b in enumerate(self.token_bytes) if b and set(b) <= _STRUCTURAL], np.int64
            )
            self.structural_ids = {self.token_bytes[i]: i for i in self.structural.tolist()}
            self._tok = tok
        return self._tok

    def constraint(self, schema: dict) -> "Constraint":
        """A fresh matcher for `schema` (compiled once per schema); GrammarError when llguidance rejects it."""
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            tok = self._tokenizer()
            hit = self._compiled.get(key)
            if hit is None:
                hit = self._compile(tok, schema)
                self._compiled[key] = hit
                while len(self._compiled) > SCHEMA_CACHE:
                    self._compiled.popitem(last=False)
            else:
                self._compiled.move_to_end(key)
            matcher, reserve = hit
            matcher = matcher.deep_copy()  # the cached one is never advanced: each request gets its own state
        return Constraint(self, matcher, reserve)

    def _compile(self, tok, schema: dict):
        ll = _llguidance()
        try:
            # no free whitespace: a small model would otherwise spend its budget on spaces and newlines
            grammar = ll.LLMatcher.grammar_from_json_schema(schema, overrides={"whitespace_flexible": False})
        except ValueError as e:
            raise GrammarError(f"response_format: not a usable JSON schema ({e})") from None
        matcher = ll.LLMatcher(tok, grammar, log_level=0)
        if matcher.is_error():
            raise GrammarError(f"response_format: not a usable JSON schema ({matcher.get_error().splitlines()[0]})")
        return matcher, self._closing_length(matcher.deep_copy())

    def _closing_length(self, matcher, limit: int = 512) -> int:
        """Tokens the wrap-up policy takes to finish from the schema's start (model-free: where the policy leaves
        the choice to the model, the longest allowed token)."""
        c = Constraint(self, matcher, 0)
        for n in range(limit):
            if c.done or matcher.is_accepting():
                return n
            allowed = c.allowed()
            tid = c.closing_choice(allowed)
            if tid is None:
                ids = np.flatnonzero(allowed[: len(self.token_bytes)])
                if not len(ids):
                    return n
                tid = int(max(ids, key=lambda i: len(self.token_bytes[i])))
            if not c.consume(tid):
                return n
        return limit


class Constraint:
    """One request's grammar state: masks its logits row, follows the tokens it picks."""

    def __init__(self, grammars: Grammars, matcher, reserve: int):
        self.g, self.m, self.reserve = grammars, matcher, reserve
        self._bits = np.full((grammars.vocab_size + 31) // 32, -1, np.int32)
        self.nesting = _Nesting()
        self.wrapping = False  # wrap-up began (the reply was steered to close within its budget)
        self.spent_s = 0.0  # time in mask() and consume(): what the grammar cost this reply

    @property
    def done(self) -> bool:
        """The grammar admits no more tokens (only EOS): the reply is complete."""
        return self.m.is_stopped()

    @property
    def error(self) -> str:
        return self.m.get_error()

    def allowed(self) -> np.ndarray:
        """Bool per token id: may come next."""
        self.m.unsafe_compute_mask_ptr(self._bits.ctypes.data, self._bits.nbytes)
        return np.unpackbits(self._bits.view(np.uint8), bitorder="little")[: self.g.vocab_size].view(bool)

    def mask(self, logits: np.ndarray, remaining: int) -> np.ndarray:
        """`logits` with disallowed tokens at -inf; once `remaining` tokens only just cover closing, the closing
        policy's token alone when it has one."""
        t0 = time.perf_counter()
        try:
            return self._mask(logits, remaining)
        finally:
            self.spent_s += time.perf_counter() - t0

    def _mask(self, logits: np.ndarray, remaining: int) -> np.ndarray:
        allowed = self.allowed()
        out = np.full_like(logits, _NEG_INF)
        if remaining <= self.reserve + WRAP_MARGIN:
            self.wrapping = True
            tid = self.closing_choice(allowed)
            if tid is not None:
                out[tid] = 0.0
                return out
        n = min(len(allowed), logits.shape[-1])
        np.copyto(out[:n], logits[:n], where=allowed[:n])
        return out

    def closing_choice(self, allowed: np.ndarray) -> int | None:
        """The allowed token that closes most (module docstring), or None when only the model can choose."""
        goal, by_bytes = self.nesting.closing(), self.g.structural_ids
        for k in range(len(goal), 0, -1):  # part of the ideal closing text: the longer the better
            tid = by_bytes.get(goal[:k])
            if tid is not None and allowed[tid]:
                return tid
        ids = self.g.structural[allowed[self.g.structural]]
        if not len(ids):
            return None
        depth = {tid: self.nesting.copy().feed(self.g.token_bytes[tid]).depth for tid in ids.tolist()}
        return min(depth, key=lambda t: (depth[t], len(self.g.token_bytes[t])))  # shallowest after, then shortest

    def consume(self, tid: int) -> bool:
        """Follow the picked token; False when the grammar refuses it (the matcher is then in error)."""
        t0 = time.perf_counter()
        if tid < len(self.g.token_bytes):
            self.nesting.feed(self.g.token_bytes[tid])
        ok = self.m.consume_token(tid)
        self.spent_s += time.perf_counter() - t0
        return ok
