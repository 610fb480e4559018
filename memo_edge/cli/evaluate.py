"""memo eval"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.judge import JudgeConfig
from memo_edge.protocol import ProtocolConfig
from memo_edge.runtime.config import ExecutiveConfig, LoadConfig

from .app import app
from .ask import EXECUTIVE, LOAD, PROTOCOL
from .options import Group, config_options

JUDGE = Group(JudgeConfig, "judge", flags={"judge_timeout_s": "--judge-timeout"})


@app.command("eval")
@config_options(EXECUTIVE, JUDGE, PROTOCOL, LOAD)
def eval_(
    pack: Path = typer.Argument(..., help="Memory pack directory or .memopack file."),
    questions: Path = typer.Argument(
        ..., help="Questions JSONL: id, question, answer, answer_aliases, hops, decomposition."
    ),
    output: Path = typer.Option(None, "-o", "--output", help="Write results JSON here (em, f1, per_hop, predictions)."),
    limit: int = typer.Option(0, min=0, help="Only the first N questions (0 = all)."),
    batch_size: int = typer.Option(8, min=1, help="Memory questions answered per batched call."),
    *,
    executive_cfg: ExecutiveConfig,
    judge: JudgeConfig,
    protocol_cfg: ProtocolConfig,
    load: LoadConfig,
):
    """Score a pack on gold questions: EM/F1 overall and per hop count (MuSiQue normalization); optionally an LLM
    judge too."""
    # Imported here, not at the top: every verb module is imported for `memo --help`; these load onnxruntime.
    from memo_edge.atomic import regular_target, write_json
    from memo_edge.evaluate import evaluate, print_table
    from memo_edge.records import load_eval_items

    if output:
        regular_target(output)  # a device, FIFO or directory there is refused now, not after the whole evaluation
    items = load_eval_items(questions)
    if limit:
        items = items[:limit]
    result = evaluate(
        pack, items, executive=executive_cfg, batch_size=batch_size, judge=judge, protocol=protocol_cfg, load=load
    )
    print_table(result)
    if output:
        write_json(output, result)
        typer.echo(f"wrote {output}")
