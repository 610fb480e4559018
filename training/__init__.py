"""MEMORY model training (installed as memo_edge.training): full SFT, LoRA, QLoRA, packing, IDK examples, resume.

`from memo_edge.training import TrainConfig` stays torch-free; `train` and `merge` import torch when called.
"""

from .config import TrainConfig


def train(reflections_path, out_dir, config: TrainConfig | None = None, progress: bool = True, corpus=None) -> dict:
    from .loop import train as _train

    return _train(reflections_path, out_dir, config, progress, corpus)


def merge(ckpts, out_dir, method: str = "ties", density: float = 0.3, weights=None, progress: bool = True) -> dict:
    from .merge import merge_checkpoints

    return merge_checkpoints(ckpts, out_dir, method=method, density=density, weights=weights, progress=progress)


__all__ = ["TrainConfig", "train", "merge"]
