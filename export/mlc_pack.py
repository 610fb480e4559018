"""MLC packs: a thin driver over `mlc_llm convert_weight` + `mlc_llm gen_config` (UNTESTED on these machines).

mlc_llm is not installable from PyPI (only 0.1 placeholders there); it ships from mlc.ai's wheel index. When it
is importable we run its two commands and describe the result in a manifest; otherwise one line says how to
install it. Compiling the model library (`mlc_llm compile`, or JIT at load) is left to mlc_llm on the target.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import memo_edge
from memo_edge.errors import MemoError
from memo_edge.pack import Generation, Manifest
from memo_edge.prompt import MemoryPrompt

from .checkpoint import Checkpoint
from .config import ExportConfig
from .describe import memory_prompt, model_info, provenance, special_tokens
from .report import Reporter

INSTALL = "pip install --pre -f https://mlc.ai/wheels mlc-llm-nightly-cpu mlc-ai-nightly-cpu"


def require_mlc() -> None:
    if importlib.util.find_spec("mlc_llm") is None:
        raise MemoError(f"--format mlc needs mlc_llm, which is not on PyPI; install it with: {INSTALL}")


def conv_template(prompt: MemoryPrompt, stop_ids: list[int]) -> dict:
    """MLC's conversation template for the memory prompt: one system message, one user turn, no history.

    MLC renders system_template + role + role_content_sep + message + seps; the memory prompt is split the same
    way for ChatML-shaped prompts (the shipped base models' format). Other shapes are refused, not guessed.
    """
    user, asst = "<|im_start|>user", "<|im_start|>assistant"
    if not (prompt.prefix.endswith(f"{user}\n") and prompt.suffix == f"{prompt.answer_end}{asst}\n"):
        raise MemoError("memory prompt: --format mlc supports ChatML-shaped prompts only")
    system_part = prompt.prefix[: -len(f"{user}\n")]
    return {
        "name": "memo-memory",
        "system_template": system_part.replace(prompt.system, "{system_message}") if prompt.system else system_part,
        "system_message": prompt.system,
        "roles": {"user": user, "assistant": asst},
        "seps": [prompt.answer_end],
        "role_content_sep": "\n",
        "role_empty_sep": "\n",
        "stop_str": list(prompt.stop),
        "stop_token_ids": stop_ids,
        "messages": [],
    }


def _run(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "mlc_llm", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise MemoError(f"mlc_llm {args[0]} failed ({last})")


def write_mlc_pack(ckpt: Checkpoint, root: Path, cfg: ExportConfig, rep: Reporter) -> Manifest:
    require_mlc()
    prompt, source = memory_prompt(ckpt)
    special = special_tokens(ckpt, prompt)
    q = cfg.precision
    with rep.step(f"mlc_llm convert_weight --quantization {q}"):
        _run(["convert_weight", str(ckpt.root), "--quantization", q, "-o", str(root)])
    with rep.step("mlc_llm gen_config"):
        _run(["gen_config", str(ckpt.root), "--quantization", q, "--conv-template", "chatml", "-o", str(root)])
    chat_cfg = root / "mlc-chat-config.json"
    data = json.loads(chat_cfg.read_text(encoding="utf-8"))
    data["conv_template"] = conv_template(prompt, special.stop_token_ids)
    chat_cfg.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if not (root / "tokenizer.json").is_file():
        shutil.copy(ckpt.root / "tokenizer.json", root / "tokenizer.json")
    prov = provenance(ckpt)
    prov["memory_prompt_source"] = source
    return Manifest(
        memo_edge_version=memo_edge.__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        kind="mlc",
        precision=q,
        model=model_info(ckpt),
        files={"model": "mlc-chat-config.json", "tokenizer": "tokenizer.json"},
        prompt=prompt,
        generation=Generation(),
        special_tokens=special,
        provenance=prov,
        metrics={"verify": {"status": "skipped", "reason": "MLC packs are not run by memo-edge's checks"}},
    )
