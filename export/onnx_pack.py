"""ONNX packs: the builder's graph + tokenizer + genai_config.json + a manifest that describes all of it."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import memo_edge
from memo_edge.pack import Generation, Manifest, OnnxIO, Pack

from .checkpoint import Checkpoint
from .config import ExportConfig
from .describe import memory_prompt, model_info, provenance, reflections_path, special_tokens
from .onnx_build import build_onnx
from .report import Reporter

ROLES = {
    "model": "model.onnx",
    "weights": "model.onnx.data",
    "tokenizer": "tokenizer.json",
    "tokenizer_config": "tokenizer_config.json",
    "genai_config": "genai_config.json",
    "chat_template": "chat_template.jinja",
    "engine_model": "model.memo.onnx",
}
# Where the graph runs when verified here: fp16 graphs target CUDA and are only loaded on CPU when possible.
CPU = "CPUExecutionProvider"


def onnx_io(genai_config: dict) -> OnnxIO:
    dec = genai_config["model"]["decoder"]
    i, o = dec["inputs"], dec["outputs"]
    return OnnxIO(
        input_ids=i["input_ids"],
        attention_mask=i["attention_mask"],
        position_ids=i.get("position_ids"),
        past_key=i["past_key_names"],
        past_value=i["past_value_names"],
        logits=o["logits"],
        present_key=o["present_key_names"],
        present_value=o["present_value_names"],
    )


def _stop_in_genai_config(root: Path, stop_ids: list[int]) -> dict:
    """onnxruntime-genai stops on model.eos_token_id: make it the memory prompt's stop ids, so the pack
    answers the same way there as in memo-edge's runtime."""
    path = root / "genai_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    if stop_ids:
        cfg["model"]["eos_token_id"] = stop_ids if len(stop_ids) > 1 else stop_ids[0]
    path.write_text(json.dumps(cfg, indent=4) + "\n", encoding="utf-8")
    return cfg


def write_onnx_pack(ckpt: Checkpoint, root: Path, cfg: ExportConfig, rep: Reporter) -> Manifest:
    t = time.perf_counter()
    with rep.step(f"building the {cfg.precision} ONNX graph (onnxruntime-genai model builder)"):
        notes = build_onnx(ckpt, root, cfg.precision, cfg.block_size, cfg.quant_algo)
    build_s = time.perf_counter() - t
    prompt, prompt_source = memory_prompt(ckpt)
    special = special_tokens(ckpt, prompt)
    genai = _stop_in_genai_config(root, special.stop_token_ids)
    files = {role: name for role, name in ROLES.items() if (root / name).is_file()}
    prov = provenance(ckpt)
    prov["memory_prompt_source"] = prompt_source
    export_info = {
        "build_s": round(build_s, 2),
        "size_bytes": sum(f.stat().st_size for f in root.iterdir() if f.is_file()),
        **notes,
    }
    if cfg.precision in ("int8", "int4"):
        export_info.update(block_size=cfg.block_size, quant_algo=cfg.quant_algo)
    manifest = Manifest(
        memo_edge_version=memo_edge.__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        kind="onnx",
        precision=cfg.precision,
        model=model_info(ckpt),
        files=files,
        onnx_io=onnx_io(genai),
        prompt=prompt,
        generation=Generation(),
        special_tokens=special,
        provenance=prov,
        metrics={"export": export_info},
    )
    if cfg.verify:
        from .checks import verify_onnx_pack

        metrics, providers = verify_onnx_pack(
            Pack(root, manifest), ckpt, cfg, reflections_path(ckpt, cfg.reflections), rep
        )
        manifest = manifest.model_copy(
            update={"metrics": {**manifest.metrics, **metrics}, "providers_tested": providers}
        )
    return manifest
