"""The one way a question is asked: a memory, an executive (or none), a protocol mode and budgets -> an Answer.

`memo ask`, `Memory.ask`, `memo eval`, `memo serve` (/v1/memo/ask) and `memo mcp` (ask_memory) all call
`AskService.ask`. They differ only in what they do with a fallback answer (the executive failed; the Answer has
`status == "fallback"` and `error` set): `memo ask` prints it and exits 3, `Memory.ask` raises ExecutiveError
(`raise_on_fallback`), `memo eval` counts it, and the servers return it with its status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from memo_edge.errors import ExecutiveError, MemoError
from memo_edge.protocol import MODES, Answer, ProtocolConfig, run_protocol
from memo_edge.tracing import Tracer


class NoExecutive(MemoError):
    """A protocol that needs an executive was asked for by name, and none is configured."""


class AskService:
    """Answers questions from `memory` (anything with Memory.complete), driven by `executive` (an Executive or
    None: see runtime.executives.make_executive) in `mode` unless a call names another."""

    def __init__(self, memory, executive=None, config: ProtocolConfig | None = None, mode: str = "structured"):
        self.memory = memory
        self.executive = executive
        self.config = config or ProtocolConfig()
        self.mode = _checked(mode)

    @property
    def modes(self) -> list[str]:
        """The modes that use an executive need one."""
        return ["none", "single-turn", "structured"] if self.executive is not None else ["none"]

    def ask(
        self,
        question: str,
        mode: str | None = None,
        tracer: Tracer | None = None,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """One question; `on_text` receives the memory's answer as it is generated (mode none only). Setting
        `cancel` stops the run before its next executive or memory call (protocol.RunCancelled).

        `mode` None is the service's mode (which runs as none when there is no executive); a mode named here that
        needs an executive, with none configured, is refused (NoExecutive), never quietly answered in mode none:
        the same for `memo ask --protocol`, `/v1/memo/ask`'s "protocol" and MCP's `mode`."""
        if mode is None:
            mode = self.mode
        elif _checked(mode) != "none" and self.executive is None:
            raise NoExecutive(
                f"protocol '{mode}': needs an executive LLM (--executive URL or local:PACK; MEMO_EXECUTIVE for "
                "memo mcp), or ask with protocol 'none'"
            )
        executive = None if mode == "none" else self.executive
        return run_protocol(
            question,
            self.memory,
            executive,
            mode=mode,
            config=self.config,
            tracer=tracer,
            on_text=on_text,
            cancel=cancel,
        )


def raise_on_fallback(answer: Answer) -> Answer:
    """The answer, or ExecutiveError (exit code 3, `.answer` = the fallback) when the executive failed."""
    if answer.status == "fallback":
        raise ExecutiveError(f"executive failed ({answer.error}); fallback answer: {answer.final_answer!r}", answer)
    return answer


def _checked(mode: str) -> str:
    if mode not in MODES:
        raise MemoError(f"protocol '{mode}': expected one of {', '.join(MODES)}")
    return mode
