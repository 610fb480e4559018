"""memo train | memo merge"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from memo_edge.errors import MemoError
from memo_edge.training.config import TrainConfig
from memo_edge.training.openmp import prefer_sleeping_threads

from .app import app, require_extra
from .options import Group, config_options


def _summary(m: dict) -> str:
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    line = (
        f"best epoch {m['best_epoch']}: held-out recall EM {f(m['recall_em'])} F1 {f(m['recall_f1'])}, "
        f"trained EM {f(m['train_em'])}, IDK on absent facts {f(m['idk_rate'])}, "
        f"false IDK on present facts {f(m['false_idk_rate'])}; {m['steps']} steps, "
        f"{m['example_tokens_per_s']:.0f} example tok/s, wall {m['wall_s']:.0f} s, peak RSS {m['peak_rss_mb']:.0f} MB"
    )
    if "old_recall_before" in m:
        line += (
            f"\nold-set recall EM {f(m['old_recall_before']['em'])} -> {f(m['old_recall_after']['em'])} "
            f"(F1 {f(m['old_recall_before']['f1'])} -> {f(m['old_recall_after']['f1'])})"
        )
    return line


TRAIN = Group(TrainConfig, "config")


@app.command("train")
@config_options(TRAIN)
def train_(
    reflections: Path = typer.Argument(
        ..., help="Reflections JSONL (memo synthesize output, or your own {id, question, answer} lines)."
    ),
    out: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Checkpoint directory to write (HF checkpoint + "
        "memory_prompt.json + memo_train.json + metrics.jsonl). "
        "Rerun to resume.",
    ),
    corpus: Path = typer.Option(
        None,
        "--corpus",
        help="The corpus folder the reflections were made from: needed to train on its text (--text-fraction).",
    ),
    *,
    config: TrainConfig,
):
    """Fine-tune the MEMORY model on reflections (answer-only loss, the runtime's exact prompt, IDK examples).

    The defaults are the recipe measured for SmolLM2-135M on a laptop CPU; on a GPU or another base name a preset
    (--preset gpu, gpu-lora: the MeMo paper's), whose values the flags you give override. Interrupted (even SIGKILL)? Run the same command again: it resumes from the last checkpoint in OUT and ends
    with the same weights. Multi-GPU: `accelerate launch --config_file <training/accelerate/*.yaml> -m
    memo_edge.training REFLECTIONS -o OUT ...` (same flags). torch's threads sleep while they wait for each other
    (OMP_WAIT_POLICY=PASSIVE; MEMO_OMP_WAIT=default keeps libgomp's spinning), so training beside other work on
    the same cores is not slowed many times over.
    """
    require_extra("train", "torch", "transformers")
    prefer_sleeping_threads()  # before torch loads libgomp (training/openmp.py)
    # Imported here, not at the top: every verb module is imported for `memo --help`; training loads torch.
    from memo_edge.training import train

    metrics = train(reflections, out, config, corpus=corpus)
    typer.echo(_summary(metrics), err=True)
    typer.echo(json.dumps({k: v for k, v in metrics.items() if k != "history"}))


@app.command("merge")
def merge_(
    ckpts: list[Path] = typer.Argument(..., help="Two or more memory checkpoints trained from the same base."),
    out: Path = typer.Option(..., "-o", "--out", help="Merged checkpoint directory."),
    method: str = typer.Option("ties", help="ties | linear (task-vector merging)."),
    density: float = typer.Option(
        0.3, min=0.0, max=1.0, help="TIES: share of each task vector kept (largest magnitudes)."
    ),
    weights: str = typer.Option(None, help="Comma-separated weight per checkpoint (default: equal)."),
):
    """Merge memories: base + combined task vectors (checkpoint - base), as in the MeMo paper; reports each
    checkpoint's own reflections' recall for the merged model."""
    require_extra("merge", "torch", "transformers")
    from memo_edge.training import merge  # loads torch: only when merging

    try:
        w = [float(x) for x in weights.split(",")] if weights else None
    except ValueError:
        raise MemoError(f"--weights '{weights}': expected comma-separated numbers, one per checkpoint") from None
    res = merge(ckpts, out, method=method, density=density, weights=w)
    typer.echo(json.dumps(res))
