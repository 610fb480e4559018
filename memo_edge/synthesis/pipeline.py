"""`synthesize()`: corpus folder -> reflections JSONL + dataset card, with the chosen generator."""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import ensure_dir, regular_target, write_json, write_jsonl, write_text
from ..corpus import ChunkingConfig, chunk_document, corpus_fingerprint, load_corpus
from ..errors import MemoError
from .config import SynthesisConfig
from .dataset import Pair, TokenCounter, finalize, length_stats, to_reflections
from .progress import steps
from .quality import apply as quality_filter
from .text import normalize

EXTRACTIVE_NOTE = (
    "extractive generator: deterministic, spaCy parse + question rules (no LLM); it asks what the "
    "sentences state, in several phrasings, and cannot paraphrase freely or infer beyond the text"
)
# A document that yields fewer pairs per 100 words than this is named in a warning: the memory will know little
# of it (measured: prose yields 20-60 per 100 words; a table-only or code-heavy note can yield almost none).
LOW_COVERAGE_PER_100_WORDS = 3.0
SAMPLE_SIZE = 20


def card_paths(out_path: Path) -> tuple[Path, Path]:
    stem = out_path.name[: -len(".jsonl")] if out_path.name.endswith(".jsonl") else out_path.stem
    return out_path.with_name(f"{stem}.card.json"), out_path.with_name(f"{stem}.card.md")


def _check_out(out_path: Path) -> Path:
    """Fail before any work when the output cannot be written (an LLM run may take hours)."""
    out_path = Path(out_path).expanduser()
    if out_path.is_dir():
        raise MemoError(f"{out_path}: is a directory (expected a .jsonl output file path)")
    for p in (out_path, *card_paths(out_path)):
        regular_target(p)  # a device, FIFO or directory there is refused now, not after hours of work
    ensure_dir(out_path.resolve().parent)
    return out_path


def synthesize(
    corpus_dir, out_path, config: SynthesisConfig | None = None, progress: bool = True, training_estimate=None
) -> dict:
    """Reflections for every document of `corpus_dir`, written atomically to `out_path`; returns the card.
    `training_estimate(card) -> dict`, when given (the CLI passes training's), puts the expected training time for
    this many pairs into the card (synthesis itself does not import the training stage)."""
    cfg = config or SynthesisConfig()
    out_path = _check_out(out_path)
    t0 = time.monotonic()
    docs = load_corpus(corpus_dir)
    chunking = ChunkingConfig(cfg.chunk_words, cfg.overlap_words)
    chunks = {d.doc_id: chunk_document(d, chunking) for d in docs}
    with steps(progress) as ui:
        if cfg.generator == "extractive":
            from .extractive import PROMPT_VERSION, generate

            advance = ui.task("extractive: documents", len(docs))
            result = generate(docs, chunking, progress=advance, statements=cfg.statements, cloze=cfg.cloze)
            candidates, step_stats, prompt_version = result.pairs, {"extractive": result.stats}, PROMPT_VERSION
            failures: list[dict] = []
            candidates, filtered = quality_filter(candidates)
            step_stats["quality_filter"] = filtered
            dropped_selfcontain = filtered.get("not self-contained", 0)
        else:
            from .llm_pipeline import run_llm_pipeline

            run = run_llm_pipeline(docs, chunks, cfg, out_path, ui)
            candidates, step_stats, prompt_version = run.pairs, run.step_stats, run.prompt_version
            failures, dropped_selfcontain = run.failures, run.dropped_selfcontain
    ids = {d.doc_id for d in docs} | {c.chunk_id for cs in chunks.values() for c in cs}
    pairs, dedup = finalize(candidates, cfg.max_pairs if cfg.generator == "extractive" else 0, ids)
    if cfg.generator == "extractive" and result.reserve:
        # a span whose every wh-question was dropped as ambiguous or duplicate is asked by its fill-in after all
        rescued = rescue(pairs, quality_filter(result.reserve)[0])
        if rescued:
            candidates += rescued
            pairs, dedup = finalize(candidates, cfg.max_pairs, ids)
            step_stats["extractive"]["fill_ins_rescued"] = len(rescued)
    if not pairs:
        raise MemoError(f"{corpus_dir}: the generator produced no usable question-answer pairs")
    refl = to_reflections(pairs, prompt_version, f"{cfg.generator}:{cfg.model_name}")
    write_jsonl(out_path, [r.model_dump() for r in refl])
    card = _card(
        cfg,
        docs,
        chunks,
        pairs,
        candidates,
        refl,
        dedup,
        step_stats,
        failures,
        dropped_selfcontain,
        prompt_version,
        time.monotonic() - t0,
    )
    card["coverage"] = coverage(docs, refl, step_stats.get("extractive", {}))
    card["sample"] = [
        {"question": r.question, "answer": r.answer, "type": r.type}
        for r in random.Random(0).sample(refl, min(SAMPLE_SIZE, len(refl)))
    ]
    warn_low_coverage(card["coverage"])
    if training_estimate is not None:
        card["training_estimate"] = training_estimate(card)
    card_json, card_md = card_paths(out_path)
    write_json(card_json, card)
    write_text(card_md, card_markdown(card))
    return card


