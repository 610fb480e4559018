"""What a JSON-schema grammar costs per token on this CPU: llguidance, outlines-core and xgrammar side by side, and
the engine's own constrained vs unconstrained decode on a pack.

    python -m benchmarks.grammar_cost PACK [--tokens 64] [--repeats 5] [--threads 2] [--out DIR]

For each library and each protocol-stage-like schema: the one-off cost of reading the tokenizer, the compile time of
the schema (what a new response_format costs), and the per-token cost of driving a matcher along a valid reply
(tokenized as the model would write it): computing the allowed-token mask, applying it to a logits row, and
advancing on the token. The pack's model gives the yardstick: its decode time per token in our engine, unconstrained
and constrained (`Engine.generate(..., response_format=...)`) in the same run. A library that is not installed is
skipped (xgrammar imports torch, so it is never a runtime candidate; it is measured for comparison only).
Timings on a shared 2-core machine are noisy: compare ratios within one run. Prints a table and ONE JSON document
as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.report import RESULTS_DIR, emit, fmt, header, print_table, save

# Schemas shaped like the protocol's stage replies (what pydantic writes for them: every field required, no extra
# keys): an enum, lists of objects of strings, strings, a nullable string, a boolean.
PINNING = {
    "type": "object",
    "properties": {
        "known_facts": {"type": "array", "items": {"type": "string"}},
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "evidence": {"type": "string"}},
                "required": ["name", "evidence"],
                "additionalProperties": False,
            },
        },
        "entity_confirmed": {"type": "boolean"},
        "confirmed_entity": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "sub_questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "candidate": {"type": "string"}},
                "required": ["question", "candidate"],
                "additionalProperties": False,
            },
        },
        "decision": {"type": "string", "enum": ["continue", "exhaust"]},
    },
    "required": ["known_facts", "candidates", "entity_confirmed", "confirmed_entity", "sub_questions", "decision"],
    "additionalProperties": False,
}
SEEKING = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["continue", "answer"]},
        "sub_questions": {"type": "array", "items": {"type": "string"}},
        "answer": {"type": "string"},
    },
    "required": ["decision", "sub_questions", "answer"],
    "additionalProperties": False,
}
REPLIES = {
    "pinning": (
        PINNING,
        {
            "known_facts": ["The company was founded in 1998 in Menlo Park.", "Its founders met at Stanford."],
            "candidates": [
                {"name": "Google", "evidence": "founded 1998 in Menlo Park by two Stanford students"},
                {"name": "Yahoo", "evidence": "founded by Stanford students, but in 1994"},
            ],
            "entity_confirmed": False,
            "confirmed_entity": None,
            "sub_questions": [
                {"question": "Where was Google founded?", "candidate": "Google"},
                {"question": "When was Yahoo founded?", "candidate": "Yahoo"},
            ],
            "decision": "continue",
        },
    ),
    "seeking": (
        SEEKING,
        {
            "decision": "continue",
            "sub_questions": ["Who founded the company that built the Eiffel Tower?", "In which year did he die?"],
            "answer": "",
        },
    ),
}


def byte_vocab(tokenizer_json: str) -> tuple[list[bytes], list[int]]:
    """Each token id's bytes (GPT-2 byte-level alphabet undone) and the special token ids."""
    doc = json.loads(tokenizer_json)
    vocab = doc["model"]["vocab"]
    specials = {t["id"]: t["content"] for t in doc.get("added_tokens", []) if t.get("special")}
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    unbyte = {chr(c): b for b, c in zip(bs, cs)}
    out = [b""] * (max(vocab.values()) + 1)
    for tok, i in vocab.items():
        out[i] = tok.encode() if i in specials else bytes(unbyte[ch] for ch in tok)
    return out, sorted(specials)


def apply_mask(logits: np.ndarray, bitmask: np.ndarray) -> np.ndarray:
    """Disallowed tokens' logits to -inf (bitmask: int32 words, bit j of word i = token 32*i + j)."""
    allowed = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[: logits.shape[-1]].view(bool)
    return np.where(allowed, logits, np.float32(-np.inf))


