"""AdamW's step on the MEMORY model's own parameters: torch's per-tensor loop, foreach, and fused, side by side.

    python -m benchmarks.optimizer_step [--ckpt DIR] [--threads 2] [--repeats 12] [--quick]

On a CPU torch defaults to the per-tensor loop (foreach and fused are opt-in there); the trainer asks for fused
(training/loop.py `_optimizer`). All three optimizers are built from the same `_optimizer` parameter groups (weight
decay on matrices only) over copies of the same weights, given the same gradients, and stepped in turn, so they see
the same background load. The gradient clip the trainer runs before each step is timed beside them. After the
timed steps the three copies must still agree (max |difference|, printed): fused computes the same update.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

from benchmarks import latency, report

VARIANTS = {
    "per-tensor (torch's CPU default)": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}


def _plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6))
    names = list(rows)
    ax.barh(names, [rows[n]["step_s"]["median"] * 1e3 for n in names], color="#4c72b0")
    ax.set_xlabel("AdamW step, ms (median)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.optimizer_step", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", type=Path, help="model checkpoint (default: the pulled SmolLM2-135M-Instruct)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=12)
    p.add_argument("--quick", action="store_true", help="3 steps each")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv if argv is not None else sys.argv[1:])
    if a.quick:
        a.repeats = 3
    import torch
    from transformers import AutoModelForCausalLM

    from memo_edge.training.config import TrainConfig
    from memo_edge.training.loop import _optimizer

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ckpt = latency.checkpoint(a)
    base = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    cfg = TrainConfig()
    models, opts = {}, {}
    for name, kw in VARIANTS.items():
        m = copy.deepcopy(base)
        opt = _optimizer(m, cfg)
        for g in opt.param_groups:  # _optimizer's groups, this variant's implementation
            g["foreach"], g["fused"] = kw.get("foreach", False), kw.get("fused", False)
        models[name], opts[name] = m, opt
    n_params = sum(q.numel() for q in base.parameters())
    del base
    grads = [torch.randn_like(q) * 1e-3 for q in next(iter(models.values())).parameters()]
    times = {n: {"step_s": [], "clip_s": []} for n in VARIANTS}
    for rep in range(a.repeats + 1):  # round 0 is a warm-up (state allocation)
        order = list(VARIANTS) if rep % 2 else list(reversed(VARIANTS))
        for name in order:
            for q, g in zip(models[name].parameters(), grads):
                q.grad = g.clone()
            t = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(models[name].parameters(), cfg.max_grad_norm)
            t2 = time.perf_counter()
            opts[name].step()
            t3 = time.perf_counter()
            opts[name].zero_grad(set_to_none=True)
            if rep:
                times[name]["clip_s"].append(t2 - t)
                times[name]["step_s"].append(t3 - t2)
    ref = [q.detach() for q in next(iter(models.values())).parameters()]
    drift = {
        n: max(float((x.detach() - y).abs().max()) for x, y in zip(m.parameters(), ref)) for n, m in models.items()
    }
    rows = {n: {k: report.stats(v) for k, v in t.items()} | {"max_abs_diff": drift[n]} for n, t in times.items()}
    slow = rows[next(iter(rows))]["step_s"]["median"]
    report.print_table(
        f"AdamW step, {n_params / 1e6:.0f}M parameters ({ckpt.name}), {a.threads} threads, {a.repeats} steps each",
        ["implementation", "step ms", "speed-up", "clip ms", "max |diff| vs per-tensor"],
        [
            [
                n,
                report.fmt(r["step_s"]["median"], 1, 1e3),
                report.fmt(report.ratio(slow, r["step_s"]["median"]), 2),
                report.fmt(r["clip_s"]["median"], 1, 1e3),
                f"{r['max_abs_diff']:.1e}",
            ]
            for n, r in rows.items()
        ],
    )
    head = report.header("optimizer_step", ckpt=str(ckpt), threads=a.threads, repeats=a.repeats, params=n_params)
    doc = head | {"results": rows}
    report.save(a.out, "optimizer_step", doc)  # RESULTS.md's table reads the latest run
    _plot(rows, a.out / "optimizer_step.png")
    report.emit({k: head[k] for k in ("benchmark", "date_utc", "settings")} | {"results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
