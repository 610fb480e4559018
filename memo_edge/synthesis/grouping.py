"""Document groups for cross-document synthesis (step 5).

The MeMo paper groups documents with the benchmark's own evidence sets; a real corpus has none. Here documents are
linked by the named entities they share, weighted by rarity (an entity in every document links nothing), or read
from an explicit --groups file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import MemoError
from ..records import Document, json_lines
from .entities import entity_names
from .text import paragraphs, sentences


def doc_entities(doc: Document) -> set[str]:
    names = {doc.title.removeprefix("The ").strip()}
    for p in paragraphs(doc.text):
        for s in sentences(p):
            names.update(entity_names(s))
    return {n for n in names if len(n) > 2}


def entity_scores(docs: list[Document], max_df: int = 50) -> dict[tuple[str, str], float]:
    """Rarity-weighted count of the named entities two documents share. Built from an inverted index, so only
    pairs that share something are touched; an entity in every document (or in more than `max_df`) counts 0."""
    ents = {d.doc_id: doc_entities(d) for d in docs}
    where: dict[str, list[str]] = {}
    for doc_id, names in ents.items():
        for e in sorted(names):  # a fixed summation order: float sums must not depend on the hash seed
            where.setdefault(e, []).append(doc_id)
    n = len(docs)
    scores: dict[tuple[str, str], float] = {}
    for _entity, ids in sorted(where.items()):
        if not 2 <= len(ids) <= max_df:
            continue
        w = math.log((n + 1) / len(ids))
        for a in ids:
            for b in ids:
                if a != b:
                    scores[(a, b)] = scores.get((a, b), 0.0) + w
    return scores


def entity_groups(
    docs: list[Document],
    group_size: int = 3,
    max_groups: int = 64,
    embedding_sims: dict[tuple[str, str], float] | None = None,
    min_similarity: float = 0.3,
) -> list[list[str]]:
    """Each document with the partners it shares the most (rarity-weighted) entities with; duplicates merged.
    With embedding similarities, a partner also counts when its cosine similarity is at least `min_similarity`
    (documents about the same subject that name different entities)."""
    scores_of = entity_scores(docs)
    if embedding_sims:
        top = max(scores_of.values(), default=0.0) or 1.0
        scores_of = {
            k: scores_of.get(k, 0.0) / top + (s if s >= min_similarity else 0.0) for k, s in embedding_sims.items()
        }
    neighbours: dict[str, list[tuple[float, str]]] = {}
    for (a, b), score in scores_of.items():
        if score > 0:  # rounded, so equal scores tie-break on the document id, not on float noise
            neighbours.setdefault(a, []).append((-round(score, 9), b))
    groups: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for d in docs:
        partners = [doc_id for _, doc_id in sorted(neighbours.get(d.doc_id, []))[: group_size - 1]]
        if not partners:
            continue
        key = tuple(sorted([d.doc_id, *partners]))
        if key not in seen:
            seen.add(key)
            groups.append(list(key))
        if len(groups) >= max_groups:
            break
    return groups


def load_groups(path: Path, docs: list[Document]) -> list[list[str]]:
    """A JSON list of lists, or JSONL with one list (or {"docs": [...]}) per line; entries are document titles,
    file names or ids."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MemoError(f'{path}: groups file not found (expected JSON: [["doc a", "doc b"], ...])')
    text = path.read_text(encoding="utf-8")
    try:
        obj = json.loads(text)
        rows = obj if isinstance(obj, list) and all(isinstance(r, (list, dict)) for r in obj) else None
    except json.JSONDecodeError:
        rows = None
    if rows is None:
        rows = [row for _, row in json_lines(path, text.splitlines(), "a JSON list or JSON lines of groups")]
    lookup: dict[str, str] = {}
    for d in docs:
        for k in (d.doc_id, d.title, d.source, d.source.rsplit(".", 1)[0], Path(d.source.split(":")[0]).stem):
            lookup.setdefault(k.lower(), d.doc_id)
    groups = []
    for i, row in enumerate(rows, 1):
        items = row.get("docs") if isinstance(row, dict) else row
        if not isinstance(items, list) or len(items) < 2:
            raise MemoError(f"{path}: group {i}: expected a list of at least two documents")
        ids = []
        for it in items:
            doc_id = lookup.get(str(it).lower())
            if doc_id is None:
                raise MemoError(f"{path}: group {i}: unknown document '{it}' (expected a title, file name or id)")
            ids.append(doc_id)
        groups.append(sorted(set(ids)))
    return groups
