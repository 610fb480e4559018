"""`memo merge`: combine memories trained from the same base by task-vector arithmetic (as in the MeMo paper).

task vector tau_i = theta_i - theta_base.
- linear: theta = base + sum_i w_i * tau_i (w_i = 1/n by default: plain weight averaging);
- ties (Yadav et al. 2023): per tensor keep each tau_i's `density` share of largest-magnitude entries, elect a sign
  per entry (sign of the sum of the kept entries, + on a tie), average the weighted kept entries that carry it,
  theta = base + merged (weights default to 1).
Both are peft's (`peft.utils.merge_utils.ties`, `.task_arithmetic`); tests/test_training_lora.py checks TIES
against a reference written apart from both.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch
from peft.utils import merge_utils

from memo_edge.atomic import atomic_dir, write_json, write_jsonl
from memo_edge.errors import MemoError
from memo_edge.prompt import MemoryPrompt
from memo_edge.records import load_reflections


def _provenance(ckpt: Path) -> dict:
    p = ckpt / "memo_train.json"
    if not p.is_file():
        raise MemoError(f"{ckpt}: not a memory checkpoint (no memo_train.json; made by memo train?)")
    prov = json.loads(p.read_text())
    if not prov.get("merged", True):
        raise MemoError(f"{ckpt}: holds a LoRA adapter only; retrain with --merge to get full weights")
    return prov


def merge_state_dicts(base: dict, models: list[dict], method: str, density: float, weights: list[float]) -> dict:
    """base + the models' task vectors merged per tensor by peft's merge utilities (TIES, or task arithmetic)."""
    w = torch.tensor(weights, dtype=torch.float32)
    out = {}
    for name, b in base.items():
        if not torch.is_floating_point(b):
            out[name] = models[0][name]
            continue
        taus = [m[name].float() - b.float() for m in models]
        tau = merge_utils.ties(taus, w, density) if method == "ties" else merge_utils.task_arithmetic(taus, w)
        out[name] = (b.float() + tau).to(b.dtype)
    return out


def _load(path: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path))


def _sample(ckpt: Path, n: int, seed: int):
    p = ckpt / "train_reflections.jsonl"
    rows = [r for r in load_reflections(p) if r.type != "idk"] if p.is_file() else []
    return random.Random(seed).sample(rows, min(n, len(rows)))


def merge_checkpoints(
    ckpts,
    out_dir,
    method: str = "ties",
    density: float = 0.3,
    weights=None,
    progress: bool = True,
    eval_sample: int = 64,
) -> dict:
    from transformers import AutoTokenizer

    from memo_edge.models import resolve_model

    from .evaluate import recall_report
    from .models import quiet_transformers

    t0 = time.time()
    quiet_transformers()
    ckpts = [Path(c) for c in ckpts]
    if len(ckpts) < 2:
        raise MemoError("memo merge needs at least two checkpoints")
    if method not in ("ties", "linear"):
        raise MemoError(f"--method {method}: expected ties or linear")
    if not 0 < density <= 1:
        raise MemoError(f"--density {density}: expected a share in (0, 1]")
    if weights is None:
        weights = [1.0 / len(ckpts)] * len(ckpts) if method == "linear" else [1.0] * len(ckpts)
    if len(weights) != len(ckpts):
        raise MemoError(f"--weights: {len(weights)} values for {len(ckpts)} checkpoints")
    provs = [_provenance(c) for c in ckpts]
    roots = {p.get("root_base_dir") or p["base_dir"] for p in provs}
    if len(roots) != 1:
        raise MemoError(
            f"checkpoints were trained from different bases ({', '.join(sorted(roots))}); "
            "task vectors only add up over one base"
        )
    base_dir = resolve_model(roots.pop())
    prompts = [(c / "memory_prompt.json").read_text() for c in ckpts]
    prompt = MemoryPrompt.model_validate_json(prompts[0])
    if any(MemoryPrompt.model_validate_json(p) != prompt for p in prompts[1:]):
        raise MemoError("checkpoints use different memory prompts; merge only memories of one template")
    base = _load(base_dir)
    merged_sd = merge_state_dicts(base.state_dict(), [_load(c).state_dict() for c in ckpts], method, density, weights)
    base.load_state_dict(merged_sd)
    tok = AutoTokenizer.from_pretrained(str(ckpts[0]))
    sets = {f"set{i}": _sample(c, eval_sample, i) for i, c in enumerate(ckpts)}
    recall = {}
    for i, c in enumerate(ckpts):
        if sets[f"set{i}"]:
            rep = recall_report(base, tok, prompt, {"train": sets[f"set{i}"]}, 48, 64)
            recall[str(c)] = {"em": rep["train_em"], "f1": rep["train_f1"], "n": len(sets[f"set{i}"])}
    with atomic_dir(out_dir) as tmp:
        base.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        (tmp / "memory_prompt.json").write_text(prompts[0])
        rows, seen = [], set()
        for c in ckpts:
            p = c / "train_reflections.jsonl"
            for r in load_reflections(p) if p.is_file() else []:
                if (r.question, r.answer) not in seen:
                    seen.add((r.question, r.answer))
                    rows.append(r.model_dump())
        write_jsonl(tmp / "train_reflections.jsonl", rows)
        summary = {
            "method": method,
            "density": density,
            "weights": weights,
            "recall": recall,
            "wall_s": round(time.time() - t0, 1),
        }
        write_json(
            tmp / "memo_train.json",
            {
                "format": "memo-train-v1",
                "base": provs[0].get("base"),
                "base_dir": str(base_dir),
                "root_base_dir": str(base_dir),
                "method": "merge",
                "merged": True,
                "merged_from": [str(c) for c in ckpts],
                "memory_prompt_version": prompt.version,
                "metrics": summary,
            },
        )
    return {**summary, "out_dir": str(out_dir)}
