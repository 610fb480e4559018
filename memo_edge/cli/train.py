"""memo train | memo merge"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, require_extra


def _summary(m: dict) -> str:
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    line = (f"best epoch {m['best_epoch']}: held-out recall EM {f(m['recall_em'])} F1 {f(m['recall_f1'])}, "
            f"trained EM {f(m['train_em'])}, IDK on absent facts {f(m['idk_rate'])}, "
            f"false IDK on present facts {f(m['false_idk_rate'])}; {m['steps']} steps, "
            f"{m['example_tokens_per_s']:.0f} example tok/s, wall {m['wall_s']:.0f} s, peak RSS {m['peak_rss_mb']:.0f} MB")
    if "old_recall_before" in m:
        line += (f"\nold-set recall EM {f(m['old_recall_before']['em'])} -> {f(m['old_recall_after']['em'])} "
                 f"(F1 {f(m['old_recall_before']['f1'])} -> {f(m['old_recall_after']['f1'])})")
    return line


@app.command("train")
def train_(
    reflections: Path = typer.Argument(..., help="Reflections JSONL (memo synthesize output, or your own "
                                                 "{id, question, answer} lines)."),
    out: Path = typer.Option(..., "-o", "--out", help="Checkpoint directory to write (HF checkpoint + memory_prompt.json "
                                                    "+ memo_train.json + metrics.jsonl). Rerun to resume."),
    base: str = typer.Option("smollm2-135m-instruct", help="Base model name (memo models list) or local HF checkpoint dir."),
    method: str = typer.Option("full", help="full | lora | qlora (qlora needs CUDA)."),
    epochs: int = typer.Option(None, help="Epochs (default by base size: 4 for a small base on CPU, 3 for large bases as in the paper)."),
    lr: float = typer.Option(None, help="Peak learning rate (default by base size and method: small CPU base 3e-4 full / 1e-3 LoRA; large 2e-5 / 2e-4)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Examples per micro-batch per process (default 16 small CPU base, 8 large)."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Micro-batches per optimizer step: effective batch = batch size x this x processes (the MeMo paper: 512)."),
    schedule: str = typer.Option(None, help="constant | cosine | linear after warm-up (default cosine small CPU base, constant large)."),
    warmup_ratio: float = typer.Option(None, help="Warm-up share of all steps (default 0.05)."),
    lora_r: int = typer.Option(None, help="LoRA rank (default 8; 16 for >=10B and for small CPU bases)."),
    lora_alpha: int = typer.Option(None, help="LoRA alpha (default 2 x rank)."),
    merge: bool = typer.Option(True, "--merge/--no-merge", help="LoRA: write merged full weights (export needs them)."),
    packing: bool = typer.Option(True, "--packing/--no-packing", help="Padding-free packing with a shared prompt prefix."),
    idk_fraction: float = typer.Option(0.1, help="Share of generated 'I don't know.' examples (entity-swapped)."),
    heldout_fraction: float = typer.Option(0.1, help="Share of reflections held out to measure recall."),
    max_seq_len: int = typer.Option(256, help="Longer examples are skipped and counted."),
    save_every_steps: int = typer.Option(0, help="Also checkpoint every N steps (0: only at epoch ends)."),
    init_from: str = typer.Option(None, "--init-from", help="Continue from an existing memory checkpoint."),
    replay: float = typer.Option(0.0, help="With --init-from: share of the old reflections replayed (e.g. 0.2)."),
    seed: int = typer.Option(0, help="Seed for data order, splits and init."),
    threads: int = typer.Option(None, help="torch CPU threads."),
    eval_every: int = typer.Option(1, "--eval-every", help="Check recall every N epochs (always after the last); each check's time is logged."),
    log_every: int = typer.Option(None, "--log-every", help="Steps between loss read-backs from the device (default 1 on CPU, 10 on CUDA)."),
    attention: str = typer.Option("auto", help="auto | sdpa | flash_attention_2 | eager (auto: flash-attn where installed on CUDA, else SDPA)."),
    liger: bool = typer.Option(False, "--liger/--no-liger", help="liger-kernel's fused Triton kernels (CUDA, liger-kernel installed)."),
    bf16: bool = typer.Option(None, "--bf16/--no-bf16", help="bf16 autocast (default: on where CUDA or the CPU has "
                                                           "native bf16; weights stay fp32)."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore resume state / finished run in OUT and start over."),
    keep_state: bool = typer.Option(False, "--keep-state", help="Keep optimizer/RNG state in OUT after success."),
    resume_state: bool = typer.Option(True, "--resume-state/--no-resume-state", help="Save the resume state (weights + optimizer) at epoch ends; off: a killed run starts over (short GPU runs of big bases)."),
):
    """Fine-tune the MEMORY model on reflections (answer-only loss, the runtime's exact prompt, IDK examples).

    Interrupted (even SIGKILL)? Run the same command again: it resumes from the last checkpoint in OUT and ends
    with the same weights. Multi-GPU: `accelerate launch --config_file <training/accelerate/*.yaml> -m
    memo_edge.training REFLECTIONS -o OUT ...` (same flags).
    """
    require_extra("train", "torch", "transformers")
    import json

    from memo_edge.training import TrainConfig, train

    fields = dict(base=base, method=method, epochs=epochs, lr=lr, batch_size=batch_size, schedule=schedule,
                  warmup_ratio=warmup_ratio, lora_r=lora_r, lora_alpha=lora_alpha, merge=merge, packing=packing,
                  idk_fraction=idk_fraction, heldout_fraction=heldout_fraction, max_seq_len=max_seq_len,
                  save_every_steps=save_every_steps, init_from=init_from, replay=replay, seed=seed, threads=threads, bf16=bf16,
                  fresh=fresh, keep_state=keep_state, grad_accum=grad_accum, eval_every=eval_every, log_every=log_every,
                  attention=attention, liger=liger, resume_state=resume_state)
    cfg = _config(TrainConfig, {k: v for k, v in fields.items() if v is not None})
    metrics = train(reflections, out, cfg)
    typer.echo(_summary(metrics), err=True)
    typer.echo(json.dumps({k: v for k, v in metrics.items() if k != "history"}))


@app.command("merge")
def merge_(
    ckpts: list[Path] = typer.Argument(..., help="Two or more memory checkpoints trained from the same base."),
    out: Path = typer.Option(..., "-o", "--out", help="Merged checkpoint directory."),
    method: str = typer.Option("ties", help="ties | linear (task-vector merging)."),
    density: float = typer.Option(0.3, min=0.0, max=1.0, help="TIES: share of each task vector kept (largest magnitudes)."),
    weights: str = typer.Option(None, help="Comma-separated weight per checkpoint (default: equal)."),
):
    """Merge memories: base + combined task vectors (checkpoint - base), as in the MeMo paper; reports each
    checkpoint's own reflections' recall for the merged model."""
    require_extra("merge", "torch", "transformers")
    import json

    from memo_edge.training import merge

    from memo_edge.errors import MemoError

    try:
        w = [float(x) for x in weights.split(",")] if weights else None
    except ValueError:
        raise MemoError(f"--weights '{weights}': expected comma-separated numbers, one per checkpoint") from None
    res = merge(ckpts, out, method=method, density=density, weights=w)
    typer.echo(json.dumps(res))


def _config(cls, fields: dict):
    from pydantic import ValidationError

    from memo_edge.errors import MemoError

    try:
        return cls(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        name = ".".join(str(x) for x in err["loc"]) or "config"
        raise MemoError(f"--{name.replace('_', '-')}: {err['msg']}") from None