def _per_token(step, tokens: list[int], repeats: int) -> dict:
    """Median µs per token over `repeats` walks of `tokens`; step(reset) -> callables (mask, apply, advance)."""
    mask_t, apply_t, adv_t = [], [], []
    logits = np.random.default_rng(0).standard_normal(49152).astype(np.float32)
    for _ in range(repeats):
        mask, apply, advance = step()
        tm = ta = tv = 0.0
        for tid in tokens:
            t0 = time.perf_counter()
            bits = mask()
            t1 = time.perf_counter()
            masked = apply(logits, bits)
            t2 = time.perf_counter()
            if not np.isfinite(masked[tid]):
                raise AssertionError(f"token {tid} masked out on a valid reply")
            advance(tid)
            tv += time.perf_counter() - t2
            tm, ta = tm + t1 - t0, ta + t2 - t1
        n = len(tokens)
        mask_t.append(tm / n * 1e6)
        apply_t.append(ta / n * 1e6)
        adv_t.append(tv / n * 1e6)
    mask_us, apply_us, adv_us = map(statistics.median, (mask_t, apply_t, adv_t))
    return {"mask_us": mask_us, "apply_us": apply_us, "advance_us": adv_us, "total_us": mask_us + apply_us + adv_us}


def bench_llguidance(tokenizer_json: str, eos: list[int], tokens: dict, repeats: int) -> dict:
    import llguidance
    import llguidance.numpy as llnp

    t = time.perf_counter()
    tok = llguidance.LLTokenizer(tokenizer_json, eos_token=eos)
    out = {"version": _version("llguidance"), "tokenizer_s": time.perf_counter() - t, "schemas": {}}
    opts = {"whitespace_flexible": False}
    for name, ids in tokens.items():
        schema = REPLIES[name][0]
        t = time.perf_counter()
        grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, overrides=opts)
        m = llguidance.LLMatcher(tok, grammar)
        compile_s = time.perf_counter() - t
        if m.is_error():
            raise RuntimeError(m.get_error())
        bitmask = llnp.allocate_token_bitmask(1, tok.vocab_size)

        def step(m=m, bitmask=bitmask):
            m.reset()

            def mask():
                llnp.fill_next_token_bitmask(m, bitmask)
                return bitmask[0]

            return mask, apply_mask, m.consume_token

        out["schemas"][name] = {"compile_s": compile_s, **_per_token(step, ids, repeats)}
    return out


def bench_outlines(vocab: list[bytes], specials: list[int], eos: int, tokens: dict, repeats: int) -> dict:
    import outlines_core as oc

    t = time.perf_counter()
    mapping: dict[bytes, list[int]] = {}
    for i, b in enumerate(vocab):
        if i not in specials and b:
            mapping.setdefault(b, []).append(i)
    voc = oc.Vocabulary(eos, mapping)
    out = {"version": _version("outlines-core"), "tokenizer_s": time.perf_counter() - t, "schemas": {}}
    words = (len(vocab) + 31) // 32
    for name, ids in tokens.items():
        schema = REPLIES[name][0]
        t = time.perf_counter()
        regex = oc.json_schema.build_regex_from_schema(json.dumps(schema), "")
        index = oc.Index(regex, voc)
        compile_s = time.perf_counter() - t
        bitmask = np.zeros(words, np.int32)

        def step(index=index, bitmask=bitmask):
            g = oc.Guide(index)

            def mask():
                g.write_mask_into(bitmask.ctypes.data, bitmask.size, 4)
                return bitmask

            return mask, apply_mask, lambda tid: g.advance(tid, return_tokens=False)

        out["schemas"][name] = {"compile_s": compile_s, **_per_token(step, ids, repeats)}
    return out


