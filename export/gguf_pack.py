"""GGUF packs (llama.cpp, Ollama): model.gguf + Modelfile + tokenizer.json + manifest.json."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import memo_edge
from memo_edge.pack import Generation, Manifest

from .checkpoint import Checkpoint
from .config import ExportConfig
from .describe import memory_prompt, model_info, provenance, reflections_path, special_tokens
from .gguf_write import write_gguf
from .modelfile import modelfile
from .report import Reporter

GGUF_NAME = "model.gguf"


@dataclass
class _Out:
    text: str
    token_ids: list[int]


class LlamaCppRunner:
    """Greedy generation through llama-cpp-python, shaped like the runtime Engine's generate() for the checks."""

    def __init__(self, gguf_path: Path, n_ctx: int = 1024, threads: int | None = None):
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)

    def encode(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def generate(
        self, prompts: list[str], max_new_tokens: int = 64, stop_token_ids: list[int] | None = None, **_: Any
    ) -> list[_Out]:
        stop = set(stop_token_ids if stop_token_ids is not None else [self.llm.token_eos()])
        outs = []
        for p in prompts:
            ids: list[int] = []
            self.llm.reset()
            for tid in self.llm.generate(self.encode(p), top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
                if tid in stop or len(ids) >= max_new_tokens:
                    break
                ids.append(int(tid))
                if len(ids) >= max_new_tokens:
                    break
            text = self.llm.detokenize(ids, special=False).decode("utf-8", errors="replace")
            outs.append(_Out(text, ids))
        return outs


def write_gguf_pack(ckpt: Checkpoint, root: Path, cfg: ExportConfig, rep: Reporter) -> Manifest:
    prompt, prompt_source = memory_prompt(ckpt)
    gen = Generation()
    t = time.perf_counter()
    with rep.step(f"writing the {cfg.precision} GGUF"):
        write_gguf(ckpt, root / GGUF_NAME, cfg.precision, name=ckpt.root.name)
    build_s = time.perf_counter() - t
    (root / "Modelfile").write_text(modelfile(prompt, GGUF_NAME, gen), encoding="utf-8")
    shutil.copy(ckpt.root / "tokenizer.json", root / "tokenizer.json")
    prov = provenance(ckpt)
    prov["memory_prompt_source"] = prompt_source
    manifest = Manifest(
        memo_edge_version=memo_edge.__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        kind="gguf",
        precision=cfg.precision,
        model=model_info(ckpt),
        files={"model": GGUF_NAME, "modelfile": "Modelfile", "tokenizer": "tokenizer.json"},
        prompt=prompt,
        generation=gen,
        special_tokens=special_tokens(ckpt, prompt),
        provenance=prov,
        metrics={"export": {"build_s": round(build_s, 2), "size_bytes": (root / GGUF_NAME).stat().st_size}},
    )
    if cfg.verify:
        manifest.metrics.update(_verify(root, ckpt, cfg, manifest, rep))
        if manifest.metrics["verify"]["status"] == "ok":
            manifest = manifest.model_copy(update={"providers_tested": ["llama.cpp (llama-cpp-python, CPU)"]})
    return manifest


def _verify(root: Path, ckpt: Checkpoint, cfg: ExportConfig, m: Manifest, rep: Reporter) -> dict[str, Any]:
    from .checks import RECALL_MAX_NEW
    from .verify import TorchReference, check_parity, cut_at_stops, heldout_slice, parity_prompts, recall

    try:
        runner = LlamaCppRunner(root / GGUF_NAME)
    except ImportError:
        return {
            "verify": {
                "status": "skipped",
                "reason": "llama-cpp-python is not installed (pip install 'memo-edge[llama]')",
            }
        }
    stop_ids = set(m.special_tokens.stop_token_ids)
    reflections = reflections_path(ckpt, cfg.reflections)
    held = heldout_slice(reflections, cfg.heldout, cfg.heldout_seed) if reflections and cfg.heldout else []
    ref = TorchReference(ckpt.root, root / "tokenizer.json")
    prompts = parity_prompts(m.prompt, [r.question for r in held], cfg.parity_prompts)
    with rep.step(f"greedy parity, llama.cpp {cfg.precision} vs torch fp32, {len(prompts)} prompts"):
        parity = check_parity(runner, ref, prompts, cfg.parity_tokens, stop_ids)
    out: dict[str, Any] = {"verify": {"status": "ok", "parity": parity}}
    if held:
        qs = [m.prompt.render(r.question) for r in held]
        golds = [r.answer for r in held]
        with rep.step(f"recall on {len(held)} sampled training reflections, llama.cpp {cfg.precision} and torch fp32"):
            ours = [cut_at_stops(c.text, m.prompt.stop) for c in runner.generate(qs, RECALL_MAX_NEW, sorted(stop_ids))]
            theirs = [cut_at_stops(a, m.prompt.stop) for a in ref.answers(qs, RECALL_MAX_NEW, stop_ids)]
        out["recall"] = {
            "n": len(held),
            "seed": cfg.heldout_seed,
            cfg.precision: recall(ours, golds),
            "fp32": recall(theirs, golds),
            "agreement_with_fp32": sum(a == b for a, b in zip(ours, theirs)) / len(held),
        }
    return out
