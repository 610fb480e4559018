"""The `extractive` generator: deterministic question-answer pairs from the corpus text, no LLM.

Each short declarative sentence is split into subject / verb / object / modifiers (clauses.py) after its references
and relative times are resolved (resolve.py); every part that is a concrete fact becomes a question:
who/what did it (subject), what was done (object), when/where/how long/how many (modifiers, numbers), and the
reverse direction of relations ("X is the father of Y" -> "Whose father is X?"). On top: entity questions that
describe an entity by two or three facts without naming it, cross-document questions that join facts about one
entity from two documents or substitute a description from another document ("the main rival of Quillfen
Robotics"), and consolidated per-entity summaries.

Quality is below an LLM generator's: heuristics miss facts inside complex sentences and sometimes phrase a
question awkwardly; they never invent an answer that is not in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..corpus import ChunkingConfig, chunk_document
from ..records import Document
from .clauses import Clause, parse
from .dataset import Pair as QA
from .linking import (Fact, bridge_pairs, consolidated_pairs, crossdoc_pairs, entity_pairs, identity_descriptions,
                      object_fact, question_descriptions, subject_fact)
from .phrases import Wording
from .questions import clause_pairs
from .resolve import Sentence, corpus_info, resolve_sentences

PROMPT_VERSION = "extractive-v1"
MAX_SENTENCE_WORDS = 35
_NOT_PROSE = re.compile(r"[=_{}<>|\\`#@$^~*]|\(\s*\w\s*\)|https?:|www\.|\.\w{2,4}\b/|\s[-/]{2,}")


def usable_sentence(text: str) -> bool:
    """Short declarative prose: the shape the clause rules understand. Code, legal boilerplate and long sentences
    produce wrong questions, so they produce none."""
    words = text.split()
    return 3 <= len(words) <= MAX_SENTENCE_WORDS and not _NOT_PROSE.search(text) and text.count('"') % 2 == 0

@dataclass
class ExtractiveResult:
    pairs: list[QA]
    stats: dict = field(default_factory=dict)


def generate(docs: list[Document], chunking: ChunkingConfig = ChunkingConfig(), progress=None) -> ExtractiveResult:
    """Candidate pairs for a corpus (before de-duplication and the size cap, which dataset.finalize applies)."""
    info = corpus_info(docs)
    g = Wording(info)
    pairs: list[QA] = []
    facts: list[Fact] = []
    all_clauses: list[tuple[Clause, Sentence]] = []
    n_sent = skipped = 0
    for d in docs:
        for s in resolve_sentences(d, chunk_document(d, chunking), info):
            n_sent += 1
            if not usable_sentence(s.resolved):
                skipped += 1
                continue
            for c in parse(s.resolved):
                all_clauses.append((c, s))
                pairs.extend(clause_pairs(g, c, s))
                facts += [f for f in (subject_fact(c, s), object_fact(c, s)) if f]
        if progress:
            progress(1)
    for p in pairs:
        p.step = "facts"
    ent = entity_pairs(g, facts)
    cross = crossdoc_pairs(g, facts)
    descs = identity_descriptions(all_clauses, info)
    for name, ds in question_descriptions(pairs, info).items():
        descs.setdefault(name, []).extend(ds)
    bridges = bridge_pairs(pairs, descs)
    cons = consolidated_pairs(g, facts)
    stats = {"sentences": n_sent, "sentences_skipped": skipped, "clauses": len(all_clauses), "facts": len(facts)}
    return ExtractiveResult(pairs + ent + cross + bridges + cons, stats)
