"""Latency contenders, each run in its own process (`python -m benchmarks.contenders SPEC.json OUT.json`).

One process per contender keeps imports honest (our runtime never sees torch), gives each its own peak RSS, and
lets the parent time cold start from spawn to first token. Every contender implements the same three calls on the
same prompt text: `n_tokens(text)`, `timed(text, max_new) -> [seconds from call to each new token]`, and
`answer(texts, max_new, how)` for the protocol round. Decoding is greedy everywhere.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from memo_edge.procstats import peak_rss_mb


class MemoRunner:
    """Our runtime: memo_edge.runtime.Engine on an ONNX pack (torch-free; the pack's hashes are verified on load)."""

    MODES = ("sequential", "sequential+prefix", "batched", "batched+prefix")

    def __init__(self, artifact: str, threads: int):
        from memo_edge.runtime import Engine

        self.engine = Engine(artifact, threads=threads)
        self.prefix = self.engine.manifest.prompt.prefix

    def n_tokens(self, text: str) -> int:
        return len(self.engine.encode(text))

    def check_prefix(self, texts: list[str]) -> None:
        """Once, before anything is timed: the "+prefix" modes only mean something if the prompts really begin with
        the pack's prefix tokens (else the engine silently prefills them in full)."""
        p = self.engine.encode(self.prefix)
        if any(self.engine.encode(t)[: len(p)] != p for t in texts):
            raise RuntimeError("the protocol prompts do not start with the pack's prefix, so it would not be reused")

    def timed(self, text: str, max_new: int) -> list[float]:
        # The engine streams text (it holds back partial UTF-8 and stop-string prefixes), so per-token times come
        # from its own clock: ttft_s = call start -> first token chosen; decode_s = first -> last token.
        c = self.engine.generate([text], max_new_tokens=max_new, temperature=0.0)[0]
        n = max(c.completion_tokens + (c.finish_reason == "stop"), 1)
        step = c.decode_s / (n - 1) if n > 1 else 0.0
        return [c.ttft_s + i * step for i in range(n)]

    def answer(self, texts: list[str], max_new: int, how: str) -> list[str]:
        if how not in self.MODES:
            raise ValueError(how)
        # "+prefix": the memory prompt's fixed prefix is prefilled once per process and its KV cache reused.
        kw = {"max_new_tokens": max_new, "temperature": 0.0, "prefix": self.prefix if how.endswith("+prefix") else None}
        if how.startswith("sequential"):
            out = [c for t in texts for c in self.engine.generate([t], **kw)]
        else:
            out = self.engine.generate(texts, **kw)
        return [c.text for c in out]


class _TokenLoop:
    """Runners that drive their own token loop: `_ids(text)` and `_run(ids, max_new, on_token)`."""

    def timed(self, text: str, max_new: int) -> list[float]:
        """Seconds from the call to each generated token."""
        times: list[float] = []
        t0 = time.perf_counter()
        self._run(self._ids(text), max_new, lambda: times.append(time.perf_counter() - t0))
        return times


class GenaiRunner(_TokenLoop):
    """onnxruntime-genai's own Generator on the very same pack directory (it ships genai_config.json)."""

    def __init__(self, artifact: str, threads: int):
        import onnxruntime_genai as og

        self.og = og
        self.model = og.Model(_genai_dir_with_threads(Path(artifact), threads))
        self.tok = og.Tokenizer(self.model)
        self.stop = set(_stop_ids(Path(artifact) / "tokenizer.json"))

    def n_tokens(self, text: str) -> int:
        return len(self.tok.encode(text))

    def _run(self, ids, max_new: int, on_token=None) -> list[int]:
        params = self.og.GeneratorParams(self.model)
        params.set_search_options(do_sample=False, max_length=len(ids) + max_new, batch_size=1)
        gen = self.og.Generator(self.model, params)
        gen.append_tokens(ids)
        out = []
        while not gen.is_done() and len(out) < max_new:
            gen.generate_next_token()
            t = int(gen.get_next_tokens()[0])
            if on_token:
                on_token()
            if t in self.stop:
                break
            out.append(t)
        return out

    def _ids(self, text: str):
        return self.tok.encode(text)

    def answer(self, texts, max_new, how):
        return [self.tok.decode(self._run(self._ids(t), max_new)) for t in texts]


class LlamaCppRunner(_TokenLoop):
    """llama.cpp through llama-cpp-python on a GGUF file."""

    def __init__(self, artifact: str, threads: int):
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=artifact, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False
        )
        self.stop = {self.llm.token_eos(), *self.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}

    def _ids(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def n_tokens(self, text: str) -> int:
        return len(self._ids(text))

    def _run(self, ids, max_new: int, on_token=None, reuse: bool = False) -> list[int]:
        if not reuse:
            self.llm.reset()  # n_tokens = 0: no match against the previous prompt, a full prefill
        out = []
        for t in self.llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
            if on_token:
                on_token()
            if t in self.stop:
                break
            out.append(t)
            if len(out) >= max_new:
                break
        return out

    def answer(self, texts, max_new, how):
        # "sequential": llama-cpp-python's default, which keeps the KV cache of the longest common prefix with the
        # previous prompt (so the shared system prefix is reused); "sequential-noreuse": every prompt from scratch.
        reuse = how == "sequential"
        return [
            self.llm.detokenize(self._run(self._ids(t), max_new, reuse=reuse)).decode("utf-8", "replace") for t in texts
        ]


class TorchRunner(_TokenLoop):
    """torch + transformers fp32, a plain greedy KV-cache loop (no generate() overhead in the timings)."""

    def __init__(self, artifact: str, threads: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(artifact)
        self.model = AutoModelForCausalLM.from_pretrained(artifact, dtype=torch.float32).eval()
        self.stop = set(_stop_ids(Path(artifact) / "tokenizer.json"))

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def n_tokens(self, text: str) -> int:
        return len(self._ids(text))

    def _run(self, ids, max_new: int, on_token=None) -> list[int]:
        torch = self.torch
        out, past = [], None
        x = torch.tensor([ids])
        with torch.inference_mode():
            for _ in range(max_new):
                res = self.model(input_ids=x, past_key_values=past, use_cache=True)
                past = res.past_key_values
                t = int(res.logits[0, -1].argmax())
                if on_token:
                    on_token()
                if t in self.stop:
                    break
                out.append(t)
                x = torch.tensor([[t]])
        return out

    def answer(self, texts, max_new, how):
        return [self.tok.decode(self._run(self._ids(t), max_new)) for t in texts]


RUNNERS = {"memo": MemoRunner, "genai": GenaiRunner, "llamacpp": LlamaCppRunner, "torch": TorchRunner}


def _stop_ids(tokenizer_json: Path) -> list[int]:
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    added = {t["content"]: t["id"] for t in vocab.get("added_tokens", [])}
    return [added[s] for s in ("<|im_end|>", "<|endoftext|>") if s in added]


def _genai_dir_with_threads(pack: Path, threads: int) -> str:
    """A sibling view of the pack whose genai_config.json pins the thread count (genai reads it from the file)."""
    view = pack.parent / f"{pack.name}.genai-t{threads}"
    view.mkdir(exist_ok=True)
    for f in pack.iterdir():
        link = view / f.name
        if f.name != "genai_config.json" and not link.exists():
            link.symlink_to(f.resolve())
    cfg = json.loads((pack / "genai_config.json").read_text())
    so = cfg["model"]["decoder"].setdefault("session_options", {})
    so.update(intra_op_num_threads=threads, inter_op_num_threads=1)
    (view / "genai_config.json").write_text(json.dumps(cfg, indent=1))
    return str(view)


def cold(spec: dict) -> dict:
    """Load and produce one token; the parent times spawn -> first_token_unix."""
    t0 = time.perf_counter()
    r = RUNNERS[spec["runner"]](spec["artifact"], spec["threads"])
    load_s = time.perf_counter() - t0
    times = r.timed(spec["prompts"]["64"], 1)
    return {
        "label": spec["label"],
        "load_s": load_s,
        "first_token_unix": time.time(),
        "ttft_s": times[0] if times else None,
        "peak_rss_mb": peak_rss_mb(),
    }


def serve(spec: dict, reply) -> None:
    """Answer one measurement request per stdin line, so the parent can interleave contenders round by round
    (on a shared, noisy machine every contender then sees the same background load)."""
    t0 = time.perf_counter()
    r = RUNNERS[spec["runner"]](spec["artifact"], spec["threads"])
    reply(
        {
            "ready": True,
            "load_s": time.perf_counter() - t0,
            "prompt_tokens": {k: r.n_tokens(p) for k, p in spec["prompts"].items()},
            "rss_mb": peak_rss_mb(),
        }
    )
    proto = spec.get("protocol") or {}
    if any(m.endswith("+prefix") for m in proto.get("modes", [])):
        r.check_prefix(proto["prompts"])
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "quit":
            break
        if op == "ttft":
            out = {"v": r.timed(spec["prompts"][req["key"]], 1)[0]}
        elif op == "decode":
            times = r.timed(spec["decode_prompt"], spec["decode_tokens"])
            out = {"tokens": len(times), "v": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None}
        elif op == "round":
            # one grounding round: K memory-prompt questions, answered sequentially or batched
            t = time.perf_counter()
            answers = r.answer(proto["prompts"][: req["k"]], proto["max_new"], req["how"])
            out = {"v": time.perf_counter() - t, "answers": answers}
        elif op == "call":
            # one protocol call up to its first token (what the executive waits for per sub-question)
            t = time.perf_counter()
            r.answer([proto["prompts"][req["i"]]], 1, req["how"])
            out = {"v": time.perf_counter() - t}
        else:
            out = {"error": f"unknown op {op}"}
        out["rss_mb"] = peak_rss_mb()
        reply(out)


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("mode") == "cold":
        Path(argv[1]).write_text(json.dumps(cold(spec)))
        return 0
    # Replies go to the original stdout; anything native libraries print goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    serve(spec, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
