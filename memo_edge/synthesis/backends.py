"""GENERATOR backends for the LLM pipeline: an async `complete(messages) -> str` over two kinds of model.

- OpenAIBackend: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI); many requests in flight,
  round-robin over several base URLs, retries with backoff + jitter (memo_edge.openai_client.ChatEndpoint).
- HFBackend: a local transformers checkpoint; transformers is imported only when this backend is built, and
  generation runs one call at a time in a worker thread (a CPU model gains nothing from parallel calls).
"""

from __future__ import annotations

import asyncio
import threading

import httpx

from ..errors import MemoError
from ..models import resolve_model
from ..openai_client import ChatEndpoint
from .config import SynthesisConfig


class OpenAIBackend:
    def __init__(self, cfg: SynthesisConfig):
        self.cfg = cfg
        self.endpoint = ChatEndpoint(
            urls=list(cfg.generator_urls),
            model=cfg.generator_model,
            api_key_env=cfg.api_key_env,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
        )
        self._client = None

    @property
    def model(self) -> str:
        return self.cfg.generator_model

    async def __aenter__(self):
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
        self._client = httpx.AsyncClient(timeout=self.cfg.timeout_s, limits=limits)
        return self

    async def __aexit__(self, *exc):
        await self._client.aclose()

    async def complete(self, messages: list[dict]) -> str:
        return await self.endpoint.achat(
            messages, temperature=self.cfg.temperature, max_tokens=self.cfg.max_tokens, client=self._client
        )


class HFBackend:
    def __init__(self, cfg: SynthesisConfig):
        self.cfg = cfg
        self.path = resolve_model(str(cfg.hf_model))
        self._lock = threading.Lock()
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MemoError(
                "generator 'hf' needs the [train] extra (torch + transformers): pip install 'memo-edge[train]'"
            ) from None
        self.tok = AutoTokenizer.from_pretrained(self.path)
        self.model_obj = AutoModelForCausalLM.from_pretrained(self.path)
        self.model_obj.eval()

    @property
    def model(self) -> str:
        return f"hf:{self.path.name}"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def _generate(self, messages: list[dict]) -> str:
        import torch

        with self._lock:
            enc = self.tok.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            kw = dict(max_new_tokens=self.cfg.max_tokens, pad_token_id=self.tok.eos_token_id)
            if self.cfg.temperature > 0:
                kw.update(do_sample=True, temperature=self.cfg.temperature)
            else:
                kw.update(do_sample=False)
            with torch.no_grad():
                out = self.model_obj.generate(**enc, **kw)
            return self.tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)

    async def complete(self, messages: list[dict]) -> str:
        return await asyncio.to_thread(self._generate, messages)


def make_backend(cfg: SynthesisConfig):
    if cfg.generator == "openai":
        return OpenAIBackend(cfg)
    if cfg.generator == "hf":
        return HFBackend(cfg)
    raise MemoError(f"generator '{cfg.generator}' is not an LLM backend")
