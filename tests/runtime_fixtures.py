"""Packs for runtime tests, made by the real exporter and cached across test runs under .cache/.

A cached pack is found by a key over what made it (the exporter's and the pack format's source, this file, the
model's config and weights size), so a change to any of them makes a new pack: no version to bump by hand.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from memo_edge.atomic import atomic_dir

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "runtime-test-packs"
MAKERS = [
    *sorted((REPO / "export").glob("*.py")),
    REPO / "memo_edge" / "pack.py",
    REPO / "memo_edge" / "prompt.py",
    Path(__file__),
]


def pack_key(ckpt_dir: Path, *params) -> str:
    """What a cached pack depends on: the code that writes packs and the checkpoint it is made from."""
    h = hashlib.sha256(repr(params).encode())
    for path in MAKERS:
        h.update(path.read_bytes())
    h.update((ckpt_dir / "config.json").read_bytes())
    h.update(str(sum(f.stat().st_size for f in ckpt_dir.glob("*.safetensors"))).encode())
    return h.hexdigest()[:12]


def make_pack(ckpt: Path, work: Path, precision: str = "fp32") -> Path:
    """ckpt exported at `precision` into work/ (kept there while its key holds)."""
    from memo_edge.export import export_pack

    pack = work / f"pack-{precision}-{pack_key(ckpt, precision)}"
    if not (pack / "manifest.json").is_file():
        _sweep(work, f"pack-{precision}*", keep=pack)
        export_pack(ckpt, pack, precision=precision, verify=False, progress=False)
    return pack


def _sweep(folder: Path, pattern: str, keep: Path) -> None:
    """Packs made by code that has changed since: never used again."""
    for old in folder.glob(pattern) if folder.is_dir() else []:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def varied_checkpoint(tiny_dir: Path, out: Path, noise: float = 0.15, seed: int = 0) -> Path:
    """tiny-random with seeded noise on its weights: the pristine random init greedily repeats one token, which
    would make batched/unbatched/torch comparisons pass trivially; this one emits varied tokens."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.add_(torch.randn(param.shape, generator=gen) * noise)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            if (tiny_dir / f).is_file():
                shutil.copy(tiny_dir / f, tmp / f)
    return out


def varied_pack(tiny_dir: Path) -> tuple[Path, Path]:
    """(checkpoint, fp32 pack) of the varied tiny model, cached across test runs under .cache/."""
    root = CACHE / f"tiny-varied-{pack_key(tiny_dir, 'varied', 0.15, 0)}"
    if not root.is_dir():
        _sweep(CACHE, "tiny-varied-*", keep=root)
    ckpt = varied_checkpoint(tiny_dir, root / "ckpt")
    return ckpt, make_pack(ckpt, root)


def smollm2_pack(smollm2_dir: Path, precision: str = "int4") -> Path:
    """The real SmolLM2 exported at `precision`, cached across test runs under .cache/."""
    return make_pack(smollm2_dir, CACHE / "smollm2", precision)
