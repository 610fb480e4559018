"""Continuous batching for the server: requests join the running batch at the next decode step and leave when done.

A single worker thread owns the engine's `Batch` (engine.py). Each turn of its loop it moves queued jobs into the
batch while it has room (`max_batch` rows), then runs one `Batch.step()`: expired rows leave, new prompts are
prefilled (a long prompt one chunk per step, so it never freezes the rows decoding beside it), every live row
decodes one token, finished rows are answered at once. Rows differ freely in prompt, prefix, stop strings, token
limit, temperature and seed. `Batcher.generate` has Engine.generate's signature, so `Memory` can sit on top of it
and protocol runs from many clients share decode steps too.

The contract between the HTTP/MCP layer and the scheduler (`Job`):
- `submit(job)` validates the prompt (MemoError: empty, or too long for the context) and its response_format
  (GrammarError, a MemoError: compiled to a grammar there, in the caller's thread) and queues it, or raises
  `QueueFull` (more than `max_queue` jobs waiting, or shutting down: HTTP 503).
- `job.on_token(text, token_id)` streams new text from the worker thread (keep it quick; an exception in it stops
  that job's streaming, never the batch). `job.done` is set when `job.result` (a Completion) or `job.error` is.
- `job.cancel()` (its client went away) and `job.deadline` (a `time.perf_counter()` value) are honoured at the next
  step: a job still queued, or admitted but not yet prefilled, is answered with the error `Cancelled` and never
  runs; a job already generating stops there and is answered with its partial Completion, finish_reason
  "cancelled" or "deadline".
- `close()` stops taking jobs and lets queued and running ones finish.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .config import MAX_QUEUE
from .engine import Completion, Engine, Request


class QueueFull(Exception):
    """More rows are waiting than the server accepts; the client should retry later (HTTP 503)."""


class Cancelled(Exception):
    """The job was cancelled (its client went away) or ran past its deadline before it started."""


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
    # Contract between the HTTP/MCP layer and the scheduler (module docstring): the server calls cancel() when its
    # client disconnects and may set a deadline (a time.perf_counter() value).
    deadline: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    request: Request | None = field(default=None, repr=False)  # the engine's row, made by submit()
    response_format: dict | None = None  # an OpenAI response_format: the reply follows its JSON schema

    def cancel(self) -> None:
        self.cancelled.set()

    def expired(self, now: float | None = None) -> bool:
        return self.stop_reason(now) is not None

    def stop_reason(self, now: float | None = None) -> str | None:
        if self.cancelled.is_set():
            return "cancelled"
        if self.deadline is not None and (now or time.perf_counter()) > self.deadline:
            return "deadline"
        return None


class Batcher:
    def __init__(self, engine: Engine, max_batch: int | None = None, max_queue: int = MAX_QUEUE):
        """max_batch: rows decoded together (default: the engine's, i.e. LoadConfig.max_batch)."""
        self.engine = engine
        self.max_batch = max_batch or engine.max_batch
        self.max_queue = max_queue
        self.batch = engine.batch(max_rows=max_batch)
        self._q: deque[Job] = deque()
        self._jobs: dict[int, Job] = {}  # id(request) -> job, for the rows in the batch
        self._cv = threading.Condition()
        self._running = True
        self.batches = 0  # busy periods: from idle until the batch is empty again
        self.rows = 0  # jobs answered
        self.steps = 0
        self._thread = threading.Thread(target=self._loop, name="memo-batcher", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting for room in the batch."""
        return len(self._q)

    def submit(self, job: Job) -> Job:
        return self.submit_many([job])[0]

    def submit_many(self, jobs: list[Job]) -> list[Job]:
        """Queue jobs together (they can then share a prefill call); all or none are queued."""
        for j in jobs:
            j.request = self._request(j)
        with self._cv:
            if not self._running:
                raise QueueFull("server is shutting down")
            if len(self._q) + len(jobs) > self.max_queue:
                raise QueueFull(f"{len(self._q)} requests already queued")
            self._q.extend(jobs)
            self._cv.notify()
        return jobs

    def _request(self, job: Job) -> Request:
        def stream(text, tid):
            cb = job.on_token
            if cb is not None:
                try:
                    cb(text, tid)
                except Exception:  # a client that went away must not break the others' batch
                    job.on_token = None

        # MemoError here (empty prompt, longer than the context) goes back to the caller of submit()
        return self.engine.request(
            job.prompt,
            job.max_new_tokens,
            job.temperature,
            job.top_p,
            job.seed,
            list(job.stop),
            None,
            job.prefix,
            stream if job.on_token else None,
            job.stop_reason,
            response_format=job.response_format,
        )

    def generate(
        self,
        prompts: list[str],
        max_new_tokens=64,
        temperature=0.0,
        top_p=1.0,
        seed=None,
        stop=None,
        on_token=None,
        prefix=None,
        response_format=None,
        **_,
    ) -> list[Completion]:
        """Engine.generate's contract, served through the shared batch (blocks until all rows are done)."""

        def per(v, i):
            return v[i] if isinstance(v, (list, tuple)) else v

        jobs = []
        for i, p in enumerate(prompts):
            cb = (lambda i: lambda text, tid: on_token(i, text, tid))(i) if on_token else None
            jobs.append(
                Job(
                    p,
                    int(per(max_new_tokens, i)),
                    float(per(temperature, i)),
                    float(per(top_p, i)),
                    per(seed, i) if seed is not None else None,
                    tuple(stop or ()),
                    prefix,
                    cb,
                    response_format=per(response_format, i),
                )
            )
        self.submit_many(jobs)
        out = []
        for j in jobs:
            j.done.wait()
            if j.error is not None:
                raise j.error
            out.append(j.result)
        return out

    # ---- the worker --------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._running and not self._q and not self.batch.busy:
                    self._cv.wait()
                if not self._q and not self.batch.busy:
                    return
                if not self.batch.busy:
                    self.batches += 1
                self._drop_expired()
                room = self.max_batch - self.batch.rows - len(self.batch.waiting)
                admitted = [self._q.popleft() for _ in range(min(room, len(self._q)))]
            now = time.perf_counter()
            for j in admitted:
                j.request.t_start = now  # ttft counts from admission; the wait before it is queue_s
                self._jobs[id(j.request)] = j
                self.batch.add(j.request)
            try:
                finished = self.batch.step()
            except Exception as e:  # an engine failure fails the rows in the batch, not the worker
                self._fail_batch(e)
                continue
            self.steps += 1
            for r in finished:
                self._answer(r)

    def _answer(self, r: Request) -> None:
        j = self._jobs.pop(id(r))
        if r.finish in ("cancelled", "deadline") and not r.started:
            j.error = Cancelled("cancelled" if r.finish == "cancelled" else "deadline passed before the job started")
        else:
            c = r.completion()
            c.queue_s = r.t_start - j.t_submit
            j.result = c
        self.rows += 1
        j.done.set()

    def _fail_batch(self, e: Exception) -> None:
        for j in self._jobs.values():
            j.error = e
            j.done.set()
        self._jobs.clear()
        self.batch.reset()

    def _drop_expired(self) -> None:
        """Queued jobs whose client left or whose deadline passed are answered with Cancelled, never run."""
        now = time.perf_counter()
        for j in [j for j in self._q if j.expired(now)]:
            self._q.remove(j)
            j.error = Cancelled("cancelled" if j.cancelled.is_set() else "deadline passed before the job started")
            j.done.set()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop taking work; jobs already queued or running are still answered."""
        with self._cv:
            self._running = False
            self._cv.notify_all()
        self._thread.join(timeout)
        with self._cv:  # anything left after the timeout gets an error instead of hanging its client
            while self._q:
                j = self._q.popleft()
                j.error = QueueFull("server shut down")
                j.done.set()
