"""Resume state inside CKPT_DIR/.memo-train: written atomically, read back after a crash or SIGKILL.

Layout while training (none of it looks like a finished checkpoint: no config.json at CKPT_DIR's top level):
  .memo-train/state/     accelerate save_state (model, optimizer, scheduler, every RNG) + progress.json
  .memo-train/best/      weights of the best epoch so far (save_pretrained)
  .memo-train/metrics.jsonl
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from memo_edge.atomic import write_json

WORK = ".memo-train"


def work_dir(out_dir: Path) -> Path:
    return Path(out_dir) / WORK


def load_progress(work: Path) -> dict | None:
    for name in ("state", "state.old"):
        p = work / name / "progress.json"
        if p.is_file():
            return {**json.loads(p.read_text()), "_dir": str(work / name)}
    return None


def _swap_in(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def save_state(accelerator, work: Path, progress: dict) -> None:
    """All processes write into one temp dir; the main process renames it into place when it is complete."""
    tmp = work / "state.partial"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(tmp), safe_serialization=False)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            write_json(tmp / "progress.json", progress)
            _swap_in(tmp, work / "state")
    except BaseException:  # e.g. a full disk: leave the last good state, not half a new one
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()


def save_weights(accelerator, model, tokenizer, dest: Path) -> None:
    """Full (or adapter) weights of the current model, atomically, as a loadable HF directory."""
    tmp = dest.with_name(dest.name + ".partial")
    state = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            accelerator.unwrap_model(model).save_pretrained(str(tmp), state_dict=state)
            tokenizer.save_pretrained(str(tmp))
            _swap_in(tmp, dest)
        except BaseException:  # e.g. a full disk: never leave best.partial behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    accelerator.wait_for_everyone()


def append_metrics(work: Path, rows: dict | list[dict]) -> None:
    """Append lines; no fsync (a lost tail after a crash is re-logged: resume truncates to its checkpoint step)."""
    rows = [rows] if isinstance(rows, dict) else rows
    with (work / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


def truncate_metrics(work: Path, step: int) -> None:
    """After a resume, drop lines logged after the checkpoint (they will be logged again)."""
    p = work / "metrics.jsonl"
    if not p.is_file():
        return
    keep = []
    for ln in p.read_text().splitlines():
        try:
            if json.loads(ln).get("step", 0) <= step:
                keep.append(ln)
        except json.JSONDecodeError:  # a line cut by the kill
            continue
    p.write_text("".join(ln + "\n" for ln in keep))
