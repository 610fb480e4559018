"""export_pack: checkpoint directory -> memory pack directory (written atomically), optionally zipped."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from memo_edge.atomic import atomic_dir
from memo_edge.errors import MemoError
from memo_edge.pack import MANIFEST, SUFFIX, finalize, zip_pack

from .config import ExportConfig


def make_config(format: str, precision: str, verify: bool, **options: Any) -> ExportConfig:
    try:
        return ExportConfig(format=format, precision=precision, verify=verify, **options)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "precision"
        raise MemoError(f"export option '{field}': {err['msg'].removeprefix('Value error, ')}") from None


def export_pack(
    ckpt_dir: str | Path,
    out_dir: str | Path,
    *,
    format: str = "onnx",
    precision: str = "int8",
    verify: bool = True,
    progress: bool = True,
    **options: Any,
) -> Path:
    """Export a merged HF checkpoint (config.json, *.safetensors, tokenizer files, memory_prompt.json,
    memo_train.json) into a verified memory pack at out_dir. Options: the fields of ExportConfig.

    Returns the pack directory (or the `.memopack` file when zip=True). Nothing is left at out_dir on failure.
    """
    from .abstain import add_known_terms
    from .checkpoint import check_disk_space, check_weights, inspect_checkpoint
    from .report import Reporter

    cfg = make_config(format, precision, verify, **options)
    out = Path(out_dir).expanduser()
    rep = Reporter(progress)
    t0 = time.perf_counter()
    if cfg.format == "mlc":
        from .mlc_pack import require_mlc

        require_mlc()
    _check_replaceable(out)
    key = None
    if cfg.sign is not None:  # read the key before minutes of export work, not after
        from memo_edge.signing import load_private_key

        key = load_private_key(cfg.sign)
    ckpt = inspect_checkpoint(ckpt_dir, cfg.format)
    check_disk_space(ckpt, out, cfg.precision, copies=2 if cfg.zip else 1)
    check_weights(ckpt)
    try:
        with atomic_dir(out, overwrite=cfg.overwrite) as tmp:
            manifest = add_known_terms(tmp, _writer(cfg.format)(ckpt, tmp, cfg, rep), ckpt, cfg, rep)
            manifest.metrics.setdefault("export", {})["total_s"] = round(time.perf_counter() - t0, 2)
            finalize(tmp, manifest)
            if key is not None:
                from memo_edge.signing import sign_pack

                rep.log(f"signed by {sign_pack(tmp, key)}")
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise MemoError(f"{out.parent}: disk full while writing the pack (nothing was left behind)") from None
    rep.log(
        f"pack written: {out} ({cfg.format} {cfg.precision}, {_size_mb(out):.1f} MB, {time.perf_counter() - t0:.1f}s)"
    )
    if cfg.zip:
        z = zip_pack(out, out.with_name(out.name + SUFFIX) if out.suffix != SUFFIX else out.with_suffix(SUFFIX))
        rep.log(f"zipped: {z}")
        return z
    return out


def _check_replaceable(out: Path) -> None:
    """The pack directory is replaced as a whole: never let a typo replace a directory that is not a pack."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise MemoError(f"{out}: exists and is not a directory (expected a pack directory path)")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise MemoError(f"{out}: exists and is not a memory pack (no {MANIFEST}); refusing to replace it")


def _writer(fmt: str):
    if fmt == "onnx":
        from .onnx_pack import write_onnx_pack

        return write_onnx_pack
    if fmt == "gguf":
        from .gguf_pack import write_gguf_pack

        return write_gguf_pack
    from .mlc_pack import write_mlc_pack

    return write_mlc_pack


def _size_mb(root: Path) -> float:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6
