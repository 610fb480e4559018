"""The protocol's modes, stages and budgets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MODES = ("structured", "single-turn", "none")
STAGES = ("grounding", "entity_pinning", "answer_seeking", "final")


class ProtocolConfig(BaseModel):
    """Budgets and temperatures; defaults are the MeMo paper's (executive 0.4/0.4/1.0/0.3, memory 0.1/0.1/0.3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    entity_turns: int = Field(7, ge=0, description="Entity-pinning turn budget.")
    answer_turns: int = Field(8, ge=0, description="Answer-seeking turn budget.")
    dead_end_idks: int = Field(3, ge=1, description="A question that drew 'I don't know' this often is a dead end.")
    candidate_idk_streak: int = Field(
        3, ge=1, description="Consecutive IDKs about a candidate before pivoting away from it."
    )
    max_sub_questions: int = Field(6, ge=1, description="Memory questions per turn (answered in one batch).")
    exec_temperature_grounding: float = Field(0.4, ge=0, description="Executive temperature, grounding.")
    exec_temperature_pinning: float = Field(0.4, ge=0, description="Executive temperature, entity pinning.")
    exec_temperature_seeking: float = Field(1.0, ge=0, description="Executive temperature, answer seeking.")
    exec_temperature_final: float = Field(0.3, ge=0, description="Executive temperature, final synthesis.")
    memory_temperature_grounding: float = Field(0.1, ge=0, description="Memory temperature, grounding.")
    memory_temperature_pinning: float = Field(0.1, ge=0, description="Memory temperature, entity pinning.")
    memory_temperature_seeking: float = Field(0.3, ge=0, description="Memory temperature, answer seeking.")
    exec_max_tokens: int = Field(768, ge=16, description="Executive reply length limit (tokens).")
    memory_max_tokens: int = Field(64, ge=1, description="Memory reply length limit (tokens).")
    memory_reply_chars: int = Field(
        300, ge=20, description="Memory replies are cut to this many characters in executive prompts."
    )
    json_repairs: int = Field(1, ge=0, description="Re-asks after an executive reply that is not usable JSON.")
    max_exec_failures: int = Field(
        3,
        ge=1,
        description="Consecutive unusable executive replies (each after its "
        "repair) before giving up; a call that fails outright (after the client's "
        "retries) gives up at once.",
    )
    seed: int | None = Field(None, ge=0, description="Seed for sampled replies (memory; a local:PACK executive too).")
