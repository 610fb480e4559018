"""Making an EXECUTIVE from what a user typed: none, an OpenAI-compatible URL, `local:PACK`, `local:MODEL.gguf`,
or Python objects.

`LocalExecutive` (an instruct model pack on the same torch-free engine) lives here, in the runtime, because it needs
the engine; `GGUFExecutive` runs an instruct GGUF a user already keeps on disk through llama.cpp (the `[llama]`
extra, imported only then). The executives that need neither (OpenAI-compatible, callables) are core
(memo_edge.executives). Both local ones decode under a `response_format`'s JSON schema when given one, unless made
with `schema=False` (`--no-executive-schema`): they then write freely, as a model does without a grammar.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from memo_edge.errors import MemoError
from memo_edge.executives import CallableExecutive, Executive, OpenAIExecutive, bounded_schema

from .chat import ChatFormat
from .config import ExecutiveConfig
from .grammar import response_schema
from .loader import shared_engine
from .providers import default_threads

GGUF_CONTEXT = 8192  # tokens of context a GGUF executive gets (the protocol's prompts stay well below)


class LocalExecutive:
    """An instruct model pack run locally; chat messages rendered with the pack's own chat format. Given a
    `response_format` (json_schema, or json_object with or without a schema), it decodes under that schema
    (runtime/grammar.py) with its strings bounded (executives.bounded_schema: the strict form lets a 135M model
    write an empty final_answer, an unusable reply), so even a 135M model's reply parses and is usable; with
    `schema=False` it ignores it."""

    def __init__(
        self,
        pack_path: str,
        threads: int | None = None,
        provider: str | None = None,
        seed: int | None = None,
        schema: bool = True,
    ):
        self.engine = shared_engine(pack_path, threads, provider)
        self.chat = ChatFormat.from_memory_prompt(self.engine.manifest.prompt)
        self.seed = seed
        self.schema = schema

    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str:
        prompt = self.chat.render(messages)
        schema = response_schema(response_format) if self.schema else None
        bounded = {"type": "json_schema", "json_schema": {"name": "reply", "schema": bounded_schema(schema)}}
        completion = self.engine.generate(
            [prompt],
            max_new_tokens=max_tokens,
            temperature=temperature,
            seed=self.seed,
            stop=self.chat.stop,
            prefix=self.chat.system_prefix(messages),
            response_format=bounded if schema is not None else None,
        )[0]
        self.accepted_format = response_format["type"] if schema is not None else "text"  # reported in the trace
        return completion.text

    def __repr__(self) -> str:
        return f"LocalExecutive({self.engine.pack.root})"


class GGUFExecutive:
    """An instruct GGUF run by llama.cpp (llama-cpp-python), its chat template from the file's own metadata; a
    `response_format` schema becomes llama.cpp's grammar (`LlamaGrammar.from_json_schema`), one per schema, with
    its strings bounded and kept to JSON's characters as in the llama.cpp server's form (executives.bounded_schema).

    Unlike the engine's constraint (runtime/grammar.py) llama.cpp does not steer a reply to close within its
    budget: a model that wanders inside a string ends at max_tokens with unfinished JSON."""

    def __init__(
        self,
        path: str,
        threads: int | None = None,
        seed: int | None = None,
        n_ctx: int = GGUF_CONTEXT,
        schema: bool = True,
    ):
        try:
            import llama_cpp
        except ImportError:
            raise MemoError(
                f"executive 'local:{path}': a GGUF executive needs llama-cpp-python: pip install 'memo-edge[llama]'"
            ) from None
        if not Path(path).is_file():
            raise MemoError(f"executive 'local:{path}': no such GGUF file")
        self._llama_cpp = llama_cpp
        self.path = path
        self.seed = seed
        self.schema = schema
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads or default_threads(),
                seed=seed if seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise MemoError(f"executive 'local:{path}': llama.cpp could not load it ({e})") from None
        self._grammars: dict[str, object] = {}
        self._lock = threading.Lock()  # one llama.cpp context: one completion at a time

    def _grammar(self, schema: dict):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = self._llama_cpp.LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def complete(
        self, messages: list[dict], temperature: float, max_tokens: int, response_format: dict | None = None
    ) -> str:
        schema = response_schema(response_format) if self.schema else None
        with self._lock:
            out = self.llm.create_chat_completion(
                messages=messages,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=self.seed,
                grammar=self._grammar(bounded_schema(schema)) if schema is not None else None,
            )
        self.accepted_format = response_format["type"] if schema is not None else "text"  # reported in the trace
        return out["choices"][0]["message"]["content"] or ""

    def __repr__(self) -> str:
        return f"GGUFExecutive({self.path})"


def make_executive(
    spec,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 60.0,
    max_retries: int = 3,
    threads: int | None = None,
    seed: int | None = None,
    schema: bool = True,
) -> Executive | None:
    """None/"none" -> None (memory answers alone); "http(s)://..." -> OpenAI-compatible; "local:PACK" -> local
    engine; "local:MODEL.gguf" -> llama.cpp; an Executive or callable -> used as is. `schema=False`: the executive
    built from the spec is not asked for, or does not decode under, the stages' JSON schemas."""
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
                schema=schema,
            )
        if text.startswith("local:"):
            path = text[len("local:") :]
            if not path:
                raise MemoError(
                    "executive 'local:': expected local:PACK_DIR (a pack of an instruct model) or local:MODEL.gguf"
                )
            if path.lower().endswith(".gguf"):
                return GGUFExecutive(path, threads=threads, seed=seed, schema=schema)
            return LocalExecutive(path, threads=threads, seed=seed, schema=schema)
        raise MemoError(f"executive '{spec}': expected none, an http(s):// OpenAI-compatible URL, or local:PACK")
    if not schema:  # an object's own `complete` decides what it does with a response_format
        raise MemoError(f"executive {spec!r}: schema=False applies to an executive named by a URL or local: spec")
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
        schema=cfg.executive_schema,
    )
