"""Continuous request batching for the server: concurrent requests are queued and decoded together.

A single worker thread owns the engine. It waits for work, gives stragglers a few milliseconds to arrive, then
runs up to `max_batch` queued rows (same stop strings and prefix; per-row token limits, temperatures and seeds) as
one batched `Engine.generate`. `Batcher.generate` has the engine's signature, so `Memory` can sit on top of it and
protocol runs from many clients share batches too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from memo_edge.errors import MemoError

from .engine import Completion, Engine


class QueueFull(Exception):
    """More rows are waiting than the server accepts; the client should retry later (HTTP 503)."""


class Cancelled(Exception):
    """The job was cancelled (its client went away) or ran past its deadline before it finished."""


@dataclass
class Job:
    prompt: str
    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    prefix: str | None = None
    on_token: Callable[[str, int], None] | None = None
    t_submit: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    result: Completion | None = None
    error: BaseException | None = None
    # Contract between the HTTP/MCP layer and the scheduler: the server calls cancel() when its client disconnects
    # and may set a deadline (a time.perf_counter() value); the scheduler drops such a job from the queue and stops
    # decoding its row at the next step (finish_reason "cancelled" / "deadline").
    deadline: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def expired(self, now: float | None = None) -> bool:
        return self.cancelled.is_set() or (self.deadline is not None and (now or time.perf_counter()) > self.deadline)

    @property
    def key(self):
        return (self.stop, self.prefix)


class Batcher:
    def __init__(self, engine: Engine, max_batch: int = 16, max_queue: int = 256, window_s: float = 0.004):
        self.engine = engine
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.window_s = window_s
        self._q: deque[Job] = deque()
        self._cv = threading.Condition()
        self._running = True
        self.batches = 0
        self.rows = 0
        self._thread = threading.Thread(target=self._loop, name="memo-batcher", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._q)

    def submit(self, job: Job) -> Job:
        n = len(self.engine.encode(job.prompt))
        if n == 0:
            raise MemoError("prompt is empty")
        if n + 1 >= self.engine.context_length:
            raise MemoError(f"prompt is {n} tokens; the model's context is {self.engine.context_length}")
        with self._cv:
            if not self._running:
                raise QueueFull("server is shutting down")
            if len(self._q) >= self.max_queue:
                raise QueueFull(f"{len(self._q)} requests already queued")
            self._q.append(job)
            self._cv.notify()
        return job

    def generate(self, prompts: list[str], max_new_tokens=64, temperature=0.0, top_p=1.0, seed=None, stop=None,
                 on_token=None, prefix=None, **_) -> list[Completion]:
        """Engine.generate's contract, served through the shared queue (blocks until all rows are done)."""
        n = len(prompts)

        def per(v, i):
            return v[i] if isinstance(v, (list, tuple)) else v

        jobs = []
        for i, p in enumerate(prompts):
            cb = (lambda i: (lambda text, tid: on_token(i, text, tid)))(i) if on_token else None
            jobs.append(self.submit(Job(p, int(per(max_new_tokens, i)), float(per(temperature, i)),
                                        float(per(top_p, i)), per(seed, i) if seed is not None else None,
                                        tuple(stop or ()), prefix, cb)))
        out = []
        for j in jobs:
            j.done.wait()
            if j.error is not None:
                raise j.error
            out.append(j.result)
        assert len(out) == n
        return out

    def _take(self) -> list[Job]:
        while True:
            with self._cv:
                while self._running and not self._q:
                    self._cv.wait()
                if not self._q:
                    return []
            time.sleep(self.window_s)  # let concurrent requests that arrive together share this batch
            with self._cv:
                self._drop_expired()
                if not self._q:
                    continue
                key = self._q[0].key
                batch, rest = [], deque()
                while self._q:
                    j = self._q.popleft()
                    (batch if j.key == key and len(batch) < self.max_batch else rest).append(j)
                self._q.extendleft(reversed(rest))
                return batch

    def _drop_expired(self) -> None:
        """Queued jobs whose client left or whose deadline passed are answered with Cancelled, never run."""
        now = time.perf_counter()
        for j in [j for j in self._q if j.expired(now)]:
            self._q.remove(j)
            j.error = Cancelled("cancelled" if j.cancelled.is_set() else "deadline passed before the job started")
            j.done.set()

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        t_start = time.perf_counter()

        def dispatch(i, text, tid):
            cb = batch[i].on_token
            if cb is not None:
                try:
                    cb(text, tid)
                except Exception:  # a client that went away must not break the others' batch
                    batch[i].on_token = None

        try:
            comps = self.engine.generate(
                [j.prompt for j in batch], max_new_tokens=[j.max_new_tokens for j in batch],
                temperature=[j.temperature for j in batch], top_p=[j.top_p for j in batch],
                seed=[j.seed for j in batch], stop=list(batch[0].stop), prefix=batch[0].prefix,
                on_token=dispatch if any(j.on_token for j in batch) else None)
        except Exception as e:
            if len(batch) > 1:  # isolate the row that failed; the others still get answers
                for j in batch:
                    self._run([j])
                return
            batch[0].error = e
            batch[0].done.set()
            return
        self.batches += 1
        self.rows += len(batch)
        for j, c in zip(batch, comps):
            c.queue_s = t_start - j.t_submit
            j.result = c
            j.done.set()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop taking work; rows already queued are still answered."""
        with self._cv:
            self._running = False
            self._cv.notify_all()
        self._thread.join(timeout)
        with self._cv:  # anything left after the timeout gets an error instead of hanging its client
            while self._q:
                j = self._q.popleft()
                j.error = QueueFull("server shut down")
                j.done.set()
