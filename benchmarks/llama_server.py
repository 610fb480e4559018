"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`, the `[llama]` extra) on 127.0.0.1, serving
a GGUF: the executive of benchmarks/executives.py and of tests/test_llama_server.py.

    with LlamaServer(gguf) as srv:   # srv.url = http://127.0.0.1:PORT/v1
        ...

It is ready when uvicorn says so on the child's stderr (an event, not a guess of how long loading takes); the
child's output is kept and shown when it dies.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

SERVER_MODULES = ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def missing_modules() -> list[str]:
    """What `python -m llama_cpp.server` needs and this environment lacks (pip install 'memo-edge[llama]')."""
    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, gguf: str | Path, n_ctx: int = 4096, threads: int = 2, ready_s: float = 300.0):
        self.gguf = Path(gguf)
        self.n_ctx = n_ctx
        self.threads = threads
        self.ready_s = ready_s
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log: list[str] = []
        self._ready = threading.Event()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LlamaServer":
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(self.ready_s) or self.proc.poll() is not None:
            self.__exit__()
            tail = "\n".join(self.log[-20:])
            raise RuntimeError(f"llama_cpp.server on {self.gguf.name} did not start:\n{tail}")
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            if "Uvicorn running on" in line:
                self._ready.set()
        self._ready.set()  # the child exited: wake the waiter, which finds it dead

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
