"""Append-only cache of GENERATOR calls: every reply is on disk the moment it arrives.

One JSON line per finished call, keyed by sha256(step, prompt version, model, input messages, attempt). Only replies
that validated are written (llm_pipeline): a reply that failed validation is not final, so a rerun asks again. A
SIGKILL can at worst cut the last line short; loading skips such a line, so a rerun asks exactly the calls that
never finished. The file is never rewritten, so an edited corpus reuses every call whose input did not change; a
key written twice keeps its last line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import MemoError


def call_key(step: str, version: str, model: str, messages: list[dict], attempt: int = 0) -> str:
    payload = json.dumps([step, version, model, messages, attempt], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CallCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._mem: dict[str, str] = {}
        self.hits = 0  # lookups that finished a call (counted by the caller, which validates)
        self.writes = 0
        self.skipped_lines = 0
        self.stale = 0  # cached replies that no longer validate (asked again)
        if self.path.is_file():
            self._load()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: each line lands at the end in one write, even if two processes share the file
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise MemoError(f"{self.path}: cannot open the call cache ({e.strerror})") from None
        self._ensure_newline()

    def _load(self) -> None:
        with self.path.open("rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw)
                    self._mem[rec["key"]] = rec["reply"]
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1  # a line cut short by a kill

    def _ensure_newline(self) -> None:
        size = self.path.stat().st_size
        if size:
            with self.path.open("rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def get(self, key: str) -> str | None:
        return self._mem.get(key)

    def put(self, key: str, reply: str, step: str = "") -> None:
        if self._mem.get(key) == reply:
            return
        self._mem[key] = reply
        line = json.dumps({"key": key, "step": step, "reply": reply}, ensure_ascii=False) + "\n"
        try:
            os.write(self._fd, line.encode("utf-8"))
        except OSError as e:  # a full disk: say where (the calls cached so far stay usable)
            raise MemoError(
                f"{self.path}: cannot append to the call cache ({e.strerror}); free some space and "
                "run again: finished calls are not asked again"
            ) from None
        self.writes += 1

    def __len__(self) -> int:
        return len(self._mem)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
