"""Where memo-edge keeps pulled models and caches: $MEMO_HOME, default ~/.cache/memo-edge."""

from __future__ import annotations

import os
from pathlib import Path


def memo_home() -> Path:
    home = Path(os.environ.get("MEMO_HOME") or Path.home() / ".cache" / "memo-edge").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    """Pulled checkpoints; $MEMO_MODELS_DIR overrides (tests share one across temp homes)."""
    d = Path(os.environ["MEMO_MODELS_DIR"]) if os.environ.get("MEMO_MODELS_DIR") else memo_home() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d
