"""The pack's known terms (memo_edge.vocabulary): the content words of the reflections the memory was trained on, so
the runtime can answer "I don't know." to a question about something the corpus never mentions."""

from __future__ import annotations

from pathlib import Path

from memo_edge.pack import Abstain, Manifest
from memo_edge.records import load_reflections
from memo_edge.vocabulary import KnownTerms

from .checkpoint import Checkpoint
from .config import ExportConfig
from .describe import reflections_path
from .report import Reporter

KNOWN_TERMS = "known_terms.txt"


def add_known_terms(root: Path, manifest: Manifest, ckpt: Checkpoint, cfg: ExportConfig, rep: Reporter) -> Manifest:
    """Write known_terms.txt into the pack being built and name it in the manifest; unchanged when the share is 0
    or no training reflections are found (then the model answers every question, as before)."""
    if cfg.min_known_share <= 0:
        return manifest
    path = reflections_path(ckpt, cfg.reflections)
    if path is None:
        rep.log("no training reflections found: the pack will not abstain on questions about unknown things")
        return manifest
    # "I don't know." examples name invented entities: those are exactly the words the memory must not know
    known = KnownTerms.from_texts(f"{r.question} {r.answer}" for r in load_reflections(path) if r.type != "idk")
    (root / KNOWN_TERMS).write_text(known.dump(), encoding="utf-8")
    rep.log(f"known terms: {len(known.known)} words; questions with less than {cfg.min_known_share:.0%} known abstain")
    return manifest.model_copy(
        update={
            "files": {**manifest.files, "known_terms": KNOWN_TERMS},
            "abstain": Abstain(min_known_share=cfg.min_known_share, terms=len(known.known)),
        }
    )
