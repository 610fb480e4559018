"""The run loop: grounding -> entity pinning (<= 7 turns) -> answer seeking (<= 8 turns) -> final synthesis.

Stages are small functions over an explicit `State`; each stage decision is one executive exchange
(memo_edge.protocol.exchange) and, when it asks the memory something, one batch of memory questions. If the
executive fails, the run finishes with what is known instead of crashing: `Answer.status` is then "fallback" and
`Answer.error` names the cause (callers must not miss it: `runtime.Memory.ask` raises, `memo ask` exits 3).
`memory` is anything with `complete(questions, temperature, max_new_tokens, seed) -> [Completion]` (runtime.Memory);
this module imports nothing from the runtime.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Callable

from ..errors import MemoError
from ..prompt import IDK_ANSWER, is_idk
from ..tracing import Tracer
from .config import MODES, ProtocolConfig
from .exchange import Exchange
from .prompts import FINAL, GROUNDING, PINNING, SEEKING, messages
from .quoting import clip, quote
from .reading import parse_final, parse_grounding, parse_pinning, parse_seeking
from .state import Answer, Fact, State


class RunCancelled(Exception):
    """The caller gave up on the run (set its `cancel` event): it stopped before its next executive or memory call.
    Nobody waits for its answer (a client that left, a deadline that fired), so none is made."""


class _Run:
    def __init__(
        self,
        question: str,
        memory,
        executive,
        cfg: ProtocolConfig,
        tracer: Tracer,
        cancel: threading.Event | None = None,
    ):
        self.cancel = cancel
        self.state = State(question=question.strip())
        self.memory = memory
        self.executive = executive
        self.cfg = cfg
        self.tr = tracer
        self.status = "ok"
        self.exchange = Exchange(executive, cfg, tracer, self.state, self.check_cancelled)

    def check_cancelled(self, stage: str) -> None:
        """Called before every executive and memory call: an abandoned run spends nothing more."""
        if self.cancel is not None and self.cancel.is_set():
            self.tr.event(stage, "cancelled", reason="the caller gave up on this run")
            raise RunCancelled(f"{stage}: the run was cancelled")

    @property
    def failing(self) -> bool:
        return self.exchange.failing

    def call_executive(self, stage: str, messages: list[dict], temperature: float, parse) -> dict | None:
        return self.exchange.decide(stage, messages, temperature, parse)

    # memory ------------------------------------------------------------------------------------------------------
    def _norm(self, q: str) -> str:
        return " ".join(q.lower().split()).rstrip("?. ")

    def ask_memory(self, stage: str, turn: int, items: list[dict], temperature: float) -> list[Fact]:
        """Answer new sub-questions in one batch; update IDK counts, dead ends and per-candidate streaks."""
        st = self.state
        answered = {self._norm(f.question) for f in st.known()}
        dead = {self._norm(q) for q in st.dead_ends}
        todo, seen = [], set()
        for it in items:
            k = self._norm(it["question"])
            if k in answered or k in dead or k in seen:
                continue
            seen.add(k)
            todo.append(it)
        todo = todo[: self.cfg.max_sub_questions]
        if not todo:
            self.tr.event(
                stage,
                "skipped",
                turn=turn,
                reason="no new questions (answered or dead ends)",
                asked=[it["question"] for it in items],
            )
            return []
        qs = [it["question"] for it in todo]
        seed = None if self.cfg.seed is None else self.cfg.seed + 1000 * st.memory_calls
        self.check_cancelled(stage)
        with self.tr.span(f"memory:{stage}", "memory", stage=stage, n=len(qs)) as sp:
            comps = self.memory.complete(
                qs, temperature=temperature, max_new_tokens=self.cfg.memory_max_tokens, seed=seed
            )
            _memory_span_args(sp, comps)
        st.memory_calls += 1
        st.memory_questions += len(qs)
        facts = []
        for it, c in zip(todo, comps):
            a = c.text.strip() or IDK_ANSWER
            f = Fact(it["question"], a, is_idk(a), stage, turn, it.get("candidate"))
            facts.append(f)
            self._account(f)
        st.facts.extend(facts)
        self.tr.event(
            stage,
            "memory",
            turn=turn,
            temperature=temperature,
            replies=[
                {"question": f.question, "answer": f.answer, "idk": f.idk, "candidate": f.candidate} for f in facts
            ],
            timings=sp.get("calls"),
        )
        return facts

    def _account(self, f: Fact) -> None:
        st = self.state
        if f.idk:
            k = self._norm(f.question)
            st.idk_counts[k] = st.idk_counts.get(k, 0) + 1
            if st.idk_counts[k] >= self.cfg.dead_end_idks and f.question not in st.dead_ends:
                st.dead_ends.append(f.question)
                self.tr.event(f.stage, "dead_end", question=f.question, idks=st.idk_counts[k])
        if f.candidate:
            c = f.candidate
            st.idk_streaks[c] = st.idk_streaks.get(c, 0) + 1 if f.idk else 0
            if st.idk_streaks[c] >= self.cfg.candidate_idk_streak and c not in st.dropped:
                st.dropped.append(c)
                st.candidates = [x for x in st.candidates if x["name"] != c]
                nxt = st.candidates[0]["name"] if st.candidates else None
                self.tr.event(f.stage, "pivot", away_from=c, to=nxt, idk_streak=st.idk_streaks[c])

    # stages ------------------------------------------------------------------------------------------------------
    def grounding(self) -> None:
        cfg = self.cfg
        with self.tr.span("grounding", "stage"):
            parsed = self.call_executive(
                "grounding", messages(self.state, cfg, GROUNDING), cfg.exec_temperature_grounding, parse_grounding
            )
            if parsed is None:
                self.status = "fallback"
                items = [{"question": self.state.question, "candidate": None}]
                self.tr.event("grounding", "fallback", reason="no usable grounding questions; asking the question")
            else:
                items = parsed["grounding_questions"]
            self.ask_memory("grounding", 0, items, cfg.memory_temperature_grounding)

    def entity_pinning(self) -> None:
        cfg, st = self.cfg, self.state
        with self.tr.span("entity_pinning", "stage"):
            idle = 0
            for turn in range(1, cfg.entity_turns + 1):
                if self.failing:
                    self.tr.event("entity_pinning", "transition", to="answer_seeking", reason="executive failing")
                    return
                instr = PINNING.format(turn=turn, budget=cfg.entity_turns, k=cfg.max_sub_questions)
                parsed = self.call_executive(
                    "entity_pinning", messages(st, cfg, instr), cfg.exec_temperature_pinning, parse_pinning
                )
                if parsed is None:
                    continue
                if parsed["candidates"]:
                    st.candidates = [c for c in parsed["candidates"] if c["name"] not in st.dropped]
                if parsed["known_facts"]:
                    st.notes = parsed["known_facts"][:20]
                if parsed["answer"]:
                    st.proposed_answer = parsed["answer"]
                if parsed["entity_confirmed"]:
                    st.entity = parsed["confirmed_entity"]
                    self.tr.event(
                        "entity_pinning",
                        "transition",
                        to="answer_seeking",
                        reason="confirm",
                        entity=st.entity,
                        turn=turn,
                    )
                    return
                if parsed["decision"] == "exhaust":
                    self.tr.event(
                        "entity_pinning",
                        "transition",
                        to="answer_seeking",
                        reason="exhaust",
                        turn=turn,
                        best_candidate=st.candidates[0]["name"] if st.candidates else None,
                    )
                    return
                if not self.ask_memory("entity_pinning", turn, parsed["sub_questions"], cfg.memory_temperature_pinning):
                    idle += 1
                    if idle >= 2:  # the executive keeps asking only dead ends / answered questions
                        self.tr.event("entity_pinning", "transition", to="answer_seeking", reason="no new questions")
                        return
            self.tr.event("entity_pinning", "transition", to="answer_seeking", reason="budget")

    def answer_seeking(self) -> None:
        cfg, st = self.cfg, self.state
        with self.tr.span("answer_seeking", "stage"):
            if st.proposed_answer and st.entity:
                # entity pinning already came back with the entity and an answer: nothing left to seek
                self.tr.event(
                    "answer_seeking",
                    "transition",
                    to="final",
                    reason="answered while pinning",
                    answer=st.proposed_answer,
                )
                return
            for turn in range(1, cfg.answer_turns + 1):
                if self.failing:
                    self.tr.event("answer_seeking", "transition", to="final", reason="executive failing")
                    return
                if st.entity:
                    line = f"The entity is confirmed: {quote(clip(st.entity, 200))}."
                elif st.candidates:
                    line = (
                        f"No entity was confirmed; the best candidate is {quote(clip(st.candidates[0]['name'], 200))}."
                    )
                else:
                    line = "No entity was confirmed."
                instr = SEEKING.format(turn=turn, budget=cfg.answer_turns, entity_line=line, k=cfg.max_sub_questions)
                parsed = self.call_executive(
                    "answer_seeking", messages(st, cfg, instr), cfg.exec_temperature_seeking, parse_seeking
                )
                if parsed is None:
                    continue
                if parsed["decision"] == "answer":
                    st.proposed_answer = parsed["answer"]
                    self.tr.event(
                        "answer_seeking",
                        "transition",
                        to="final",
                        reason="answer",
                        turn=turn,
                        answer=st.proposed_answer,
                    )
                    return
                self.ask_memory("answer_seeking", turn, parsed["sub_questions"], cfg.memory_temperature_seeking)
            self.tr.event("answer_seeking", "transition", to="final", reason="budget")

    def final(self) -> tuple[str, str]:
        cfg, st = self.cfg, self.state
        with self.tr.span("final", "stage"):
            parsed = self.call_executive("final", messages(st, cfg, FINAL), cfg.exec_temperature_final, parse_final)
            if parsed is not None:
                return parsed["final_answer"], parsed["justification"]
            self.status = "fallback"
            ans, why = self._best_known()
            self.tr.event("final", "fallback", final_answer=ans, justification=why)
            return ans, why

    def _best_known(self) -> tuple[str, str]:
        st = self.state
        if st.proposed_answer:
            return st.proposed_answer, "executive failed at final synthesis; its last proposed answer"
        if st.entity:
            return st.entity, "executive failed; the confirmed entity"
        direct = [f for f in st.known() if self._norm(f.question) == self._norm(st.question)]
        if direct:
            return direct[0].answer, "executive failed; the memory's direct answer"
        if st.candidates:
            return st.candidates[0]["name"], "executive failed; the best-ranked candidate"
        return IDK_ANSWER, "executive failed and the memory knew nothing relevant"


def _memory_span_args(sp: dict, comps) -> None:
    if not comps:
        return
    c0 = comps[0]
    sp.update(
        ttft_s=c0.ttft_s,
        prefill_tps=c0.prefill_tps,
        queue_s=max(c.queue_s for c in comps),
        decode_tps=sum(c.completion_tokens - 1 for c in comps if c.completion_tokens > 1)
        / max(max(c.decode_s for c in comps), 1e-9),
        tokens_in=sum(c.prompt_tokens for c in comps),
        tokens_out=sum(c.completion_tokens for c in comps),
        batch_size=len(comps),
        prefix_reused=c0.prefix_tokens_reused,
    )
    sp["calls"] = [c.timings() for c in comps]


def run_protocol(
    question: str,
    memory,
    executive=None,
    mode: str = "structured",
    config: ProtocolConfig | None = None,
    tracer: Tracer | None = None,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> Answer:
    """Answer one question. `executive` None (or mode "none"): the memory answers the question directly, and
    `on_text` (if given) receives its answer text as it is generated. Once `cancel` is set, the run raises
    RunCancelled before its next executive or memory call."""
    if mode not in MODES:
        raise MemoError(f"protocol '{mode}': expected one of {', '.join(MODES)}")
    if not question or not question.strip():
        raise MemoError("question: expected a non-empty question")
    cfg = config or ProtocolConfig()
    tr = tracer or Tracer()
    if executive is None:
        mode = "none"
    run = _Run(question, memory, executive, cfg, tr, cancel)
    t0 = tr.now()
    tr.event("start", "start", question=run.state.question, mode=mode, config=cfg.model_dump())
    if mode == "none":
        run.check_cancelled("none")
        with tr.span("none", "stage"):
            with tr.span("memory:none", "memory", stage="none", n=1) as sp:
                kw = {"on_token": lambda i, text, tid: on_text(text)} if on_text else {}
                comps = memory.complete(
                    [run.state.question], temperature=None, max_new_tokens=cfg.memory_max_tokens, seed=cfg.seed, **kw
                )
                _memory_span_args(sp, comps)
        run.state.memory_calls, run.state.memory_questions = 1, 1
        final = comps[0].text.strip() or IDK_ANSWER
        run.state.facts.append(Fact(run.state.question, final, is_idk(final), "none", 0))
        tr.event("none", "memory", replies=[{"question": run.state.question, "answer": final}], timings=sp.get("calls"))
        why = "the memory's direct answer"
    else:
        run.grounding()
        if mode == "structured":
            run.entity_pinning()
            run.answer_seeking()
        final, why = run.final()
    wall = tr.now() - t0
    st = run.state
    error = run.exchange.error or "the executive gave no usable reply"
    asked = mode != "none"
    replies = run.exchange.summary() if asked else {}
    fmt = run.exchange.accepted_format if asked else None
    tr.event(
        "final",
        "answer",
        final_answer=final,
        justification=why,
        status=run.status,
        entity=st.entity,
        wall_s=round(wall, 4),
        **({"error": error} if run.status == "fallback" else {}),
        **({"executive_format": fmt, "executive_replies": replies} if asked else {}),
    )
    spans = [s for s in tr.spans if s["start"] >= t0]
    return Answer(
        question=st.question,
        final_answer=final,
        justification=why,
        mode=mode,
        entity=st.entity,
        status=run.status,
        error=error if run.status == "fallback" else None,
        facts=[asdict(f) for f in st.facts],
        candidates=st.candidates,
        dead_ends=st.dead_ends,
        memory_calls=st.memory_calls,
        memory_questions=st.memory_questions,
        executive_calls=st.exec_calls,
        executive_format=fmt,
        executive_replies=replies,
        wall_s=wall,
        timings=stage_timings(spans, wall),
        trace=[e for e in tr.events if e["t"] >= round(t0, 4)],  # events carry rounded times: compare like with like
        spans=spans,
    )


def stage_timings(spans: list[dict], wall: float) -> dict:
    """Wall time split into executive, memory and overhead, overall and per stage."""

    def total(cat, stage=None):
        return sum(
            s["end"] - s["start"]
            for s in spans
            if s["cat"] == cat and (stage is None or s["args"].get("stage") == stage)
        )

    out = {"wall_s": wall, "executive_s": total("executive"), "memory_s": total("memory")}
    out["overhead_s"] = max(0.0, wall - out["executive_s"] - out["memory_s"])
    stages = {}
    for s in spans:
        if s["cat"] != "stage":
            continue
        name = s["name"]
        w = s["end"] - s["start"]
        ex, me = total("executive", name), total("memory", name)
        stages[name] = {
            "wall_s": w,
            "executive_s": ex,
            "memory_s": me,
            "overhead_s": max(0.0, w - ex - me),
            "memory_calls": sum(1 for x in spans if x["cat"] == "memory" and x["args"].get("stage") == name),
            "executive_calls": sum(1 for x in spans if x["cat"] == "executive" and x["args"].get("stage") == name),
        }
    out["stages"] = stages
    return out
