"""Loading packs: one Engine per (pack, threads, provider, batch cap) per process.

Its own module so that `Memory` (memory.py) and the local executive (executives.py) share engines without
importing each other.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from memo_edge.pack import MANIFEST, Pack
from memo_edge.signing import check_signature, trusted_from_env

from .config import MAX_BATCH
from .engine import Engine

_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(
    path: str | os.PathLike,
    threads: int | None = None,
    provider: str | None = None,
    trusted_keys=None,
    max_batch: int = MAX_BATCH,
) -> Engine:
    """One Engine per (pack, threads, provider, max_batch) per process, so the prefix KV cache is computed once.

    trusted_keys: see Pack.open (None: $MEMO_TRUSTED_KEY). Checked on every call, also for a cached engine."""
    key = (str(Path(path).expanduser().resolve()), threads, provider, max_batch)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            pack = Pack.open(path, trusted_keys=trusted_keys)
            _ENGINES[key] = Engine(pack, threads=threads, provider=provider, max_batch=max_batch)
        else:
            engine = _ENGINES[key]
            keys = trusted_from_env() if trusted_keys is None else trusted_keys
            if keys:
                engine.pack.signer = check_signature(
                    engine.pack.root, (engine.pack.root / MANIFEST).read_bytes(), keys, shown=Path(path)
                )
        return _ENGINES[key]
