"""Benchmark datasets (MuSiQue, HotpotQA, 2WikiMultiHopQA, NarrativeQA summaries) as gold questions + a corpus.

Each loader returns a `BenchSet`: `EvalItem`s (the demo questions' format, so `memo eval` scores them), the corpus
documents a memory is built from (`{id, title, text}`, written as `.jsonl` that `memo build` / `memo synthesize`
read), and a pool of same-domain paragraphs that were left out of the corpus, from which `with_distractors`
injects 1xN extra distractor documents for the robustness runs.

Corpus rule (as in the MeMo paper for MuSiQue): a slice of N questions; the corpus is their supporting paragraphs
plus as many of each question's own non-supporting paragraphs as negatives.

The data lives in `../shared/benchdata` next to the repo (override with $MEMO_BENCHDATA); see its README.txt files
for origin, licence and official scoring.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .atomic import write_jsonl
from .corpus import content_id
from .errors import MemoError
from .records import DecompositionStep, EvalItem, json_lines
from .settings import env

DATASETS = ("musique", "hotpotqa", "2wikimultihopqa", "narrativeqa")
FILES = {
    "musique": "musique/musique_ans_v1.0_dev_subset200.jsonl",
    "hotpotqa": "hotpotqa/hotpot_dev_distractor_subset200.jsonl",
    "2wikimultihopqa": "2wikimultihopqa/2wikimultihopqa_dev_subset200.jsonl",
    "narrativeqa": "narrativeqa/narrativeqa_test_summary_3000.jsonl",
}
# Every benchmark file is split by position: questions 0-99 are dev (misses may be read, rules written from them),
# questions 100-199 are test (reported only).
SPLITS = {"dev": 0, "test": 100}


def split_rows(rows: list, split: str, n: int = 100) -> list:
    """The split's questions, by position in the file (the first n of its 100)."""
    lo = SPLITS[split]
    return rows[lo : lo + min(n, 100)]


NARRATIVEQA_DOCS = "narrativeqa/narrativeqa_test_summary_docs.jsonl"


@dataclass
class BenchSet:
    name: str
    items: list[EvalItem]
    docs: list[dict]  # the corpus: {id, title, text}
    pool: list[dict] = field(default_factory=list)  # same-domain paragraphs not in the corpus (distractor source)
    meta: dict = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> dict:
        """<out>/corpus/corpus.jsonl + <out>/questions.jsonl; returns the paths."""
        out = Path(out_dir)
        corpus = out / "corpus" / "corpus.jsonl"
        questions = out / "questions.jsonl"
        corpus.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(corpus, self.docs)
        write_jsonl(questions, [it.model_dump() for it in self.items])
        return {"corpus_dir": corpus.parent, "corpus": corpus, "questions": questions}


def benchdata_root() -> Path:
    return env().benchdata or Path(__file__).resolve().parent.parent.parent / "shared" / "benchdata"


def load(name: str, n: int | None = None, root: str | Path | None = None, **kw) -> BenchSet:
    """Load the first `n` usable questions of a dataset (all when n is None)."""
    loaders = {
        "musique": load_musique,
        "hotpotqa": load_hotpotqa,
        "2wikimultihopqa": load_2wiki,
        "narrativeqa": load_narrativeqa,
    }
    if name not in loaders:
        raise MemoError(f"dataset '{name}': unknown (expected one of {', '.join(DATASETS)})")
    base = Path(root) if root else benchdata_root()
    return loaders[name](base / FILES[name], n=n, **kw)


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise MemoError(f"{path}: dataset file not found (set $MEMO_BENCHDATA to the benchdata folder)")
    return [row for _, row in json_lines(path)]


def _need(row: dict, key: str, path: Path, lineno: int):
    if key not in row:
        raise MemoError(f"{path}:{lineno}: field '{key}' is missing")
    return row[key]


def _doc(title: str, text: str) -> dict:
    return {"id": content_id(title, text), "title": title, "text": text}


class _Corpus:
    """Deduplicates paragraphs by (title, text): questions of one dataset share Wikipedia paragraphs."""

    def __init__(self):
        self.docs: dict[str, dict] = {}
        self.pool: dict[str, dict] = {}

    def add(self, title: str, text: str) -> None:
        d = _doc(title, text)
        self.docs[d["id"]] = d
        self.pool.pop(d["id"], None)

    def add_pool(self, title: str, text: str) -> None:
        d = _doc(title, text)
        if d["id"] not in self.docs:
            self.pool[d["id"]] = d

    def build(self, name: str, items: list[EvalItem], meta: dict) -> BenchSet:
        return BenchSet(name, items, list(self.docs.values()), list(self.pool.values()), meta)


def _take_negatives(negatives: list, k: int) -> tuple[list, list]:
    # The first k in file order: deterministic, and no hand-picking of easy negatives.
    return negatives[:k], negatives[k:]


# MuSiQue's composed hops are Wikidata-style "subject >> relation"; the memory is asked in natural language.
_RELATION_HOP = re.compile(r"^(?P<subj>.+?)\s*>>\s*(?P<rel>.+)$")


def naturalize_hop(question: str) -> str:
    m = _RELATION_HOP.match(question.strip())
    if not m:
        return question
    return f"What is the {m.group('rel').strip()} of {m.group('subj').strip()}?"


def _by_hops(rows: list[dict]) -> list[dict]:
    """Round-robin over hop counts (2, 3, 4, 2, 3, 4, ...), file order within each: the file starts with ~100
    two-hop questions, so a plain head slice could not be reported per hop count."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(str(row.get("id", ""))[:1], []).append(row)
    out, queues = [], [groups[k] for k in sorted(groups)]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def load_musique(path: Path, n: int | None = None, negatives: bool = True, stratify: bool = False) -> BenchSet:
    """`stratify`: take the slice round-robin over hop counts instead of the file's head."""
    rows = _rows(path)
    if stratify:
        rows = _by_hops(rows)
    corpus, items = _Corpus(), []
    for lineno, row in enumerate(rows, 1):
        if n is not None and len(items) >= n:
            for p in row.get("paragraphs", []):
                corpus.add_pool(p["title"], p["paragraph_text"])
            continue
        paras = _need(row, "paragraphs", path, lineno)
        steps = _need(row, "question_decomposition", path, lineno)
        support = [p for p in paras if p.get("is_supporting")]
        others = [p for p in paras if not p.get("is_supporting")]
        neg, rest = _take_negatives(others, len(support) if negatives else 0)
        for p in support + neg:
            corpus.add(p["title"], p["paragraph_text"])
        for p in rest:
            corpus.add_pool(p["title"], p["paragraph_text"])
        qid = str(_need(row, "id", path, lineno))
        m = re.match(r"(\d)hop", qid)
        items.append(
            EvalItem(
                id=qid,
                question=_need(row, "question", path, lineno),
                answer=str(_need(row, "answer", path, lineno)),
                answer_aliases=[str(a) for a in row.get("answer_aliases", [])],
                hops=int(m.group(1)) if m else len(steps),
                decomposition=[
                    DecompositionStep(question=naturalize_hop(s["question"]), answer=str(s.get("answer", "")))
                    for s in steps
                ],
            )
        )
    return corpus.build(
        "musique",
        items,
        {
            "source": str(path),
            "negatives": "own non-supporting, 1:1",
            "slice": "round-robin over hop counts" if stratify else "file head",
        },
    )


def _context_paragraphs(row: dict, joiner: str) -> list[tuple[str, str]]:
    return [(title, joiner.join(sents).strip()) for title, sents in row["context"]]


def _supporting_titles(row: dict) -> list[str]:
    facts = row.get("supporting_facts", [])
    if isinstance(facts, str):  # 2Wiki as stored by MIGRES: a Python repr string
        facts = ast.literal_eval(facts)
    return list(dict.fromkeys(t for t, _ in facts))


def _load_context_qa(name: str, path: Path, n: int | None, joiner: str, hops_fn, negatives: bool) -> BenchSet:
    corpus, items, skipped = _Corpus(), [], 0
    for lineno, row in enumerate(_rows(path), 1):
        if not row.get("context"):
            skipped += 1  # 2Wiki: 36 rows lost their paragraphs upstream; unusable as closed-corpus questions
            continue
        paras = _context_paragraphs(row, joiner)
        gold = set(_supporting_titles(row))
        if n is not None and len(items) >= n:
            for t, x in paras:
                corpus.add_pool(t, x)
            continue
        support = [(t, x) for t, x in paras if t in gold]
        others = [(t, x) for t, x in paras if t not in gold]
        neg, rest = _take_negatives(others, len(support) if negatives else 0)
        for t, x in support + neg:
            corpus.add(t, x)
        for t, x in rest:
            corpus.add_pool(t, x)
        items.append(
            EvalItem(
                id=str(_need(row, "_id", path, lineno)),
                question=_need(row, "question", path, lineno),
                answer=str(_need(row, "answer", path, lineno)),
                hops=hops_fn(row, len(gold)),
            )
        )
    return corpus.build(
        name, items, {"source": str(path), "skipped_without_context": skipped, "negatives": "own non-supporting, 1:1"}
    )


def load_hotpotqa(path: Path, n: int | None = None, negatives: bool = True) -> BenchSet:
    # HotpotQA sentences carry their own leading space, so they are joined with "".
    return _load_context_qa("hotpotqa", path, n, "", lambda row, g: 2, negatives)


def load_2wiki(path: Path, n: int | None = None, negatives: bool = True) -> BenchSet:
    # bridge_comparison needs 4 paragraphs, the others 2: the count of gold titles is the hop count.
    return _load_context_qa("2wikimultihopqa", path, n, " ", lambda row, g: max(g, 1), negatives)


def load_narrativeqa(path: Path, n: int | None = None, docs_path: Path | None = None, per_story: int = 3) -> BenchSet:
    """Summary setting: each question's story is its ~600-word Wikipedia summary; references = 2 answers.

    The file groups ~30 questions per story; at most `per_story` are taken from each so a slice spans many stories.
    """
    docs_path = docs_path or path.parent / Path(NARRATIVEQA_DOCS).name
    titles = {}
    if docs_path.is_file():
        titles = {d["summary"]: d.get("wiki_title") or f"story {d.get('doc_idx')}" for d in _rows(docs_path)}
    corpus, items, taken = _Corpus(), [], {}
    for lineno, row in enumerate(_rows(path), 1):
        passage = _need(row, "passage", path, lineno)
        title = titles.get(passage) or f"story {content_id(passage, n=8)}"
        if (n is not None and len(items) >= n) or taken.get(passage, 0) >= per_story:
            corpus.add_pool(title, passage)
            continue
        refs = [str(a) for a in _need(row, "answer", path, lineno)]
        if not refs:
            raise MemoError(f"{path}:{lineno}: field 'answer': expected at least one reference answer")
        corpus.add(title, passage)
        taken[passage] = taken.get(passage, 0) + 1
        items.append(
            EvalItem(
                id=f"nqa-{lineno:05d}",
                question=_need(row, "question", path, lineno),
                answer=refs[0],
                answer_aliases=refs[1:],
                hops=1,
            )
        )
    return corpus.build("narrativeqa", items, {"source": str(path)})


def with_distractors(bench: BenchSet, factor: float = 1.0, seed: int = 0) -> BenchSet:
    """The same questions over a corpus with factor x N extra same-domain distractor documents.

    Distractors come from the paragraphs of this slice and of the dataset's other questions that are not in the
    corpus; none of them supports any question of the slice, so answers stay fixed while retrieval gets harder.
    """
    if factor < 0:
        raise MemoError(f"distractor factor: {factor} (expected >= 0)")
    want = round(factor * len(bench.docs))
    if want > len(bench.pool):
        raise MemoError(
            f"{bench.name}: {want} distractors requested but only {len(bench.pool)} spare paragraphs "
            f"(use a smaller factor or slice)"
        )
    extra = random.Random(seed).sample(bench.pool, want)
    ids = {d["id"] for d in extra}
    return replace(
        bench,
        docs=bench.docs + extra,
        pool=[d for d in bench.pool if d["id"] not in ids],
        meta={**bench.meta, "distractors": want, "distractor_factor": factor},
    )
