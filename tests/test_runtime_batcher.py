"""Continuous batching: rows join and leave a running batch; cancel/deadline at the next step; chunked prefill of
long prompts between decode steps; KV memory given back; outputs equal to each request run alone."""

from __future__ import annotations

import threading
import time

import pytest
from runtime_fixtures import varied_pack

from memo_edge.errors import MemoError
from memo_edge.runtime.batcher import Batcher, Cancelled, Job, QueueFull
from memo_edge.runtime.engine import Engine

QUESTIONS = [
    "Who founded Lumen Labs?",
    "What is 2+2?",
    "Name the river that runs through the old town of Vell.",
    "When?",
]


@pytest.fixture(scope="module")
def engine(tiny_dir):
    # small prefill chunks, so a few hundred tokens already make a "long" prompt on the tiny model
    return Engine(varied_pack(tiny_dir)[1], threads=2, prefill_chunk=64)


def render(engine, q):
    return engine.manifest.prompt.render(q)


def long_prompt(engine, words=400):
    p = render(engine, "Summarize: " + " ".join(f"word{i % 37}" for i in range(words)))
    assert len(engine.encode(p)) > 4 * engine.prefill_chunk
    return p


def alone(engine, prompt, n, **kw):
    return engine.generate([prompt], max_new_tokens=n, **{"stop_token_ids": [], **kw})[0]


def test_long_prompt_is_prefilled_in_chunks_between_decode_steps(engine):
    short, long = render(engine, QUESTIONS[0]), long_prompt(engine)
    b = engine.batch(4)
    rs = b.add(engine.request(short, 60, stop_token_ids=[]))
    b.step()
    assert len(rs.out) == 2  # prefilled (first token) and decoded once in the same step
    rl = b.add(engine.request(long, 6, stop_token_ids=[]))
    progress = []  # (prompt tokens of the long one cached, tokens of the short one) after each step
    while not rl.out:
        b.step()
        progress.append((rl.cached, len(rs.out)))
    # the long prompt went in several chunks while the short row decoded one token in every step
    assert len({c for c, n in progress if n < 60}) > 3 and progress[-1][0] == len(rl.ids)
    assert [n for _, n in progress] == [min(3 + i, 60) for i in range(len(progress))]
    assert all(c < len(rl.ids) for c, _ in progress[:-1])
    while b.busy:
        b.step()
    assert rl.finish == rs.finish == "length"
    assert rl.out == alone(engine, long, 6).token_ids  # chunked prefill + joining mid-batch changes nothing
    assert rs.out == alone(engine, short, 60).token_ids


def test_kv_memory_is_given_back_after_a_long_prompt(engine):
    b = engine.batch(4)
    b.add(engine.request(render(engine, QUESTIONS[1]), 4, stop_token_ids=[]))
    while b.busy:
        b.step()
    small = b.kv.nbytes
    assert 0 < small
    b.keep_kv_bytes = small  # keep what short prompts need, no more
    r = b.add(engine.request(long_prompt(engine, 600), 4, stop_token_ids=[]))
    peak = 0
    while b.busy:
        b.step()
        peak = max(peak, b.kv.nbytes)
    assert r.finish == "length" and peak > small
    assert b.kv.nbytes == 0 and b.staging is None  # the long prompt's buffers were released
    b.add(engine.request(render(engine, QUESTIONS[1]), 4, stop_token_ids=[]))
    while b.busy:
        b.step()
    assert b.kv.nbytes <= small


@pytest.fixture()
def batcher(engine):
    b = Batcher(engine, max_batch=4)
    yield b
    b.close()


