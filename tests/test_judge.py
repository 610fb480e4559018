"""The optional LLM judge of `memo eval` against a real OpenAI-compatible server on 127.0.0.1 (no model needed)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from memo_edge.errors import MemoError
from memo_edge.judge import judge, parse_verdict
from memo_edge.records import EvalItem
from openai_server import ScriptedServer

ITEMS = [
    EvalItem(id="q1", question="Who founded Quillfen Robotics?", answer="Ysolde Marrick", hops=1),
    EvalItem(id="q2", question="In which city is the company's headquarters?", answer="Tallbridge", hops=2),
    EvalItem(id="q3", question="What does Saltcell make?", answer="batteries", answer_aliases=["sodium cells"], hops=2),
    EvalItem(id="q4", question="When was Drossel Dynamics founded?", answer="1998", hops=3),
]


def _user(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("yes", True),
        ("Yes.", True),
        ("YES, they match", True),
        ("**Yes**", True),
        ("  no", False),
        ("No.", False),
        ("maybe", None),
        ("", None),
        ("The answer is yes", None),
        ("<html>", None),
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) is verdict


def test_accuracy_per_hop_and_unparsed():
    # The server decides by the candidate in the prompt: "Yes." for q1 and q3, "no" for q2, garbage for q4.
    replies = {"Marrick": "Yes.", "Lisbon": "no", "sodium cells": "YES", "last year": "I cannot tell."}

    def reply(body):
        return next(v for k, v in replies.items() if f"Candidate answer: {k}" in _user(body))

    preds = [
        {"predicted_answer": "Marrick"},
        {"predicted_answer": "Lisbon"},
        {"predicted_answer": "sodium cells"},
        {"predicted_answer": "last year"},
    ]
    with ScriptedServer(reply) as srv:
        res = judge(ITEMS, preds, srv.url, model="judge-m")
    assert res["judge_accuracy"] == 0.5 and res["unparsed"] == 1 and res["judge_model"] == "judge-m"
    assert res["per_hop"] == {
        "1": {"n": 1, "judge_accuracy": 1.0},
        "2": {"n": 2, "judge_accuracy": 0.5},
        "3": {"n": 1, "judge_accuracy": 0.0},
    }
    assert [p["judge"] for p in preds] == [True, False, True, False]
    # one request per prediction, deterministic, carrying the question, the gold answer and its aliases
    assert len(srv.requests) == 4
    assert all(b["temperature"] == 0 and b["model"] == "judge-m" for b in srv.requests)
    q3 = next(_user(b) for b in srv.requests if "Saltcell" in _user(b))
    assert "batteries" in q3 and "sodium cells" in q3


def test_requests_overlap_up_to_the_concurrency_bound():
    items = [EvalItem(id=f"q{i}", question=f"Question {i}?", answer="x") for i in range(8)]

    def run(concurrency: int, n: int, reply) -> int:
        preds = [{"predicted_answer": "x"} for _ in range(n)]
        with ScriptedServer(reply) as srv:
            res = judge(items[:n], preds, srv.url, concurrency=concurrency)
        assert res["judge_accuracy"] == 1.0 and len(srv.requests) == n
        return srv.max_in_flight

    # All 8 at once: each reply waits until the 8th request has arrived. A client sending fewer at a time breaks the
    # barrier after its timeout (the replies still go out), and the count below says how many overlapped.
    everyone = threading.Barrier(8, timeout=30)

    def when_all_arrived(body):
        with contextlib.suppress(threading.BrokenBarrierError):
            everyone.wait()
        return "yes"

    assert run(8, 8, when_all_arrived) == 8
    # The bound holds: each reply is held open a while, and still no more than 2 of the 4 requests are in flight.
    assert run(2, 4, lambda body: time.sleep(0.3) or "yes") == 2


def test_unreachable_url_is_one_memo_error_naming_it():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(MemoError) as e:
        judge(ITEMS[:2], [{"predicted_answer": "a"}, {"predicted_answer": "b"}], url, max_retries=1)
    msg = str(e.value)
    assert url in msg and "\n" not in msg


def test_malformed_judge_url_fails_before_the_pack_is_loaded(tmp_path, capsys):
    """CLI wiring without a model: the judge endpoint is checked before `memo eval` loads the pack."""
    from memo_edge.cli import main

    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "q1", "question": "Who?", "answer": "Ysolde"}\n')
    with pytest.raises(SystemExit) as e:
        main(["eval", str(tmp_path / "no-such-pack"), str(q), "--judge-url", "ftp://judge.example/v1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "ftp://judge.example/v1" in err and len(err.strip().splitlines()) == 1


def test_a_judge_failing_late_keeps_the_answers(tiny_dir, capsys):
    """The answers are computed before the judge runs: an unreachable judge costs the judge column, not the eval."""
    from runtime_fixtures import varied_pack

    from memo_edge.evaluate import evaluate
    from memo_edge.judge import JudgeConfig

    url = f"http://127.0.0.1:{_free_port()}/v1"
    res = evaluate(varied_pack(tiny_dir)[1], ITEMS[:2], judge=JudgeConfig(judge_url=url), progress=False)
    assert len(res["predictions"]) == 2 and "judge" not in res
    assert url in res["judge_error"] and "judge skipped" in capsys.readouterr().err