def rescue(pairs: list[Pair], reserve: list[Pair]) -> list[Pair]:
    """The reserve fill-ins whose answer no surviving pair of their chunk gives."""
    have = {(c, normalize(p.answer)) for p in pairs for c in p.chunk_ids}
    return [p for p in reserve if not any((c, normalize(p.answer)) in have for c in p.chunk_ids)]


def coverage(docs, refl, extractive_stats: dict) -> dict:
    """Reflections per 100 words per document, the documents with few or none, and (extractive) the share of
    sentences that yielded at least one pair."""
    per_doc: dict[str, int] = {}
    for r in refl:
        for d in set(r.source_doc_ids):
            per_doc[d] = per_doc.get(d, 0) + 1
    rows = []
    for d in docs:
        words = max(1, len(d.text.split()))
        n = per_doc.get(d.doc_id, 0)
        rows.append(
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "source": d.source,
                "words": words,
                "reflections": n,
                "per_100_words": round(100 * n / words, 1),
            }
        )
    low = [r for r in rows if r["per_100_words"] < LOW_COVERAGE_PER_100_WORDS]
    out = {
        "per_document": rows,
        "low_coverage_threshold_per_100_words": LOW_COVERAGE_PER_100_WORDS,
        "low_coverage_documents": [r["source"] or r["title"] for r in low],
        "documents_without_pairs": [r["source"] or r["title"] for r in rows if r["reflections"] == 0],
    }
    if extractive_stats.get("sentences"):
        out["sentences"] = extractive_stats["sentences"]
        out["sentences_with_pairs"] = extractive_stats["sentences_with_pairs"]
        out["sentence_yield"] = round(extractive_stats["sentences_with_pairs"] / extractive_stats["sentences"], 3)
    if extractive_stats.get("stating_sentences"):  # three words or more, not a question
        out["stating_sentence_yield"] = round(
            extractive_stats["stating_sentences_with_pairs"] / extractive_stats["stating_sentences"], 3
        )
    return out


def warn_low_coverage(cov: dict) -> None:
    low = cov["low_coverage_documents"]
    if low:
        names = ", ".join(low[:10]) + (f" and {len(low) - 10} more" if len(low) > 10 else "")
        print(
            f"warning: {len(low)} document(s) yielded fewer than {cov['low_coverage_threshold_per_100_words']:g} "
            f"reflections per 100 words; the memory will know little of them: {names}",
            file=sys.stderr,
        )


def _counts(items, key) -> dict:
    out: dict[str, int] = {}
    for it in items:
        out[key(it)] = out.get(key(it), 0) + 1
    return dict(sorted(out.items()))


