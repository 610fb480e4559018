"""Bad checkpoints and environments: one-line MemoError naming the file, and never a pack left behind."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memo_edge.errors import MemoError
from memo_edge.export import export_pack


def _ckpt(tiny_dir: Path, dst: Path, copy_weights: bool = False) -> Path:
    dst.mkdir()
    for f in tiny_dir.iterdir():
        if f.suffix == ".safetensors" and not copy_weights:
            (dst / f.name).symlink_to(f)
        else:
            shutil.copy(f, dst / f.name)
    return dst


def _fails(ckpt: Path, out: Path, match: str, **kw) -> str:
    with pytest.raises(MemoError, match=match) as e:
        export_pack(ckpt, out, progress=False, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    assert not out.exists(), "a failed export must not leave a pack"
    assert not list(out.parent.glob(f".{out.name}.*")), "nor a temp directory"
    return msg


def _edit_config(ckpt: Path, **changes) -> None:
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg.update(changes)
    (ckpt / "config.json").write_text(json.dumps(cfg))


def test_unsupported_architecture(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    _edit_config(ck, architectures=["GPT2LMHeadModel"], model_type="gpt2")
    msg = _fails(ck, tmp_path / "out", "not supported")
    assert "config.json" in msg and "GPT2LMHeadModel" in msg and "LlamaForCausalLM" in msg


def test_missing_tokenizer(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "tokenizer.json").unlink()
    assert "tokenizer.json" in _fails(ck, tmp_path / "out", "missing")


def test_unmerged_lora_adapter(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 16}))
    msg = _fails(ck, tmp_path / "out", "un-merged LoRA")
    assert "memo train --merge" in msg


def test_missing_checkpoint_and_config(tmp_path):
    assert "not found" in _fails(tmp_path / "nope", tmp_path / "out", "not found")
    (tmp_path / "empty").mkdir()
    assert "config.json" in _fails(tmp_path / "empty", tmp_path / "out", "not a model checkpoint")


def test_truncated_weights(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "model.safetensors").unlink()
    data = (tiny_dir / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert "model.safetensors" in _fails(ck, tmp_path / "out", "corrupt")


def test_garbage_weights_header(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "model.safetensors").unlink()
    (ck / "model.safetensors").write_bytes(b"\xff" * 64)
    assert "model.safetensors" in _fails(ck, tmp_path / "out", "corrupt")


def test_nan_weights(tiny_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    ck = _ckpt(tiny_dir, tmp_path / "ck")
    tensors = load_file(str(tiny_dir / "model.safetensors"))
    name = sorted(tensors)[3]
    tensors[name][0, ...] = float("nan")
    (ck / "model.safetensors").unlink()
    save_file(tensors, str(ck / "model.safetensors"), metadata={"format": "pt"})
    msg = _fails(ck, tmp_path / "out", "NaN")
    assert name in msg and "model.safetensors" in msg


def test_pickle_only_checkpoint(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "model.safetensors").unlink()
    (ck / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    assert "pytorch_model.bin" in _fails(ck, tmp_path / "out", "pickle")


def test_weights_that_do_not_match_the_config(tiny_dir, tmp_path):
    """transformers would random-initialise the missing layer and the export would look fine: refuse it."""
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    _edit_config(ck, num_hidden_layers=3)
    msg = _fails(ck, tmp_path / "out", "missing")
    assert "model.layers.2." in msg and "model.safetensors" in msg
    _edit_config(ck, num_hidden_layers=2, intermediate_size=512)
    assert "shape" in _fails(ck, tmp_path / "out", "shape")


@pytest.mark.slow
def test_interrupted_export_keeps_the_old_pack(tiny_dir, tmp_path):
    """Ctrl-C in the middle of the build: the previous pack is untouched and no temp directory remains."""
    from memo_edge.pack import Pack

    out = export_pack(tiny_dir, tmp_path / "out", precision="int4", verify=False, progress=False)
    before = (out / "manifest.json").read_text()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memo_edge", "export", str(tiny_dir), "-o", str(out), "--precision", "fp32"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C in a terminal: a runner started in the background (CI, `cmd &`) passes SIGINT
        # down as ignored, and Python then keeps ignoring it; restore the default in the child.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.*.partial/model.onnx*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert (out / "manifest.json").read_text() == before
    Pack.open(out)
    assert not list(tmp_path.glob(".out.*"))


@pytest.mark.slow
def test_not_enough_disk(tiny_dir, tmp_path):
    """A real 4 MB tmpfs: the size check refuses before writing anything."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        msg = _fails(tiny_dir, mnt / "pack", "not enough disk space", precision="fp32")
        assert str(mnt) in msg and "MB free" in msg
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow
def test_cli_error_is_one_line_exit_2(tiny_dir, tmp_path):
    ck = _ckpt(tiny_dir, tmp_path / "ck")
    (ck / "adapter_config.json").write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-m", "memo_edge", "export", str(ck), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_output_that_is_not_a_pack_is_never_replaced(tiny_dir, tmp_path):
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "thesis.txt").write_text("precious")
    with pytest.raises(MemoError, match="not a memory pack"):
        export_pack(tiny_dir, docs, precision="int4", verify=False, progress=False)
    assert (docs / "thesis.txt").read_text() == "precious"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(MemoError, match="not a directory"):
        export_pack(tiny_dir, f, precision="int4", verify=False, progress=False)
