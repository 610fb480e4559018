"""One stage decision asked of the executive: the request carries the stage's JSON schema, the reply is read by the
schema, else leniently, else a repair round is asked, else the stage falls back. Every reply's path is traced and
counted (state.ReplyCounts), and so is what the executive's endpoint accepted as `response_format`.

An executive says what its endpoint took through two optional attributes (memo_edge.executives.OpenAIExecutive
has both): `accepted_format` ("json_schema", "json_object" or "text") and `format_refusals` (one line per
refused form, oldest first). An executive whose `complete` predates the `response_format` parameter is called
without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict

from ..jsonreply import extract_json
from ..tracing import Tracer
from .config import ProtocolConfig
from .prompts import REPAIR
from .reading import ParseError
from .replies import response_format, schema_reply
from .state import ReplyCounts, State


class Exchange:
    def __init__(self, executive, cfg: ProtocolConfig, tracer: Tracer, state: State, check_cancelled: Callable):
        self.executive = executive
        self.cfg = cfg
        self.tr = tracer
        self.state = state
        self.check_cancelled = check_cancelled
        self.counts = ReplyCounts()
        self.error: str | None = None  # the last executive failure, reported with status "fallback"
        self._refusals_seen = len(getattr(executive, "format_refusals", ()))
        self._takes_format = executive is not None and _takes_response_format(executive)

    @property
    def failing(self) -> bool:
        return self.executive is None or self.state.exec_failures >= self.cfg.max_exec_failures

    @property
    def accepted_format(self) -> str | None:
        return getattr(self.executive, "accepted_format", None)

    def decide(
        self, stage: str, messages: list[dict], temperature: float, parse: Callable[[dict], dict]
    ) -> dict | None:
        """One stage decision: the parsed reply, or None after a failed call or no usable reply even after repair."""
        if self.failing:
            return None
        self.counts.decisions += 1
        for attempt in range(self.cfg.json_repairs + 1):
            reply = self._complete(stage, messages, temperature, attempt)
            if reply is None:
                self.counts.fallbacks += 1
                return None
            reply, latency = reply
            fields = dict(attempt=attempt, messages=messages, reply=reply, temperature=temperature, latency_s=latency)
            fields["response_format"] = self.accepted_format
            try:
                parsed, path = _read(stage, reply, parse)
            except ParseError as e:
                self.error = f"{stage}: unusable reply ({e})"
                self.counts.unparsed += 1
                last = attempt == self.cfg.json_repairs
                self.tr.event(stage, "executive_invalid", error=str(e), next="fallback" if last else "repair", **fields)
                if not last:
                    self.counts.repairs += 1
                    messages = messages + [
                        {"role": "assistant", "content": str(reply)[:2000]},
                        {"role": "user", "content": REPAIR.format(error=e)},
                    ]
                continue
            self.state.exec_failures = 0
            setattr(self.counts, path, getattr(self.counts, path) + 1)
            self.counts.first_try += attempt == 0
            self.tr.event(stage, "executive", path=path, parsed=parsed, **fields)
            return parsed
        self.state.exec_failures += 1
        self.counts.fallbacks += 1
        return None

    def summary(self) -> dict:
        return asdict(self.counts)

    def _complete(self, stage: str, messages: list[dict], temperature: float, attempt: int):
        """(reply, latency) or None after a call that failed outright (the executive is then out for the run)."""
        self.check_cancelled(stage)
        self.state.exec_calls += 1
        t_call = self.tr.now()
        kw = {"response_format": response_format(stage, self.cfg.max_sub_questions)} if self._takes_format else {}
        with self.tr.span(f"executive:{stage}", "executive", stage=stage, attempt=attempt) as sp:
            try:
                reply = self.executive.complete(messages, temperature, self.cfg.exec_max_tokens, **kw)
            except Exception as e:
                # The client already retried (backoff, several URLs): asking again turn after turn only adds
                # minutes before the same fallback. The executive is out for the rest of this run.
                sp["error"] = f"{type(e).__name__}: {e}"
                self.error = f"{stage}: {sp['error']}"
                self.state.exec_failures = self.cfg.max_exec_failures
                self._trace_refusals(stage)
                self.tr.event(
                    stage,
                    "executive_error",
                    error=sp["error"],
                    messages=messages,
                    latency_s=round(self.tr.now() - t_call, 4),
                )
                return None
            sp["chars_in"] = sum(len(m["content"]) for m in messages)
            sp["chars_out"] = len(reply or "")
        self._trace_refusals(stage)
        return reply, round(self.tr.now() - t_call, 4)

    def _trace_refusals(self, stage: str) -> None:
        """Refusals of a response_format the executive met since the last call (once per form per executive)."""
        refusals = getattr(self.executive, "format_refusals", ())
        for line in refusals[self._refusals_seen :]:
            self.tr.event(stage, "response_format", refused=line, now=self.accepted_format)
        self._refusals_seen = len(refusals)


def _read(stage: str, reply: str, parse: Callable[[dict], dict]) -> tuple[dict, str]:
    """(parsed, path): "schema" when the reply is exactly a schema-valid object, else "lenient" (an object found in
    prose, fences or broken JSON); ParseError when neither yields a usable decision."""
    if not isinstance(reply, str):
        raise ParseError("empty reply")
    obj = schema_reply(stage, reply)
    if obj is not None:
        return parse(obj), "schema"
    return parse(extract_json(reply)), "lenient"


def _takes_response_format(executive) -> bool:
    try:
        params = inspect.signature(executive.complete).parameters
    except (TypeError, ValueError):
        return True
    return "response_format" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
