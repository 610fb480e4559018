"""Where memo-edge keeps pulled models and caches: $MEMO_HOME, default ~/.cache/memo-edge."""

from __future__ import annotations

from pathlib import Path

from .settings import env


def memo_home() -> Path:
    home = (env().home or Path.home() / ".cache" / "memo-edge").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    """Pulled checkpoints; $MEMO_MODELS_DIR overrides (tests share one across temp homes)."""
    d = env().models_dir or memo_home() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d
