"""Making an EXECUTIVE from what a user typed: none, an OpenAI-compatible URL, `local:PACK`, or Python objects.

`LocalExecutive` (an instruct model pack on the same torch-free engine) lives here, in the runtime, because it needs
the engine; the executives that need no pack (OpenAI-compatible, callables) are core (memo_edge.executives).
"""

from __future__ import annotations

from memo_edge.errors import MemoError
from memo_edge.executives import CallableExecutive, Executive, OpenAIExecutive

from .chat import ChatFormat
from .config import ExecutiveConfig
from .loader import shared_engine


class LocalExecutive:
    """An instruct model pack run locally; chat messages rendered with the pack's own chat format. Given a
    `response_format` (json_schema, or json_object with or without a schema), it decodes under that schema
    (runtime/grammar.py), so even a 135M model's reply parses."""

    def __init__(
        self, pack_path: str, threads: int | None = None, provider: str | None = None, seed: int | None = None
    ):
        self.engine = shared_engine(pack_path, threads, provider)
        self.chat = ChatFormat.from_memory_prompt(self.engine.manifest.prompt)
        self.seed = seed

    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str:
        prompt = self.chat.render(messages)
        completion = self.engine.generate(
            [prompt],
            max_new_tokens=max_tokens,
            temperature=temperature,
            seed=self.seed,
            stop=self.chat.stop,
            prefix=self.chat.system_prefix(messages),
            response_format=response_format,
        )[0]
        return completion.text

    def __repr__(self) -> str:
        return f"LocalExecutive({self.engine.pack.root})"


def make_executive(
    spec,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 60.0,
    max_retries: int = 3,
    threads: int | None = None,
    seed: int | None = None,
) -> Executive | None:
    """None/"none" -> None (memory answers alone); "http(s)://..." -> OpenAI-compatible; "local:PACK" -> local
    engine; an Executive or callable -> used as is."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        return None
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith(("http://", "https://")):
            return OpenAIExecutive(
                [u.strip() for u in text.split(",") if u.strip()],
                model=model or "default",
                api_key_env=api_key_env,
                timeout_s=timeout_s,
                max_retries=max_retries,
            )
        if text.startswith("local:"):
            path = text[len("local:") :]
            if not path:
                raise MemoError("executive 'local:': expected local:PACK_DIR (a pack of an instruct model)")
            return LocalExecutive(path, threads=threads, seed=seed)
        raise MemoError(f"executive '{spec}': expected none, an http(s):// OpenAI-compatible URL, or local:PACK")
    if hasattr(spec, "complete"):
        return spec
    if callable(spec):
        return CallableExecutive(spec)
    raise MemoError(f"executive {spec!r}: expected none, a URL, local:PACK, an Executive or a callable")


def from_config(cfg: ExecutiveConfig, threads: int | None = None, seed: int | None = None) -> Executive | None:
    """The executive `cfg` describes (`threads`, `seed`: for a local:PACK executive)."""
    return make_executive(
        cfg.executive,
        model=cfg.executive_model,
        api_key_env=cfg.executive_api_key_env,
        timeout_s=cfg.executive_timeout_s,
        max_retries=cfg.executive_retries,
        threads=threads,
        seed=seed,
    )
