"""memo eval"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command("eval")
def eval_(
    pack: Path = typer.Argument(..., help="Memory pack directory or .memopack file."),
    questions: Path = typer.Argument(..., help="Questions JSONL: id, question, answer, answer_aliases, hops, decomposition."),
    executive: str = typer.Option("none", help="none | oracle (gold decompositions) | an OpenAI-compatible URL | local:PACK."),
    executive_model: str = typer.Option(None, help="Model name sent to an OpenAI-compatible executive."),
    output: Path = typer.Option(None, "-o", "--output", help="Write results JSON here (em, f1, per_hop, predictions)."),
    limit: int = typer.Option(0, min=0, help="Only the first N questions (0 = all)."),
    batch_size: int = typer.Option(8, min=1, help="Memory questions answered per batched call."),
    judge_url: str = typer.Option(None, "--judge-url",
                                  help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1; comma-separate "
                                       "several) of an LLM that also judges each answer against the gold one "
                                       "(yes/no); adds a judge accuracy column."),
    judge_model: str = typer.Option(None, "--judge-model", help="Model name sent to the judge endpoint."),
    judge_api_key_env: str = typer.Option("OPENAI_API_KEY", "--judge-api-key-env",
                                          help="Environment variable holding the judge endpoint's API key."),
    trusted_key: list[Path] = typer.Option(None, "--trusted-key",
                                           help="Public key file; repeatable. Refuse packs not signed by one of "
                                                "them (default: $MEMO_TRUSTED_KEY)."),
    judge_concurrency: int = typer.Option(8, "--judge-concurrency", min=1, help="Judge requests in flight at once."),
):
    """Score a pack on gold questions: EM/F1 overall and per hop count (MuSiQue normalization); optionally an LLM
    judge too."""
    from memo_edge.atomic import write_json
    from memo_edge.evaluate import evaluate, print_table
    from memo_edge.records import load_eval_items

    items = load_eval_items(questions)
    if limit:
        items = items[:limit]
    result = evaluate(pack, items, executive=executive, executive_model=executive_model, batch_size=batch_size,
                      judge_url=judge_url, judge_model=judge_model, judge_api_key_env=judge_api_key_env,
                      judge_concurrency=judge_concurrency, trusted_keys=list(trusted_key) if trusted_key else None)
    print_table(result)
    if output:
        write_json(output, result)
        typer.echo(f"wrote {output}")
