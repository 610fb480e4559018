"""memo synthesize CORPUS_DIR -o REFLECTIONS.jsonl [--generator extractive|openai|hf]"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.synthesis.config import SynthesisConfig

from .app import app
from .options import Group, config_options

SYNTHESIS = Group(
    SynthesisConfig,
    "config",
    flags={
        "generator": ("--generator", "-g"),
        "generator_urls": "--generator-url",
        "concurrency": ("--concurrency", "-j"),
        "timeout_s": "--timeout",
        "groups_file": "--groups",
        "cache_path": "--cache",
    },
)


@app.command("synthesize")
@config_options(SYNTHESIS)
def synthesize(
    corpus_dir: Path = typer.Argument(
        ..., help="Folder of .md / .txt / .jsonl ({id,title,text,date?}) documents (.pdf with the [pdf] extra)."
    ),
    out: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Output REFLECTIONS.jsonl; a dataset card (<stem>.card.json + .card.md) is written next to it.",
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    *,
    config: SynthesisConfig,
):
    """Synthesize question-answer "reflections" from a corpus: the MEMORY model's training data."""
    # Imported here, not at the top: every verb module is imported for `memo --help`; the pipeline loads spaCy.
    from memo_edge.errors import MemoError
    from memo_edge.synthesis import synthesize as run
    from memo_edge.training.estimate import card_line, for_reflections  # torch-free

    card = run(corpus_dir, out, config, progress=not no_progress, training_estimate=for_reflections)
    counts = ", ".join(f"{k} {v}" for k, v in card["counts_by_type"].items())
    typer.echo(f"{card['reflections']} reflections -> {out} ({counts}); card: {out.with_suffix('')}.card.json")
    typer.echo(card_line(card["training_estimate"]), err=True)
    lost = card["failed_items"]
    if lost:
        # The reflections that did succeed are written, but a run that lost items is not a success: name them
        # (all of them are in the card), exit non-zero, and let the rerun ask only for them (the cache has the rest).
        shown = "; ".join(f"{f['step']} '{f['item']}'" for f in lost[:5]) + ("; ..." if len(lost) > 5 else "")
        raise MemoError(
            f"{out}: {len(lost)} item(s) lost after retries: {shown} (first cause: {lost[0]['error']}); "
            "all are listed in the card's failed_items; run the same command again to retry only them"
        )
