"""Next-token choice from logits: greedy, or temperature + nucleus (top-p) sampling with a seeded numpy RNG.

Sampling draws one uniform number per token and inverts the (nucleus') cumulative distribution, as
`Generator.choice(p=...)` does, without its validation passes and without sorting the whole 49k vocabulary for
top-p: the nucleus is found among the largest candidates (argpartition, widened until it holds top_p of the mass).
"""

from __future__ import annotations

import numpy as np

NUCLEUS_START = 64  # candidates first looked at for top-p; widened 8x until they hold top_p of the mass


def pick(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator | None) -> int:
    """One token id from a [vocab] logits row. temperature <= 0 (or no rng) means greedy."""
    if temperature <= 0.0 or rng is None:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    z -= z.max()
    p = np.exp(z)
    if top_p >= 1.0:
        cdf = np.cumsum(p)
        return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    keep = _nucleus(p, top_p)
    cdf = np.cumsum(p[keep])
    return int(keep[np.searchsorted(cdf, rng.random() * cdf[-1], side="right")])


def _nucleus(p: np.ndarray, top_p: float) -> np.ndarray:
    """Token ids of the smallest most-probable set whose mass reaches top_p (always at least the top token),
    most probable first."""
    need = top_p * p.sum()
    k = NUCLEUS_START
    while True:
        if k >= len(p):
            cand = np.argsort(-p, kind="stable")
        else:
            part = np.argpartition(-p, k)[:k]
            cand = part[np.argsort(-p[part], kind="stable")]
        cum = np.cumsum(p[cand])
        if cum[-1] >= need or k >= len(p):
            return cand[: int(np.searchsorted(cum, need)) + 1]
        k *= 8