def bench_xgrammar(tokenizer_json: str, vocab_size: int, eos: list[int], tokens: dict, repeats: int) -> dict:
    t = time.perf_counter()
    import xgrammar as xgr  # imports torch

    import_s = time.perf_counter() - t
    doc = json.loads(tokenizer_json)
    encoded = [""] * vocab_size
    for tok_str, i in doc["model"]["vocab"].items():
        encoded[i] = tok_str
    t = time.perf_counter()
    info = xgr.TokenizerInfo(encoded, xgr.VocabType.BYTE_LEVEL, vocab_size=vocab_size, stop_token_ids=eos)
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    out = {"version": _version("xgrammar"), "import_s": import_s, "tokenizer_s": time.perf_counter() - t}
    out["schemas"] = {}
    for name, ids in tokens.items():
        schema = REPLIES[name][0]
        t = time.perf_counter()
        compiled = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False, separators=(",", ":"))
        compile_s = time.perf_counter() - t
        bitmask = xgr.allocate_token_bitmask(1, vocab_size)

        def step(compiled=compiled, bitmask=bitmask):
            m = xgr.GrammarMatcher(compiled)

            def mask():
                m.fill_next_token_bitmask(bitmask)
                return bitmask[0].numpy()

            return mask, apply_mask, m.accept_token

        out["schemas"][name] = {"compile_s": compile_s, **_per_token(step, ids, repeats)}
    return out


