"""Chat rendering without jinja: the role markers are recovered from the pack's memory prompt.

The memory prompt is (system turn)(user turn opener) + question + (user turn closer)(assistant opener), rendered
from the base model's own chat template at export; splitting it around the known system text gives each role's
opener and the turn closer, which is all a ChatML-style template needs for multi-turn messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from memo_edge.errors import PackError
from memo_edge.prompt import MemoryPrompt


@dataclass(frozen=True)
class ChatFormat:
    system_open: str
    user_open: str
    assistant_open: str
    close: str
    default_system: str
    stop: list[str]

    @classmethod
    def from_memory_prompt(cls, mp: MemoryPrompt) -> "ChatFormat":
        i = mp.prefix.find(mp.system) if mp.system else -1
        end = mp.answer_end
        rest = mp.prefix[i + len(mp.system) :] if i >= 0 else ""
        if i < 0 or not end or not rest.startswith(end) or not mp.suffix.startswith(end):
            raise PackError(
                "the pack's memory prompt is not a turn-based chat format this runtime can extend "
                "to multi-turn messages (expected system/user/assistant turns closed by answer_end)"
            )
        return cls(
            system_open=mp.prefix[:i],
            user_open=rest[len(end) :],
            assistant_open=mp.suffix[len(end) :],
            close=end,
            default_system=mp.system,
            stop=list(mp.stop),
        )

    def _open(self, role: str) -> str:
        if role == "system":
            return self.system_open
        if role == "assistant":
            return self.assistant_open
        if role in ("user", "tool", "developer"):
            return self.user_open
        raise ValueError(f"message role '{role}': expected system, user or assistant")

    def render(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        msgs = list(messages)
        if not msgs or msgs[0].get("role") != "system":
            msgs.insert(0, {"role": "system", "content": self.default_system})
        parts = [
            f"{self._open(m.get('role', 'user'))}{content_text(m.get('content')).strip()}{self.close}" for m in msgs
        ]
        if add_generation_prompt:
            parts.append(self.assistant_open)
        return "".join(parts)

    def system_prefix(self, messages: list[dict]) -> str:
        """The rendered text before the first user message's content: constant across calls, so KV-cacheable."""
        sys = messages[0]["content"] if messages and messages[0].get("role") == "system" else self.default_system
        return f"{self.system_open}{content_text(sys).strip()}{self.close}{self.user_open}"


def content_text(content) -> str:
    """OpenAI message content: a string or a list of {"type": "text", "text": ...} parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    raise ValueError("message content: expected a string or a list of text parts")