def test_short_request_behind_a_long_one_finishes_first(engine, batcher):
    order = []
    long = Job(long_prompt(engine), max_new_tokens=96)
    short = Job(render(engine, QUESTIONS[1]), max_new_tokens=4)
    watchers = [
        threading.Thread(target=lambda j=j, name=name: (j.done.wait(60), order.append(name)))
        for j, name in ((long, "long"), (short, "short"))
    ]
    for w in watchers:
        w.start()
    batcher.submit(long)
    batcher.submit(short)
    for w in watchers:
        w.join()
    assert order == ["short", "long"]
    assert short.result.token_ids == alone(engine, short.prompt, 4, stop_token_ids=None).token_ids
    assert long.result.completion_tokens > short.result.completion_tokens
    assert batcher.batches == 1  # the short one joined the running batch, it did not wait for it to end


def test_cancel_stops_decoding_at_the_next_step(engine, batcher):
    def on_token(text, tid):
        got.append(tid)
        if len(got) == 3:
            job.cancel()

    got = []
    job = Job(render(engine, QUESTIONS[2]), max_new_tokens=50, on_token=on_token)
    other = Job(render(engine, QUESTIONS[0]), max_new_tokens=12)
    batcher.submit_many([job, other])
    assert job.done.wait(60) and other.done.wait(60)
    c = job.result
    assert c.finish_reason == "cancelled" and c.completion_tokens == 3
    assert other.result.token_ids == alone(engine, other.prompt, 12, stop_token_ids=None).token_ids


def test_deadline(engine, batcher):
    late = Job(render(engine, QUESTIONS[0]), max_new_tokens=8, deadline=time.perf_counter() - 1)
    batcher.submit(late)
    assert late.done.wait(60)
    assert isinstance(late.error, Cancelled) and late.result is None  # never ran

    def on_token(text, tid):
        n[0] += 1
        if n[0] == 2:
            job.deadline = time.perf_counter()  # passes before the next step

    n = [0]
    job = Job(render(engine, QUESTIONS[1]), max_new_tokens=40, on_token=on_token)
    batcher.submit(job)
    assert job.done.wait(60)
    assert job.result.finish_reason == "deadline" and job.result.completion_tokens == 2


def test_batched_through_the_batcher_equals_alone(engine, batcher):
    ps = [render(engine, q) for q in QUESTIONS]
    prefix = engine.manifest.prompt.prefix
    jobs = [
        Job(p, max_new_tokens=k, prefix=prefix if i % 2 else None) for i, (p, k) in enumerate(zip(ps, [5, 9, 14, 7]))
    ]
    # submitted one by one from different threads: rows join a batch that is already decoding
    ts = [threading.Thread(target=batcher.submit, args=(j,)) for j in jobs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for j, p, k in zip(jobs, ps, [5, 9, 14, 7]):
        assert j.done.wait(60) and j.error is None
        assert j.result.token_ids == alone(engine, p, k, stop_token_ids=None).token_ids
    # Engine.generate's contract through the batcher, with the prefix reused
    via = batcher.generate(ps, max_new_tokens=10, prefix=prefix)
    assert [c.token_ids for c in via] == [c.token_ids for c in engine.generate(ps, max_new_tokens=10)]
    assert via[0].prefix_tokens_reused == len(engine.encode(prefix)) > 10


def test_submit_validates_and_bounds_the_queue(engine):
    b = Batcher(engine, max_batch=1, max_queue=1)
    gate = threading.Event()
    try:
        with pytest.raises(MemoError, match="empty"):
            b.submit(Job(""))
        hold = b.submit(Job(render(engine, "hold"), 2, on_token=lambda t, i: gate.wait(30)))
        t_end = time.time() + 10
        while b.pending and time.time() < t_end:  # the worker took `hold` (and now blocks in its callback)
            time.sleep(0.01)
        queued = b.submit(Job(render(engine, QUESTIONS[0]), 2))  # waits for a free row
        with pytest.raises(QueueFull):
            b.submit(Job(render(engine, QUESTIONS[1]), 2))
        gate.set()
        assert hold.done.wait(30) and queued.done.wait(30) and queued.result.completion_tokens == 2
    finally:
        gate.set()
        b.close()
