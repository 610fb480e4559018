"""memo build | memo demo"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, require_extra


@app.command("build")
def build_(
    corpus: Path = typer.Argument(None, help="Corpus folder (.md/.txt/.jsonl). May come from --config instead."),
    out: Path = typer.Option(None, "-o", "--out", help="Pack directory to write."),
    config: Path = typer.Option(None, "--config", help="TOML build config with synthesis, train and export tables."),
    base: str = typer.Option(None, help="MEMORY base model name or checkpoint dir (default: smollm2-135m-instruct)."),
    generator: str = typer.Option(None, help="Reflection generator (default: extractive, no LLM)."),
    precision: str = typer.Option(None, help="fp32 | fp16 | int8 | int4 (default: int8)."),
    work_dir: Path = typer.Option(None, help="Reflections + checkpoint go here (default: <out>.build)."),
):
    """Corpus -> reflections -> fine-tuned MEMORY model -> ONNX memory pack, resumable."""
    require_extra("build", "torch", "transformers")
    from memo_edge.build import build
    from memo_edge.config import load_build_config

    cfg = load_build_config(config, corpus=corpus, out=out, base=base, generator=generator, precision=precision,
                            work_dir=work_dir)
    path = build(cfg, log=lambda m: typer.echo(m, err=True))
    typer.echo(str(path))


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-build"), "--out", help="Where the demo build goes."),
    base: str = typer.Option("smollm2-135m-instruct", help="MEMORY base model."),
    precision: str = typer.Option("int8", help="Pack precision."),
    show: int = typer.Option(8, help="How many demo questions to print answers for."),
):
    """Build a pack from the shipped demo corpus, ask demo questions, print answers, latency and EM/F1."""
    require_extra("demo", "torch", "transformers")
    from memo_edge.demo_run import run_demo

    run_demo(out, base=base, precision=precision, show=show)
