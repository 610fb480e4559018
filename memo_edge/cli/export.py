"""memo export"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, require_extra


@app.command("export")
def export(
    checkpoint: Path = typer.Argument(..., help="Trained (merged) HF checkpoint directory, e.g. the output of memo train."),
    output: Path = typer.Option(..., "-o", "--output", help="Pack directory to write (replaced atomically)."),
    format: str = typer.Option("onnx", "--format", help="onnx (memo-edge runtime, onnxruntime-genai) | gguf (llama.cpp, "
                               "Ollama) | mlc (needs mlc_llm installed)."),
    precision: str = typer.Option("int8", "--precision", help="onnx: fp32 | fp16 (CUDA) | int8 | int4 (MatMulNBits, block 32). "
                                  "gguf: f32 | f16 | q8_0. mlc: q4f16_1 | q4f32_1 | q0f16 | q0f32."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check fp32 greedy parity with torch and measure "
                                "recall of int8/int4 vs fp32 on held-out reflections; results go into the manifest."),
    reflections: Path = typer.Option(None, "--reflections", help="Reflections JSONL for the recall check (default: the "
                                     "checkpoint's train_reflections.jsonl, else the file memo_train.json names)."),
    heldout: int = typer.Option(32, "--heldout", help="How many reflections the recall check samples (0 = skip)."),
    quant_algo: str = typer.Option("default", "--quant-algo", help="int8/int4 weight quantization: default (round to "
                                   "nearest) | rtn | k_quant (llama.cpp-style; slower to build, often closer to fp32)."),
    zip_: bool = typer.Option(False, "--zip", help="Also write PACK_DIR.memopack (one zip file) and print its path."),
    sign: Path = typer.Option(None, "--sign", help="Sign the pack with this Ed25519 private key (memo keygen): "
                              "signature.json over manifest.json; load with --trusted-key KEY.pub to require it."),
):
    """Export a checkpoint to a memory pack: model files, tokenizer, and a manifest with sha256 of every file."""
    require_extra("export", "torch", "transformers")
    from memo_edge.export import export_pack

    out = export_pack(checkpoint, output, format=format, precision=precision, verify=verify,
                      reflections=reflections, heldout=heldout, quant_algo=quant_algo, zip=zip_, sign=sign)
    typer.echo(str(out))


@app.command("keygen")
def keygen(key: Path = typer.Argument(..., help="Private key file to create (KEY.pub is written next to it).")):
    """Make an Ed25519 key pair for signing packs: KEY (private, mode 0600: keep it secret) and KEY.pub (give it to
    whoever loads your packs, for --trusted-key)."""
    from memo_edge.signing import generate, key_id, load_public_key

    priv, pub = generate(key)
    typer.echo(f"{priv} (private; memo export --sign {priv})\n{pub} (public; memo ask --trusted-key {pub}); "
               f"key id {key_id(load_public_key(pub))}")
