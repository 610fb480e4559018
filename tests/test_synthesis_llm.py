"""The five-step LLM pipeline against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/openai_server.py),
driven by the scripted generator (valid step outputs built by the extractive rules), with injected faults."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from memo_edge.errors import MemoError
from memo_edge.records import load_reflections
from memo_edge.synthesis import SynthesisConfig, synthesize
from memo_edge.synthesis.nlp import load_nlp
from memo_edge.synthesis.scripted import scripted_reply
from memo_edge.synthesis.text import normalize
from openai_server import Fault, ScriptedServer

DEMO = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "corpus"
ALL_TYPES = {"direct", "indirect", "consolidated", "entity", "crossdoc"}


def _prompt(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def _cfg(urls, **kw) -> SynthesisConfig:
    kw.setdefault("concurrency", 8)
    return SynthesisConfig(generator="openai", generator_urls=urls, generator_model="scripted", **kw)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """Four demo documents: enough for every step, fast enough for fault tests."""
    c = tmp_path / "corpus"
    c.mkdir()
    for name in (
        "03-quillfen-robotics.md",
        "04-ysolde-marrick.md",
        "09-drossel-dynamics.md",
        "10-saltcell-batteries.md",
    ):
        shutil.copy(DEMO / name, c / name)
    return c


def test_all_five_steps_produce_validated_records(tmp_path):
    with ScriptedServer(scripted_reply) as a, ScriptedServer(scripted_reply) as b:
        out = tmp_path / "r.jsonl"
        card = synthesize(DEMO, out, _cfg([a.url, b.url]), progress=False)
        rows = load_reflections(out)
        # several --generator-url values share the work round-robin
        assert len(a.requests) > 20 and len(b.requests) > 20
        assert abs(len(a.requests) - len(b.requests)) <= 1
    assert {r.type for r in rows} == ALL_TYPES
    assert card["failed_items"] == [] and card["reflections"] == len(rows)
    assert card["prompt_version"].startswith("memo-synth-v1")
    assert all(r.generator == "openai:scripted" for r in rows)
    assert all(len(r.source_doc_ids) >= 2 for r in rows if r.type == "crossdoc")
    ids = {i for r in rows for i in r.source_doc_ids + r.source_chunk_ids}
    assert not any(i in r.question + r.answer for r in rows for i in ids)
    keys = [normalize(r.question) for r in rows]
    assert len(keys) == len(set(keys))
    # exact JSON keys of the issue appear in the prompts
    prompts = " ".join(_prompt(q) for q in a.requests + b.requests)
    for key in (
        '"qa_pairs"',
        '"consolidated_qa_pairs"',
        '"combined_from"',
        '"commonality"',
        '"combination_size"',
        '"is_self_contained"',
        '"entity_surfacing_qa_pairs"',
        '"complexity"',
        '"facts_used"',
        '"crossdoc_qa_pairs"',
        '"source_doc_ids"',
    ):
        assert key in prompts
    assert (tmp_path / "r.card.json").is_file() and (tmp_path / "r.cache.jsonl").is_file()


def test_faults_500_timeout_garbage_drop_and_prose_are_survived(tmp_path, small_corpus):
    lock = threading.Lock()
    seen = {"n": 0}
    faults = {
        1: Fault(status=500),
        2: Fault(delay_s=3.0, then="{}"),
        3: Fault(garbage=True),
        4: Fault(drop=True),
        5: Fault(status=429),
        7: Fault(status=503),
    }

    def reply(body):
        with lock:
            seen["n"] += 1
            n = seen["n"]
        if n in faults:
            return faults[n]
        good = scripted_reply(body)
        if n == 6 or n % 17 == 0:
            return "Sure! I cannot do JSON today."  # content that holds no JSON: re-asked with the error
        if n % 5 == 0:
            return f"Here is the JSON you asked for:\n```json\n{good}\n```\nHope this helps!"
        return good

    load_nlp()  # the scripted generator parses with spaCy: load it before the clock of the first request starts
    with ScriptedServer(reply) as srv:  # 2 s: a healthy scripted reply takes ~0.2 s; fault 2 sleeps 3 s (a timeout)
        card = synthesize(
            small_corpus, tmp_path / "r.jsonl", _cfg([srv.url], timeout_s=2.0, max_retries=4), progress=False
        )
    rows = load_reflections(tmp_path / "r.jsonl")
    assert card["failed_items"] == []
    assert {r.type for r in rows} == ALL_TYPES
    invalid = sum(s.get("invalid", 0) for s in card["step_stats"].values() if isinstance(s, dict))
    assert invalid >= 1


def test_an_item_that_keeps_failing_is_reported_and_the_run_completes(tmp_path, small_corpus):
    def reply(body):
        if '"entity_surfacing_qa_pairs"' in _prompt(body) and "Document title: Drossel Dynamics" in _prompt(body):
            return Fault(status=500)
        return scripted_reply(body)

    with ScriptedServer(reply) as srv:
        card = synthesize(small_corpus, tmp_path / "r.jsonl", _cfg([srv.url], max_retries=1), progress=False)
    assert card["failed_items"] and all(f["step"] == "entity" for f in card["failed_items"])
    assert all(f["item"].startswith("Drossel Dynamics") for f in card["failed_items"])
    assert {r.type for r in load_reflections(tmp_path / "r.jsonl")} == ALL_TYPES


def test_self_containment_fixes_up_to_five_times_then_drops(tmp_path, small_corpus):
    fixes: dict[str, int] = {}

    def reply(body):
        p = _prompt(body)
        if '"is_self_contained"' in p:
            q = p.split("Question: ", 1)[1].split("\n", 1)[0]
            if q.startswith("Who"):
                return json.dumps({"is_self_contained": False})  # never fixable: dropped
            return json.dumps({"is_self_contained": not q.startswith("What") or "precisely" in q})
        if "Task (repair)" in p:
            q, a = p.split("Question: ", 1)[1].split("\nAnswer: ", 1)
            a = a.split("\n", 1)[0]
            root = q.split(" precisely")[0].rstrip("?")
            fixes[root] = fixes.get(root, 0) + 1
            return json.dumps({"question": q.rstrip("?") + " precisely?", "answer": a})
        return scripted_reply(body)

    with ScriptedServer(reply) as srv:
        card = synthesize(
            small_corpus, tmp_path / "r.jsonl", _cfg([srv.url], steps=("facts", "selfcontain")), progress=False
        )
    rows = load_reflections(tmp_path / "r.jsonl")
    assert card["dropped_by_selfcontainment"] > 0
    assert not any(r.question.startswith("Who") for r in rows)
    assert any(r.question.startswith("What") and r.question.endswith("precisely?") for r in rows)
    who_fixes = [n for q, n in fixes.items() if q.startswith("Who")]
    assert who_fixes and max(who_fixes) == 5


def test_rerun_and_edited_corpus_only_ask_what_changed(tmp_path, small_corpus):
    with ScriptedServer(scripted_reply) as srv:
        out = tmp_path / "r.jsonl"
        synthesize(small_corpus, out, _cfg([srv.url]), progress=False)
        first = len(srv.requests)
        first_bytes = out.read_bytes()
        synthesize(small_corpus, out, _cfg([srv.url]), progress=False)
        assert len(srv.requests) == first  # nothing asked again
        assert out.read_bytes() == first_bytes  # same result from the cache
        doc = small_corpus / "10-saltcell-batteries.md"
        doc.write_text(doc.read_text() + "\nThe Saltcell SC-200 will be launched in 2026.\n")
        synthesize(small_corpus, out, _cfg([srv.url]), progress=False)
        again = len(srv.requests) - first
        assert any("SC-200" in _prompt(b) for b in srv.requests[first:])
    assert 0 < again < first / 2


def test_explicit_groups_file(tmp_path, small_corpus):
    groups = tmp_path / "groups.json"
    groups.write_text(
        json.dumps(
            [["Quillfen Robotics", "09-drossel-dynamics"], {"docs": ["Ysolde Marrick", "10-saltcell-batteries.md"]}]
        )
    )
    with ScriptedServer(scripted_reply) as srv:
        synthesize(
            small_corpus, tmp_path / "r.jsonl", _cfg([srv.url], steps=("crossdoc",), groups_file=groups), progress=False
        )
        cross = [_prompt(b) for b in srv.requests if '"crossdoc_qa_pairs"' in _prompt(b)]
    assert len(cross) == 2
    assert any("] Quillfen Robotics" in p and "] Drossel Dynamics" in p for p in cross)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([["Quillfen Robotics", "No Such Doc"]]))
    with pytest.raises(MemoError, match="unknown document 'No Such Doc'"):
        synthesize(
            small_corpus,
            tmp_path / "r2.jsonl",
            _cfg(["http://127.0.0.1:9/v1"], steps=("crossdoc",), groups_file=bad),
            progress=False,
        )


def test_unreachable_server_fails_cleanly(tmp_path, small_corpus):
    with pytest.raises(MemoError, match="no usable"):
        synthesize(
            small_corpus,
            tmp_path / "r.jsonl",
            _cfg(["http://127.0.0.1:9/v1"], steps=("facts",), max_retries=0, timeout_s=2),
            progress=False,
        )
    assert not (tmp_path / "r.jsonl").exists()


def test_api_key_comes_from_the_named_environment_variable(tmp_path, small_corpus, monkeypatch):
    seen: list[str | None] = []
    with ScriptedServer(scripted_reply) as srv:
        base = srv.httpd.RequestHandlerClass

        class Recording(base):
            def do_POST(self):
                seen.append(self.headers.get("Authorization"))
                super().do_POST()

        srv.httpd.RequestHandlerClass = Recording
        monkeypatch.setenv("MEMO_TEST_GEN_KEY", "sk-test-123")
        synthesize(
            small_corpus,
            tmp_path / "r.jsonl",
            _cfg([srv.url], steps=("facts",), api_key_env="MEMO_TEST_GEN_KEY"),
            progress=False,
        )
    assert seen and set(seen) == {"Bearer sk-test-123"}


@pytest.mark.slow
def test_cli_openai_generator_with_steps_subset(tmp_path, small_corpus):
    import subprocess
    import sys

    with ScriptedServer(scripted_reply) as srv:
        out = tmp_path / "r.jsonl"
        p = subprocess.run(
            [
                str(Path(sys.executable).parent / "memo"),
                "synthesize",
                str(small_corpus),
                "-o",
                str(out),
                "--generator",
                "openai",
                "--generator-url",
                srv.url,
                "--generator-model",
                "m",
                "--steps",
                "facts,entity",
                "--concurrency",
                "4",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        prompts = [_prompt(b) for b in srv.requests]
    assert p.returncode == 0, p.stderr
    assert {r.type for r in load_reflections(out)} == {"direct", "indirect", "entity"}
    assert not any('"is_self_contained"' in q or '"crossdoc_qa_pairs"' in q for q in prompts)
    bad = subprocess.run(
        [
            str(Path(sys.executable).parent / "memo"),
            "synthesize",
            str(small_corpus),
            "-o",
            str(out),
            "--generator",
            "openai",
            "--generator-url",
            "x",
            "--generator-model",
            "m",
            "--steps",
            "facts,nope",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr
