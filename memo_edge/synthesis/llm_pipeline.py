"""The five GENERATOR steps over an LLM backend, concurrent, cached call by call, resumable after SIGKILL.

Per document: step 1 (1a direct + 1b indirect facts per chunk) -> step 2 (consolidation) -> step 3 (self-containment
check, fix up to N times, else drop). Independently: step 4 (entity surfacing per chunk) and step 5 (cross-document
groups). All of it runs as one asyncio graph under a single semaphore of `concurrency` requests, so slow steps and
small steps never leave the servers idle. Results are assembled in corpus order, not completion order, so the
output does not depend on timing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MemoError
from ..jsonreply import ReplyError, parse_reply
from ..openai_client import ChatError
from ..records import Chunk, Document
from . import prompts as P
from .backends import make_backend
from .cache import CallCache, call_key
from .config import STEPS, SynthesisConfig
from .dataset import Pair
from .grouping import entity_groups, load_groups

CROSSDOC_WORDS_PER_DOC = 350
MAX_CONSOLIDATE_INPUT = 60
_ALIAS = re.compile(r"\bD\d{1,3}\b")


@dataclass
class LLMRun:
    pairs: list[Pair]
    step_stats: dict
    prompt_version: str
    failures: list[dict]
    dropped_selfcontain: int


@dataclass
class _StepStat:
    calls: int = 0  # requests actually sent (cache misses)
    cached: int = 0  # served from the call cache
    invalid: int = 0  # replies that did not validate (re-asked)
    failed: int = 0  # items given up on
    pairs: int = 0


@dataclass
class _Ctx:
    cfg: SynthesisConfig
    backend: object
    cache: CallCache
    sem: asyncio.Semaphore
    ui: object
    stats: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    bars: dict = field(default_factory=dict)
    dropped: int = 0

    def stat(self, step: str) -> _StepStat:
        return self.stats.setdefault(step, _StepStat())

    def fail(self, step: str, item: str, error: str) -> None:
        self.stat(step).failed += 1
        self.failures.append({"step": step, "item": item[:200], "error": error[:300]})

    async def ask(self, prompt: P.Prompt, item: str, **fmt):
        """One logical call: re-asked (with the error) while the reply fails to validate.

        Only a reply that validated is cached, under the key of the attempt that produced it, and any such reply
        finishes the call on a rerun. A reply that never validated is not final: the next run asks again
        (earlier versions cached it, so a rerun against a healthy server lost the same items again)."""
        base = prompt.messages(**fmt)
        st = self.stat(prompt.step)
        keys = [
            call_key(prompt.name, prompt.version, self.backend.model, base, a)
            for a in range(self.cfg.parse_retries + 1)
        ]
        for key in keys:
            cached = self.cache.get(key)
            if cached is None:
                continue
            try:
                res = parse_reply(cached, prompt.schema)
            except ReplyError:
                self.cache.stale += 1  # an invalid reply an older version cached: not served
                continue
            self.cache.hits += 1
            st.cached += 1
            return res
        msgs, err = base, ""
        for key in keys:
            try:
                async with self.sem:
                    reply = await self.backend.complete(msgs)
            except ChatError as e:
                self.fail(prompt.step, item, f"{prompt.name}: {e}")
                return None
            st.calls += 1
            try:
                res = parse_reply(reply, prompt.schema)
            except ReplyError as e:
                st.invalid += 1
                msgs = base + [{"role": "assistant", "content": reply}, P.retry_message(str(e))]
                err = str(e)
                continue
            self.cache.put(key, reply, prompt.name)
            return res
        self.fail(prompt.step, item, f"{prompt.name}: reply never validated ({err})")
        return None


def _header(doc_or_chunk) -> str:
    return P.doc_header(doc_or_chunk.title, doc_or_chunk.date)


async def _facts(ctx: _Ctx, chunk: Chunk) -> list[Pair]:
    jobs = [
        ctx.ask(p, f"{chunk.title} #{chunk.index}", header=_header(chunk), text=chunk.text)
        for p in (P.FACTS_DIRECT, P.FACTS_INDIRECT)
    ]
    out = []
    for prompt, res in zip((P.FACTS_DIRECT, P.FACTS_INDIRECT), await asyncio.gather(*jobs)):
        ctx.bars["facts"]()
        if res is None:
            continue
        typ = "direct" if prompt is P.FACTS_DIRECT else "indirect"
        out += [Pair(q.question, q.answer, typ, [chunk.doc_id], [chunk.chunk_id], step="facts") for q in res.qa_pairs]
    ctx.stat("facts").pairs += len(out)
    return out


async def _consolidate(ctx: _Ctx, doc: Document, facts: list[Pair]) -> list[Pair]:
    src = facts[:MAX_CONSOLIDATE_INPUT]
    res = await ctx.ask(
        P.CONSOLIDATE, doc.title, header=_header(doc), pairs=P.numbered_pairs([(p.question, p.answer) for p in src])
    )
    ctx.bars["consolidate"]()
    if res is None:
        return []
    out = []
    for item in res.consolidated_qa_pairs:
        used = [src[i - 1] for i in item.combined_from if 1 <= i <= len(src)]
        chunks = sorted({c for p in used for c in p.chunk_ids}) or sorted({c for p in src for c in p.chunk_ids})
        out.append(Pair(item.question, item.answer, "consolidated", [doc.doc_id], chunks, step="consolidate"))
    ctx.stat("consolidate").pairs += len(out)
    return out


async def _self_contained(ctx: _Ctx, pair: Pair, chunk_text: dict[str, str], header: str) -> Pair | None:
    """Check; on failure fix from the source chunk and check again, at most max_fix_attempts fixes."""
    q, a = pair.question, pair.answer
    source = "\n".join(chunk_text.get(c, "") for c in pair.chunk_ids)
    try:
        for attempt in range(self_attempts(ctx) + 1):
            res = await ctx.ask(P.CHECK, q, header=header, question=q, answer=a)
            if res is None:
                return None
            if res.is_self_contained:
                return Pair(q, a, pair.type, pair.doc_ids, pair.chunk_ids, pair.short, pair.step)
            if attempt == self_attempts(ctx):
                break
            fixed = await ctx.ask(P.FIX, q, header=header, text=source, question=q, answer=a)
            if fixed is None:
                return None
            q, a = fixed.question, fixed.answer
        ctx.dropped += 1
        return None
    finally:
        ctx.bars["selfcontain"]()


def self_attempts(ctx: _Ctx) -> int:
    return ctx.cfg.max_fix_attempts


async def _doc_chain(ctx: _Ctx, doc: Document, chunks: list[Chunk]) -> list[Pair]:
    steps = ctx.cfg.steps
    facts: list[Pair] = []
    if "facts" in steps:
        for part in await asyncio.gather(*[_facts(ctx, c) for c in chunks]):
            facts += part
    cons: list[Pair] = []
    if "consolidate" in steps and len(facts) >= 2:
        cons = await _consolidate(ctx, doc, facts)
    elif "consolidate" in steps:
        ctx.bars["consolidate"]()
    pairs = facts + cons
    if "selfcontain" not in steps or not pairs:
        return pairs
    ctx.bars["selfcontain"].grow(len(pairs))
    texts = {c.chunk_id: c.text for c in chunks}
    checked = [p for p in await asyncio.gather(*[_self_contained(ctx, p, texts, _header(doc)) for p in pairs]) if p]
    ctx.stat("selfcontain").pairs += len(checked)
    return checked


async def _entities(ctx: _Ctx, chunk: Chunk) -> list[Pair]:
    res = await ctx.ask(P.ENTITY, f"{chunk.title} #{chunk.index}", header=_header(chunk), text=chunk.text)
    ctx.bars["entity"]()
    if res is None:
        return []
    out = [
        Pair(e.question, e.answer, "entity", [chunk.doc_id], [chunk.chunk_id], step="entity")
        for e in res.entity_surfacing_qa_pairs
    ]
    ctx.stat("entity").pairs += len(out)
    return out


def _doc_block(alias: str, doc: Document) -> str:
    words = doc.text.split()
    text = " ".join(words[:CROSSDOC_WORDS_PER_DOC]) + (" ..." if len(words) > CROSSDOC_WORDS_PER_DOC else "")
    return f"[{alias}] {doc.title} (date: {doc.date or 'unknown'})\n{text}"


async def _crossdoc(ctx: _Ctx, group: list[Document], chunks: dict[str, list[Chunk]]) -> list[Pair]:
    aliases = {f"D{i}": d for i, d in enumerate(group, 1)}
    res = await ctx.ask(
        P.CROSSDOC,
        " + ".join(d.title for d in group),
        documents="\n\n".join(_doc_block(a, d) for a, d in aliases.items()),
    )
    ctx.bars["crossdoc"]()
    if res is None:
        return []
    out = []
    for item in res.crossdoc_qa_pairs:
        docs = [aliases[a.strip().upper()] for a in item.source_doc_ids if a.strip().upper() in aliases]
        doc_ids = sorted({d.doc_id for d in docs})
        if len(doc_ids) < 2 or _ALIAS.search(item.question) or _ALIAS.search(item.answer):
            ctx.stat("crossdoc").invalid += 1
            continue
        chunk_ids = sorted({c.chunk_id for d in docs for c in chunks[d.doc_id]})
        out.append(Pair(item.question, item.answer, "crossdoc", doc_ids, chunk_ids, step="crossdoc"))
    ctx.stat("crossdoc").pairs += len(out)
    return out


def _groups(cfg: SynthesisConfig, docs: list[Document]) -> list[list[Document]]:
    by_id = {d.doc_id: d for d in docs}
    if cfg.groups_file:
        ids = load_groups(cfg.groups_file, docs)
    else:
        sims = None
        if cfg.grouping == "embeddings":
            from .embeddings import minilm_dir, similarity  # here: an optional package, only for this grouping

            sims = similarity(docs, minilm_dir(cfg.embedding_model))
        ids = entity_groups(docs, cfg.group_size, cfg.max_groups, embedding_sims=sims)
    return [[by_id[i] for i in g] for g in ids]


def cache_path_for(cfg: SynthesisConfig, out_path: Path) -> Path:
    if cfg.cache_path:
        return Path(cfg.cache_path).expanduser()
    stem = out_path.name[: -len(".jsonl")] if out_path.name.endswith(".jsonl") else out_path.stem
    return out_path.with_name(f"{stem}.cache.jsonl")


async def _run(cfg, docs, chunks, out_path, ui, backend) -> LLMRun:
    cache = CallCache(cache_path_for(cfg, out_path))
    ctx = _Ctx(cfg, backend, cache, asyncio.Semaphore(cfg.concurrency), ui)
    n_chunks = sum(len(c) for c in chunks.values())
    groups = _groups(cfg, docs) if "crossdoc" in cfg.steps and len(docs) >= 2 else []
    labels = {
        "facts": ("1 facts (1a+1b calls)", 2 * n_chunks),
        "consolidate": ("2 consolidation", len(docs)),
        "selfcontain": ("3 self-containment (pairs)", 0),
        "entity": ("4 entity surfacing", n_chunks),
        "crossdoc": ("5 cross-document groups", len(groups)),
    }
    for step in STEPS:
        if step in cfg.steps:
            name, total = labels[step]
            ctx.bars[step] = ui.task(name, total)
        else:
            ctx.bars[step] = lambda n=1: None
    try:
        async with backend:
            chains = [_doc_chain(ctx, d, chunks[d.doc_id]) for d in docs]
            ents = [_entities(ctx, c) for d in docs for c in chunks[d.doc_id]] if "entity" in cfg.steps else []
            cross = [_crossdoc(ctx, g, chunks) for g in groups]
            results = await asyncio.gather(*chains, *ents, *cross)
    finally:
        cache.close()
    pairs = [p for part in results for p in part]
    stats = {k: vars(v) for k, v in ctx.stats.items()}
    stats["cache"] = {
        "path": str(cache.path),
        "hits": cache.hits,
        "writes": cache.writes,
        "skipped_lines": cache.skipped_lines,
        "stale_invalid": cache.stale,
        "groups": len(groups),
    }
    return LLMRun(pairs, stats, P.prompt_version(), ctx.failures, ctx.dropped)


def run_llm_pipeline(
    docs: list[Document], chunks: dict[str, list[Chunk]], cfg: SynthesisConfig, out_path: Path, ui
) -> LLMRun:
    backend = make_backend(cfg)
    try:
        return asyncio.run(_run(cfg, docs, chunks, Path(out_path), ui, backend))
    except RuntimeError as e:
        if "asyncio.run() cannot be called from a running event loop" in str(e):
            raise MemoError(
                "synthesize() with an LLM generator must be called outside a running event loop "
                "(use a thread or asyncio.to_thread)"
            ) from None
        raise
