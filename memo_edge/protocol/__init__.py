"""MeMo's structured multi-turn protocol: an EXECUTIVE LLM plans, a MEMORY model (the pack) answers.

    grounding -> entity pinning (<= 7 turns) -> answer seeking (<= 8 turns) -> final synthesis

One module per concern:
- config: modes, stages, budgets (ProtocolConfig)
- state: what a run knows and returns (State, Fact, Answer, ReplyCounts)
- replies: each stage's reply as a pydantic model and its strict JSON schema (sent as `response_format`)
- reading: the lenient reader (replies read by what they contain, off-list values by intent)
- prompts, quoting: what the executive is told; every value the memory or executive wrote enters it quoted
- exchange: one stage decision asked of the executive (schema, lenient reader, repair round, fallback)
- run: the stages and the run loop (run_protocol)
"""

from ..jsonreply import extract_json
from .config import MODES, STAGES, ProtocolConfig
from .reading import ParseError, parse_final, parse_grounding, parse_pinning, parse_seeking
from .replies import REPLIES, response_format, strict_schema
from .run import RunCancelled, run_protocol, stage_timings
from .state import Answer, Fact, ReplyCounts, State

__all__ = [
    "MODES",
    "REPLIES",
    "STAGES",
    "Answer",
    "Fact",
    "ParseError",
    "ProtocolConfig",
    "ReplyCounts",
    "RunCancelled",
    "State",
    "extract_json",
    "parse_final",
    "parse_grounding",
    "parse_pinning",
    "parse_seeking",
    "response_format",
    "run_protocol",
    "stage_timings",
    "strict_schema",
]
