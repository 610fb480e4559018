"""What a run knows (State, Fact) and what it returns (Answer)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Fact:
    question: str
    answer: str
    idk: bool
    stage: str
    turn: int
    candidate: str | None = None


@dataclass
class State:
    question: str
    facts: list[Fact] = field(default_factory=list)
    idk_counts: dict[str, int] = field(default_factory=dict)
    dead_ends: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    idk_streaks: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the executive's own "known_facts" summary, carried forward
    entity: str | None = None
    proposed_answer: str | None = None
    exec_failures: int = 0
    exec_calls: int = 0
    memory_calls: int = 0
    memory_questions: int = 0

    def known(self) -> list[Fact]:
        return [f for f in self.facts if not f.idk]


@dataclass
class ReplyCounts:
    """How the executive's replies were read in one run (the trace says it per reply).

    A stage decision is asked once and re-asked `json_repairs` times: `decisions` counts them, `first_try` those
    whose first reply was usable. Each reply is read by the stage's schema (`schema`: the reply is exactly a
    schema-valid object, as a constrained executive writes it), else by the lenient reader (`lenient`: an object
    found in prose or fences, off-list values read by intent), else it is `unparsed` and a repair round is asked
    (`repairs`) while the budget lasts; a decision with no usable reply at all is a `fallback`."""

    decisions: int = 0
    first_try: int = 0
    schema: int = 0
    lenient: int = 0
    unparsed: int = 0
    repairs: int = 0
    fallbacks: int = 0


@dataclass
class Answer:
    question: str
    final_answer: str
    justification: str = ""
    mode: str = "none"
    entity: str | None = None
    status: str = "ok"  # ok | fallback (the executive failed; finished with what was known)
    error: str | None = None  # with status "fallback": why the executive failed (last error)
    facts: list[dict] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    dead_ends: list[str] = field(default_factory=list)
    memory_calls: int = 0
    memory_questions: int = 0
    executive_calls: int = 0
    # what the executive's endpoint accepted as response_format (json_schema | json_object | text); None when there
    # is no executive or it does not say (a Python callable)
    executive_format: str | None = None
    executive_replies: dict = field(default_factory=dict)  # ReplyCounts as a dict
    wall_s: float = 0.0
    timings: dict = field(default_factory=dict)  # executive_s, memory_s, overhead_s, per stage
    trace: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        return self.final_answer

    def to_dict(self, with_trace: bool = False) -> dict:
        d = asdict(self)
        if not with_trace:
            d.pop("trace")
            d.pop("spans")
        return d
