"""memo build | memo demo"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.export.config import ExportConfig
from memo_edge.training.config import TrainConfig
from memo_edge.training.openmp import prefer_sleeping_threads

from .app import app, require_extra
from .export import EXPORT
from .options import Group, config_options
from .synthesize import SYNTHESIS

# Every stage option is a build option too, under its table's name: --synthesis.chunk-words, --train.epochs,
# --export.heldout (the same fields as the --config file's [synthesis], [train], [export] tables).
BUILD_SYNTHESIS = SYNTHESIS.nested("synthesis", flags={"generator": ("--synthesis.generator", "--generator")})
BUILD_TRAIN = Group(TrainConfig, "train", prefix="train.", as_dict=True, flags={"base": ("--train.base", "--base")})
BUILD_EXPORT = EXPORT.nested(
    "export",
    flags={"precision": ("--export.precision", "--precision")},
    exclude={"format": "a build writes the ONNX pack the runtime loads"},
)


@app.command("build")
@config_options(BUILD_SYNTHESIS, BUILD_TRAIN, BUILD_EXPORT)
def build_(
    corpus: Path = typer.Argument(None, help="Corpus folder (.md/.txt/.jsonl/.pdf). May come from --config instead."),
    out: Path = typer.Option(None, "-o", "--out", help="Pack directory to write."),
    config: Path = typer.Option(
        None,
        "--config",
        help="TOML build config: corpus, out, work_dir and [synthesis], "
        "[train], [export] tables of the options below; flags win.",
    ),
    work_dir: Path = typer.Option(None, help="Reflections + checkpoint go here (default: <out>.build)."),
    *,
    synthesis: dict,
    train: dict,
    export: dict,
):
    """Corpus -> reflections -> fine-tuned MEMORY model -> ONNX memory pack, resumable."""
    require_extra("build", "torch", "transformers", "spacy")
    prefer_sleeping_threads()  # before anything imports torch (training/openmp.py)
    # Imported here, not at the top: every verb module is imported for `memo --help`; build loads torch.
    from memo_edge.build import build
    from memo_edge.config import load_build_config

    cfg = load_build_config(
        config, corpus=corpus, out=out, work_dir=work_dir, synthesis=synthesis, train=train, export=export
    )
    path = build(cfg, log=lambda m: typer.echo(m, err=True))
    typer.echo(str(path))


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-build"), "--out", help="Where the demo build goes."),
    base: str = typer.Option(TrainConfig.model_fields["base"].default, help="MEMORY base model."),
    precision: str = typer.Option(ExportConfig.model_fields["precision"].default, help="Pack precision."),
    show: int = typer.Option(8, help="How many demo questions to print answers for."),
):
    """Build a pack from the shipped demo corpus, ask demo questions, print answers, latency and EM/F1."""
    require_extra("demo", "torch", "transformers", "spacy")
    prefer_sleeping_threads()
    from memo_edge.demo_run import run_demo

    run_demo(out, base=base, precision=precision, show=show)
