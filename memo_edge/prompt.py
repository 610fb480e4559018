"""The memory prompt: the one definition of what the MEMORY model sees, in training and at inference.

MeMo's paper wrapped memory questions at inference in an "answer only if confident" prompt that the model never
saw in training. Here the same template is used to build training examples and to query the pack; its text and
version are written into the pack manifest, and the runtime reads it from there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PROMPT_VERSION = "memory-v1"
IDK_ANSWER = "I don't know."
# Short on purpose: every training example and every memory call carries it (the runtime caches its KV, but
# training pays for it on each example).
DEFAULT_SYSTEM = "Answer from memory, briefly. If you do not know, say: I don't know."
# Marks where the question goes when deriving the template from a chat template.
QUESTION_SLOT = "\x00QUESTION\x00"
ANSWER_SLOT = "\x00ANSWER\x00"


class MemoryPrompt(BaseModel):
    """prefix + question + suffix is the prompt; the answer follows, then answer_end.

    `prefix` is constant across calls, so the runtime prefills it once and reuses its KV cache.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = PROMPT_VERSION
    system: str = DEFAULT_SYSTEM
    prefix: str
    suffix: str
    answer_end: str
    stop: list[str]
    idk_answer: str = IDK_ANSWER

    def render(self, question: str) -> str:
        return f"{self.prefix}{question.strip()}{self.suffix}"

    def render_example(self, question: str, answer: str) -> str:
        return f"{self.render(question)}{answer.strip()}{self.answer_end}"

    @classmethod
    def from_chat_renderer(cls, render, system: str = DEFAULT_SYSTEM, stop: list[str] | None = None) -> "MemoryPrompt":
        """Derive the template from a chat-template renderer (messages, add_generation_prompt) -> str.

        Works for any base model's chat template: we render once with placeholders and split on them.
        """
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": QUESTION_SLOT}]
        prompt = render(msgs, True)
        full = render(msgs + [{"role": "assistant", "content": ANSWER_SLOT}], False)
        prefix, suffix = prompt.split(QUESTION_SLOT)
        if not full.startswith(prompt):
            raise ValueError("chat template renders the assistant turn inconsistently with the generation prompt")
        answer_end = full[len(prompt) :].split(ANSWER_SLOT, 1)[1]
        end_tok = answer_end.strip() or answer_end
        return cls(system=system, prefix=prefix, suffix=suffix, answer_end=answer_end, stop=stop or [end_tok])

    @classmethod
    def chatml(cls, system: str = DEFAULT_SYSTEM) -> "MemoryPrompt":
        """ChatML (SmolLM2, Qwen): the default for the shipped base models."""
        return cls(
            system=system,
            prefix=f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n",
            suffix="<|im_end|>\n<|im_start|>assistant\n",
            answer_end="<|im_end|>\n",
            stop=["<|im_end|>"],
        )


def is_idk(answer: str) -> bool:
    a = answer.strip().lower().rstrip(".!")
    return a in {"i don't know", "i do not know", "i dont know", "unknown"} or a.startswith("i don't know")
