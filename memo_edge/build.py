"""`memo build` (application layer): corpus -> reflections -> fine-tuned MEMORY checkpoint -> memory pack.

Each stage writes a file/directory on disk (atomically) and is skipped on a re-run when its inputs are unchanged,
so an interrupted build resumes where it stopped (training resumes from its own step checkpoints).
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

from memo_edge.export import export_pack
from memo_edge.synthesis import synthesize
from memo_edge.training import train
from memo_edge.training.estimate import card_line, for_reflections

from .atomic import ensure_dir, write_json
from .config import BuildConfig
from .models import resolve_model
from .pack import MANIFEST, sha256_file


def _state_path(cfg: BuildConfig) -> Path:
    return cfg.work / "build-state.json"


def _load_state(cfg: BuildConfig) -> dict:
    p = _state_path(cfg)
    return json.loads(p.read_text()) if p.is_file() else {}


def training_key(cfg: BuildConfig, reflections_sha: str, corpus_fp: str | None = None) -> dict:
    """What a trained checkpoint depends on: the reflections and every training field's effective value (given,
    from the preset, or default), so a changed default or preset retrains; and the corpus when its text is trained
    on."""
    key = {"reflections": reflections_sha, "train": cfg.train.model_dump(mode="json")}
    if cfg.train.text_fraction:
        key["corpus"] = corpus_fp
    return key


def exporting_key(cfg: BuildConfig, checkpoint_sha: str) -> dict:
    options = cfg.export.model_dump(mode="json", exclude={"format", "precision"})
    return {"checkpoint": checkpoint_sha, "precision": cfg.precision, "export": options}


def build(cfg: BuildConfig, log=print, progress: bool = True) -> Path:
    created = not cfg.work.exists()
    try:
        return _build(cfg, log, progress)
    except BaseException:
        # a build that failed before writing anything (a missing corpus, an unknown base) leaves no empty work dir
        if created and cfg.work.is_dir() and not any(cfg.work.iterdir()):
            cfg.work.rmdir()
        raise


def _build(cfg: BuildConfig, log, progress: bool) -> Path:
    ensure_dir(cfg.work)
    ensure_dir(cfg.out.parent)
    resolve_model(cfg.base)  # fail on an unknown base before any work; pulls a known one on first use
    state = _load_state(cfg)
    timings: dict[str, float] = {}
    reflections = cfg.work / "reflections.jsonl"
    ckpt = cfg.work / "checkpoint"

    t = time.perf_counter()
    log(f"[1/3] synthesize reflections from {cfg.corpus} ({cfg.generator} generator)")
    cost = functools.partial(for_reflections, train=cfg.train)  # the card's figure for this build's own [train]
    card = synthesize(cfg.corpus, reflections, cfg.synthesis, progress=progress, training_estimate=cost)
    timings["synthesize_s"] = time.perf_counter() - t
    log(f"      {card.get('reflections', '?')} reflections -> {reflections}")
    log(f"      {card_line(card['training_estimate'])}")

    t = time.perf_counter()
    train_key = training_key(cfg, sha256_file(reflections), card.get("corpus_fingerprint"))
    if state.get("train") == train_key and (ckpt / "memo_train.json").is_file():
        log(f"[2/3] train: up to date ({ckpt})")
    else:
        log(f"[2/3] train the MEMORY model (base {cfg.base})")
        train(reflections, ckpt, cfg.train, progress=progress, corpus=cfg.corpus)
        state["train"] = train_key
        write_json(_state_path(cfg), state)
    timings["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    export_key = exporting_key(cfg, _ckpt_fingerprint(ckpt))
    if state.get("export") == export_key and (cfg.out / MANIFEST).is_file():
        log(f"[3/3] export: up to date ({cfg.out})")
    else:
        log(f"[3/3] export ONNX ({cfg.precision}) -> {cfg.out}")
        export_pack(ckpt, cfg.out, progress=progress, **cfg.export.model_dump())
        state["export"] = export_key
        write_json(_state_path(cfg), state)
    timings["export_s"] = time.perf_counter() - t
    log("build times: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in timings.items()))
    return cfg.out


def _ckpt_fingerprint(ckpt: Path) -> str:
    # The weights file identifies the checkpoint; hashing 0.5 GB costs ~0.3 s, cheap next to an export.
    weights = sorted(ckpt.glob("*.safetensors"))
    return ",".join(sha256_file(w)[:16] for w in weights)