def engine_decode(pack: str, threads: int, n_tokens: int, repeats: int) -> dict:
    """The pack's decode ms/token in our engine, unconstrained and under each schema, alternating in one run."""
    from memo_edge.runtime.engine import Engine

    e = Engine(pack, threads=threads)
    prompt = e.manifest.prompt.render("Reply in JSON: what should the memory be asked next about the Eiffel Tower?")
    out: dict = {"runs": {}}
    modes = {
        "free": None,
        **{name: {"type": "json_schema", "json_schema": {"schema": s}} for name, (s, _) in REPLIES.items()},
    }
    e.generate([prompt], max_new_tokens=8)  # warm-up (and the grammar library's tokenizer, once per engine)
    for rf in modes.values():
        if rf is not None:
            e.generate([prompt], max_new_tokens=4, response_format=rf)
    samples: dict[str, list] = {k: [] for k in modes}
    texts: dict[str, str] = {}
    for _ in range(repeats):
        for name, rf in modes.items():  # alternating, so load changes hit every mode alike
            c = e.generate([prompt], max_new_tokens=n_tokens, response_format=rf)[0]
            if c.completion_tokens > 1 and c.decode_s > 0:
                samples[name].append(
                    {
                        "ms_per_token": c.decode_s / (c.completion_tokens - 1) * 1e3,
                        "grammar_ms_per_token": c.grammar_s / c.completion_tokens * 1e3,
                        "tokens": c.completion_tokens,
                    }
                )
            texts[name] = c.text
    for name, xs in samples.items():
        med = {
            k: statistics.median(x[k] for x in xs) if xs else None
            for k in ("ms_per_token", "grammar_ms_per_token", "tokens")
        }
        out["runs"][name] = {
            **med,
            "parses": _parses(texts.get(name, "")) if name != "free" else None,
            "text": texts.get(name, "")[:300],
        }
    free = out["runs"]["free"]["ms_per_token"]
    for name in REPLIES:
        run = out["runs"][name]
        # the issue's measure: the grammar's own time per token against an unconstrained decode step
        run["grammar_share"] = None if not free else run["grammar_ms_per_token"] / free
        run["overhead"] = None if not (run["ms_per_token"] and free) else run["ms_per_token"] / free - 1
    out["precision"] = e.manifest.precision
    out["decode_tps_free"] = 1e3 / free if free else None
    return out


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.grammar_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("pack", help="a pack of the 135M model (its tokenizer and its decode speed are the yardstick)")
    p.add_argument("--tokens", type=int, default=64, help="new tokens per engine decode")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--libraries", default="llguidance,outlines-core,xgrammar")
    p.add_argument("--no-engine", action="store_true", help="library costs only")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    a = p.parse_args(argv)

    from memo_edge.pack import Pack

    pack = Pack.open(a.pack)
    tokenizer_json = pack.path("tokenizer").read_text(encoding="utf-8")
    vocab, specials = byte_vocab(tokenizer_json)
    st = pack.manifest.special_tokens
    eos = [st.eos_token_id] if isinstance(st.eos_token_id, int) else list(st.eos_token_id)
    from tokenizers import Tokenizer

    tk = Tokenizer.from_str(tokenizer_json)
    tokens = {
        name: tk.encode(json.dumps(reply, separators=(",", ":")), add_special_tokens=False).ids
        for name, (_, reply) in REPLIES.items()
    }

    libs = [x.strip() for x in a.libraries.split(",") if x.strip()]
    doc = header("grammar_cost", pack=str(a.pack), tokens=a.tokens, repeats=a.repeats, threads=a.threads)
    doc["reply_tokens"] = {k: len(v) for k, v in tokens.items()}
    doc["libraries"] = {}
    for lib in libs:
        try:
            if lib == "llguidance":
                r = bench_llguidance(tokenizer_json, eos, tokens, a.repeats)
            elif lib == "outlines-core":
                r = bench_outlines(vocab, specials, eos[0], tokens, a.repeats)
            elif lib == "xgrammar":
                r = bench_xgrammar(tokenizer_json, pack.manifest.model.vocab_size, eos, tokens, a.repeats)
            else:
                raise SystemExit(f"--libraries: unknown library {lib!r}")
        except ImportError as e:
            r = {"skipped": f"not installed ({e.name})"}
        doc["libraries"][lib] = r
    if not a.no_engine:
        doc["engine"] = engine_decode(a.pack, a.threads, a.tokens, a.repeats)

    free_ms = (doc.get("engine") or {}).get("runs", {}).get("free", {}).get("ms_per_token")
    rows = []
    for lib, r in doc["libraries"].items():
        if "skipped" in r:
            rows.append([lib, r["skipped"], *["-"] * 7])
            continue
        for name, s in r["schemas"].items():
            rows.append(
                [
                    f"{lib} {r['version']}",
                    name,
                    fmt(r["tokenizer_s"], 3),
                    fmt(s["compile_s"] * 1e3, 1),
                    fmt(s["mask_us"], 1),
                    fmt(s["apply_us"], 1),
                    fmt(s["advance_us"], 1),
                    fmt(s["total_us"], 1),
                    "-" if not free_ms else f"{100 * s['total_us'] / 1e3 / free_ms:.1f}%",
                ]
            )
    print_table(
        f"JSON-schema grammar cost per token ({Path(a.pack).name}, {a.threads} threads)",
        [
            "library",
            "schema",
            "tokenizer s",
            "compile ms",
            "mask µs/tok",
            "apply µs",
            "advance µs",
            "total µs/tok",
            "of decode",
        ],
        rows,
    )
    if "engine" in doc:
        eng = doc["engine"]["runs"]
        print_table(
            "Engine decode, constrained vs free (same run)",
            [
                "mode",
                "decode ms/token",
                "tokens",
                "grammar ms/token",
                "grammar / free decode",
                "decode vs free",
                "parses",
            ],
            [
                [
                    k,
                    fmt(v["ms_per_token"], 2),
                    v["tokens"],
                    fmt(v["grammar_ms_per_token"], 3),
                    "-" if v.get("grammar_share") is None else f"{100 * v['grammar_share']:.1f}%",
                    "-" if v.get("overhead") is None else f"{100 * v['overhead']:+.1f}%",
                    v["parses"],
                ]
                for k, v in eng.items()
            ],
        )
    path = save(a.out, "grammar_cost", doc)
    summary = {
        "result": str(path),
        "engine_ms_per_token": free_ms,
        **{
            f"{lib}_{name}_us": round(s["total_us"], 1)
            for lib, r in doc["libraries"].items()
            for name, s in r.get("schemas", {}).items()
        },
        **{
            f"engine_grammar_share_{k}": round(v["grammar_share"], 4)
            for k, v in (doc.get("engine") or {}).get("runs", {}).items()
            if v.get("grammar_share") is not None
        },
        **{
            f"engine_overhead_{k}": round(v["overhead"], 4)
            for k, v in (doc.get("engine") or {}).get("runs", {}).items()
            if v.get("overhead") is not None
        },
    }
    emit(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