def _card(
    cfg,
    docs,
    chunks,
    pairs: list[Pair],
    candidates: list[Pair],
    refl,
    dedup,
    step_stats,
    failures,
    dropped_selfcontain,
    prompt_version,
    wall,
) -> dict:
    count = TokenCounter.best_available()
    return {
        "generator": cfg.generator,
        "generator_model": cfg.model_name,
        "prompt_version": prompt_version,
        "corpus_fingerprint": corpus_fingerprint(docs),
        "documents": len(docs),
        "chunks": sum(len(c) for c in chunks.values()),
        "reflections": len(refl),
        "counts_by_type": _counts(refl, lambda r: r.type),
        "candidates_by_step": _counts(candidates, lambda p: p.step),
        "kept_by_step": _counts(pairs, lambda p: p.step),
        "dropped_by_selfcontainment": dropped_selfcontain,
        "duplicates_removed": dedup["duplicates_removed"],
        "ambiguous_removed": dedup["ambiguous_removed"],
        "source_leaks_removed": dedup["source_leaks_removed"],
        "capped": dedup["capped"],
        "failed_items": failures,
        "length_unit": count.unit,
        "question_length": length_stats([count(r.question) for r in refl]),
        "answer_length": length_stats([count(r.answer) for r in refl]),
        "step_stats": step_stats,
        "wall_time_s": round(wall, 2),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg.model_dump(mode="json"),
        "note": EXTRACTIVE_NOTE if cfg.generator == "extractive" else "",
    }


def card_markdown(card: dict) -> str:
    lines = [
        "# Reflections dataset card",
        "",
        f"- generator: `{card['generator']}` ({card['generator_model']}), prompts `{card['prompt_version']}`",
        f"- corpus fingerprint: `{card['corpus_fingerprint']}` ({card['documents']} documents, "
        f"{card['chunks']} chunks)",
        f"- reflections: **{card['reflections']}**; wall time {card['wall_time_s']} s",
        "",
    ]
    if card.get("note"):
        lines += [f"> {card['note']}", ""]
    lines += ["| type | pairs |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["counts_by_type"].items()]
    lines += [
        "",
        "| removed | pairs |",
        "|---|---|",
        f"| duplicates | {card['duplicates_removed']} |",
        f"| ambiguous (same question, different answers) | {card['ambiguous_removed']} |",
        f"| not self-contained (step 3) | {card['dropped_by_selfcontainment']} |",
        f"| naming a source id | {card['source_leaks_removed']} |",
        f"| over the size cap | {card['capped']} |",
        f"| failed items | {len(card['failed_items'])} |",
        "",
        f"| length ({card['length_unit']}) | min | mean | p50 | p95 | max |",
        "|---|---|---|---|---|---|",
    ]
    for k in ("question_length", "answer_length"):
        s = card[k]
        lines.append(f"| {k.split('_')[0]} | {s['min']} | {s['mean']} | {s['p50']} | {s['p95']} | {s['max']} |")
    filtered = card.get("step_stats", {}).get("quality_filter")
    if filtered:
        lines += ["", "| quality filter | pairs dropped |", "|---|---|"] + [
            f"| {k} | {v} |" for k, v in filtered.items()
        ]
    cov = card.get("coverage")
    if cov:
        lines += ["", "## Coverage", ""]
        if "sentence_yield" in cov:
            lines.append(
                f"- sentences that yielded at least one pair: {cov['sentences_with_pairs']} of "
                f"{cov['sentences']} ({100 * cov['sentence_yield']:.0f}%)"
            )
        lines.append(
            f"- documents under {cov['low_coverage_threshold_per_100_words']:g} reflections per 100 words: "
            + (", ".join(cov["low_coverage_documents"]) or "none")
        )
        lines += ["", "| document | words | reflections | per 100 words |", "|---|---|---|---|"]
        lines += [
            f"| {r['source'] or r['title']} | {r['words']} | {r['reflections']} | {r['per_100_words']} |"
            for r in cov["per_document"]
        ]
    if card.get("training_estimate"):
        est = card["training_estimate"]
        lines += [
            "",
            "## Expected training time (defaults, prior estimate)",
            "",
            f"- CPU (2 cores): {est['cpu']['steps']} steps, ~{round(est['cpu']['seconds'] / 60)} min",
            f"- CUDA GPU: {est['cuda']['steps']} steps (no GPU rate measured yet)",
        ]
    if card.get("sample"):
        lines += ["", f"## Sample of {len(card['sample'])} pairs", ""]
        lines += [f"- Q: {p['question']} A: {p['answer']} ({p['type']})" for p in card["sample"]]
    return "\n".join(lines) + "\n"
