"""Loss per step and recall per epoch, one PNG (matplotlib imported lazily, Agg backend: no display needed)."""

from __future__ import annotations

import json
from pathlib import Path


def plot_metrics(metrics_path: Path, out_png: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(ln) for ln in Path(metrics_path).read_text().splitlines() if ln.strip()]
    steps = [r for r in rows if r.get("kind") == "step"]
    epochs = [r for r in rows if r.get("kind") == "epoch"]
    if not steps:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.8)
    a.set_yscale("log")
    a.set(xlabel="optimizer step", ylabel="answer-token loss", title="training loss")
    for key, label in (
        ("recall_em", "held-out EM"),
        ("recall_f1", "held-out F1"),
        ("train_em", "trained EM"),
        ("idk_rate", "IDK on absent"),
        ("false_idk_rate", "false IDK"),
    ):
        pts = [(r["epoch"], r[key]) for r in epochs if r.get(key) is not None]
        if pts:
            b.plot(*zip(*pts), marker="o", label=label)
    b.set(xlabel="epoch", ylabel="rate", ylim=(-0.02, 1.02), title="recall after each epoch")
    if b.get_legend_handles_labels()[0]:
        b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
