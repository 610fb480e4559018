"""End to end against a real OpenAI-compatible server that enforces schemas: llama-cpp-python's server
(`python -m llama_cpp.server`, the `[llama]` extra) serving SmolLM2-135M-Instruct's GGUF as the EXECUTIVE, the tiny
test pack as the MEMORY, MeMo's four stages on every demo question. A 135M executive does not reason well; what is
checked is that the protocol never breaks: every reply parses on its first try, no repair round, no fallback."""

from __future__ import annotations

import json
import os

import pytest
from runtime_fixtures import varied_pack

from benchmarks.llama_server import LlamaServer, missing_modules
from memo_edge.executives import OpenAIExecutive
from memo_edge.protocol import STAGES, ProtocolConfig, run_protocol

pytestmark = pytest.mark.slow
MISSING = missing_modules()
if MISSING:
    pytest.skip(
        f"llama-cpp-python's server is not installed (missing {', '.join(MISSING)}): pip install 'memo-edge[llama]'",
        allow_module_level=True,
    )

if os.environ.get("MEMO_LLAMA_E2E") != "1":
    pytest.skip(
        "30 demo questions through a 135M executive take ~20 min on two busy cores: `make test-llama` runs it "
        "(MEMO_LLAMA_E2E=1)",
        allow_module_level=True,
    )

# One turn of pinning and one of seeking: every stage runs on every question. Replies of up to 1,024 tokens: the
# longest reply the bounded schemas admit (llama.cpp form) fits.
CONFIG = ProtocolConfig(entity_turns=1, answer_turns=1, exec_max_tokens=1024, seed=0)


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


def test_a_135m_executive_on_llama_cpp_speaks_every_stage_of_the_protocol(pack, smollm2_gguf, demo_dir):
    from memo_edge.runtime import Memory

    questions = [json.loads(line)["question"] for line in (demo_dir / "questions.jsonl").read_text().splitlines()]
    memory = Memory.load(pack, threads=1)
    with LlamaServer(smollm2_gguf, threads=1) as srv:
        executive = OpenAIExecutive(srv.url, model="smollm2", timeout_s=300, max_retries=1)
        answers = [run_protocol(q, memory, executive, config=CONFIG) for q in questions]
        executive.close()
    refusals = [e for a in answers for e in a.trace if e["kind"] == "response_format"]
    # llama-cpp-python 0.3.36 refuses json_schema (500 naming response_format) once, then enforces its own form
    assert len(refusals) == 1 and "json_schema refused, next json_object" in refusals[0]["refused"]
    assert {a.executive_format for a in answers} == {"json_object"}
    for a in answers:
        r = a.executive_replies
        invalid = [f"{e['stage']}: {e['error']}: {e['reply']!r}" for e in a.trace if e["kind"] == "executive_invalid"]
        assert (r["unparsed"], r["repairs"], r["fallbacks"]) == (0, 0, 0), "\n".join([a.question, *invalid])
        assert r["first_try"] == r["decisions"] == r["schema"], (a.question, r)
        assert a.status == "ok" and a.final_answer
        asked = {e["stage"] for e in a.trace if e["kind"] == "executive"}
        assert asked == set(STAGES), (a.question, asked)
