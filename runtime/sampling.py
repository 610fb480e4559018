"""Next-token choice from logits: greedy, or temperature + nucleus (top-p) sampling with a seeded numpy RNG."""

from __future__ import annotations

import numpy as np


def pick(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator | None) -> int:
    """One token id from a [vocab] logits row. temperature <= 0 (or no rng) means greedy."""
    if temperature <= 0.0 or rng is None:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        # keep the smallest set whose mass reaches top_p (always at least the top token)
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        q = p[keep] / p[keep].sum()
        return int(keep[rng.choice(len(keep), p=q)])
    return int(rng.choice(len(p), p=p))
