"""`memo build`: corpus -> reflections -> fine-tuned MEMORY checkpoint -> memory pack.

Each stage writes a file/directory on disk (atomically) and is skipped on a re-run when its inputs are unchanged,
so an interrupted build resumes where it stopped (training resumes from its own step checkpoints).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .atomic import ensure_dir, write_json
from .config import BuildConfig
from .pack import MANIFEST, sha256_file


def _state_path(cfg: BuildConfig) -> Path:
    return cfg.work / "build-state.json"


def _load_state(cfg: BuildConfig) -> dict:
    p = _state_path(cfg)
    return json.loads(p.read_text()) if p.is_file() else {}


def build(cfg: BuildConfig, log=print, progress: bool = True) -> Path:
    from memo_edge.export import export_pack
    from memo_edge.synthesis import synthesize
    from memo_edge.training import train
    from memo_edge.training.estimate import card_line, for_reflections

    from memo_edge.models import resolve_model

    ensure_dir(cfg.work)
    ensure_dir(cfg.out.parent)
    resolve_model(cfg.base)  # fail on an unknown base before any work; pulls a known one on first use
    state = _load_state(cfg)
    timings: dict[str, float] = {}
    reflections = cfg.work / "reflections.jsonl"
    ckpt = cfg.work / "checkpoint"

    t = time.perf_counter()
    log(f"[1/3] synthesize reflections from {cfg.corpus} ({cfg.generator} generator)")
    synth_cfg = {"generator": cfg.generator, **cfg.synthesis}
    card = synthesize(cfg.corpus, reflections, _stage_config("synthesis", synth_cfg), progress=progress,
                      training_estimate=for_reflections)
    timings["synthesize_s"] = time.perf_counter() - t
    log(f"      {card.get('reflections', '?')} reflections -> {reflections}")
    log(f"      {card_line(card['training_estimate'])}")

    t = time.perf_counter()
    refl_hash = sha256_file(reflections)
    train_cfg = {"base": cfg.base, **cfg.train}
    train_key = {"reflections": refl_hash, "train": train_cfg}
    if state.get("train") == train_key and (ckpt / "memo_train.json").is_file():
        log(f"[2/3] train: up to date ({ckpt})")
    else:
        log(f"[2/3] train the MEMORY model (base {cfg.base})")
        train(reflections, ckpt, _stage_config("training", train_cfg), progress=progress)
        state["train"] = train_key
        write_json(_state_path(cfg), state)
    timings["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    ckpt_hash = _ckpt_fingerprint(ckpt)
    export_key = {"checkpoint": ckpt_hash, "precision": cfg.precision, "export": cfg.export}
    if state.get("export") == export_key and (cfg.out / MANIFEST).is_file():
        log(f"[3/3] export: up to date ({cfg.out})")
    else:
        log(f"[3/3] export ONNX ({cfg.precision}) -> {cfg.out}")
        export_pack(ckpt, cfg.out, format="onnx", precision=cfg.precision, progress=progress, **cfg.export)
        state["export"] = export_key
        write_json(_state_path(cfg), state)
    timings["export_s"] = time.perf_counter() - t
    log("build times: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in timings.items()))
    return cfg.out


def _ckpt_fingerprint(ckpt: Path) -> str:
    # The weights file identifies the checkpoint; hashing 0.5 GB costs ~0.3 s, cheap next to an export.
    weights = sorted(ckpt.glob("*.safetensors"))
    return ",".join(sha256_file(w)[:16] for w in weights)


def _stage_config(stage: str, options: dict):
    """Validate options with the stage's own config class (imported lazily)."""
    from pydantic import ValidationError

    from .errors import MemoError, field_error

    if stage == "synthesis":
        from memo_edge.synthesis.config import SynthesisConfig as C
    else:
        from memo_edge.training.config import TrainConfig as C
    try:
        return C(**options)
    except ValidationError as e:
        field, msg = field_error(e)
        raise MemoError(f"build config [{stage}]: field '{field}': {msg}") from None
