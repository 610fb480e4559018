"""Packs for runtime tests: the export stage's `export_pack` when it exists, else a genai-builder graph + a
hand-written manifest (what export_pack writes, minus provenance), so runtime tests never depend on export landing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from memo_edge.atomic import atomic_dir
from memo_edge.pack import Manifest, ModelInfo, SpecialTokens, finalize
from memo_edge.prompt import MemoryPrompt

BUILDER_FILES = ("model.onnx", "model.onnx.data", "tokenizer.json", "genai_config.json")


def build_graph(ckpt: Path, out: Path, precision: str = "fp32") -> Path:
    """Run onnxruntime-genai's model builder (the same tool export uses) into out."""
    if (out / "model.onnx").is_file():
        return out
    tmp = out.with_name(out.name + ".build")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(ckpt), "-o", str(tmp),
                    "-p", precision, "-e", "cpu", "-c", str(tmp) + ".cache", "--extra_options", "hf_token=false"],
                   check=True, capture_output=True)
    tmp.rename(out)
    return out


def pack_from_graph(graph_dir: Path, out: Path, precision: str = "fp32",
                    prompt: MemoryPrompt | None = None) -> Path:
    g = json.loads((graph_dir / "genai_config.json").read_text())["model"]
    d = g["decoder"]
    eos = g["eos_token_id"] if isinstance(g["eos_token_id"], list) else [g["eos_token_id"]]
    with atomic_dir(out) as tmp:
        for f in BUILDER_FILES:
            shutil.copy(graph_dir / f, tmp / f)
        manifest = Manifest(
            precision=precision,
            model=ModelInfo(architecture=g["type"], num_layers=d["num_hidden_layers"], hidden_size=d["hidden_size"],
                            num_attention_heads=d["num_attention_heads"], num_key_value_heads=d["num_key_value_heads"],
                            head_dim=d["head_size"], vocab_size=g["vocab_size"], context_length=g["context_length"]),
            files={"model": "model.onnx", "weights": "model.onnx.data", "tokenizer": "tokenizer.json",
                   "genai_config": "genai_config.json"},
            prompt=prompt or MemoryPrompt.chatml(),
            special_tokens=SpecialTokens(bos_token_id=g["bos_token_id"], eos_token_id=eos[0],
                                         pad_token_id=g.get("pad_token_id", eos[0]), stop_token_ids=eos),
            providers_tested=["CPUExecutionProvider"],
        )
        finalize(tmp, manifest)
    return out


def make_pack(ckpt: Path, work: Path, precision: str = "fp32") -> Path:
    """A pack for ckpt under work/ (cached across tests by the caller's choice of work dir)."""
    pack = work / f"pack-{precision}"
    if (pack / "manifest.json").is_file():
        return pack
    try:
        from memo_edge.export import export_pack  # the real exporter, once it has landed
    except ImportError:
        export_pack = None
    if export_pack is not None:
        return Path(export_pack(ckpt, pack, precision=precision, verify=False, progress=False))
    graph = build_graph(ckpt, work / f"graph-{precision}", precision)
    return pack_from_graph(graph, pack, precision)


CACHE = Path(__file__).resolve().parent.parent / ".cache" / "runtime-test-packs"
VARIED_VERSION = "v3"  # v2+: packs carry the engine graph (model.memo.onnx)


def varied_checkpoint(tiny_dir: Path, out: Path, noise: float = 0.15, seed: int = 0) -> Path:
    """tiny-random with seeded noise on its weights: the pristine random init greedily repeats one token, which
    would make batched/unbatched/torch comparisons pass trivially; this one emits varied tokens."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(tiny_dir)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" not in name:
                p.add_(torch.randn(p.shape, generator=g) * noise)
    with atomic_dir(out) as tmp:
        m.save_pretrained(tmp)
        for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            if (tiny_dir / f).is_file():
                shutil.copy(tiny_dir / f, tmp / f)
    return out


def varied_pack(tiny_dir: Path) -> tuple[Path, Path]:
    """(checkpoint, fp32 pack) of the varied tiny model, cached across test runs under .cache/."""
    root = CACHE / f"tiny-varied-{VARIED_VERSION}"
    ckpt = varied_checkpoint(tiny_dir, root / "ckpt")
    pack = root / "pack-fp32"
    if not (pack / "manifest.json").is_file():
        try:
            from memo_edge.export import export_pack
        except ImportError:  # export not installed: the same builder graph with a hand-written manifest
            pack_from_graph(build_graph(ckpt, root / "graph-fp32", "fp32"), pack, "fp32")
        else:
            export_pack(ckpt, pack, precision="fp32", verify=False, progress=False)
    return ckpt, pack


def smollm2_pack(smollm2_dir: Path, precision: str = "int4") -> Path:
    """The real SmolLM2 exported at `precision`, cached across test runs under .cache/."""
    return make_pack(smollm2_dir, CACHE / "smollm2", precision)
