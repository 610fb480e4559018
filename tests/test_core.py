"""Core pieces: metrics, corpus loading and chunking, atomic writes, records, build config, oracle substitution."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memo_edge.atomic import atomic_dir, write_text
from memo_edge.config import load_build_config
from memo_edge.corpus import ChunkingConfig, chunk_document, load_corpus
from memo_edge.errors import MemoError
from memo_edge.evaluate import oracle_answers, score, substitute_refs
from memo_edge.metrics import best_em_f1, exact_match, f1, normalize_answer
from memo_edge.prompt import MemoryPrompt, is_idk
from memo_edge.records import EvalItem, load_eval_items, load_reflections


def test_normalization_matches_musique():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a pear") == "apple pear"
    assert exact_match("the Paris", "Paris") == 1.0
    assert f1("Paris France", "Paris") == pytest.approx(2 / 3)
    assert f1("", "Paris") == 0.0
    assert best_em_f1("Gullwind", ["the ferry", "The Gullwind"]) == (1.0, 1.0)


def test_corpus_reads_md_txt_jsonl_and_skips_binary(tmp_path):
    (tmp_path / "a.md").write_text("# Alpha Doc\ndate: 2023-05-01\n\nAlpha founded Beta in 2001.\n")
    (tmp_path / "b.txt").write_text("Plain text about Gamma.")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "x", "title": "Delta", "text": "Delta is red.", "date": "2020"}) + "\n"
    )
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.warns(UserWarning) as rec:
        docs = load_corpus(tmp_path)
    assert {d.title for d in docs} == {"Alpha Doc", "b", "Delta"}
    alpha = next(d for d in docs if d.title == "Alpha Doc")
    assert alpha.date == "2023-05-01" and "date:" not in alpha.text
    assert any("bin.txt" in str(w.message) for w in rec) and any("latin.md" in str(w.message) for w in rec)


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda p: None, "corpus folder not found"),
        (lambda p: p.mkdir(), "no usable documents"),
    ],
)
def test_corpus_bad_folders(tmp_path, setup, expected):
    folder = tmp_path / "corpus"
    setup(folder)
    with pytest.raises(MemoError, match=expected):
        load_corpus(folder)


def test_chunk_ids_are_content_hashes_and_overlap(tmp_path):
    text = " ".join(f"w{i}" for i in range(500))
    (tmp_path / "a.md").write_text(text)
    doc = load_corpus(tmp_path)[0]
    chunks = chunk_document(doc, ChunkingConfig(chunk_words=200, overlap_words=50))
    assert [len(c.text.split()) for c in chunks] == [200, 200, 200]
    assert chunks[0].text.split()[-50:] == chunks[1].text.split()[:50]
    again = chunk_document(load_corpus(tmp_path)[0], ChunkingConfig(chunk_words=200, overlap_words=50))
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    with pytest.raises(MemoError, match="overlap"):
        ChunkingConfig(chunk_words=100, overlap_words=100)


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "pack"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as d:
            (d / "half").write_text("x")
            raise RuntimeError("boom")
    assert not target.exists() and os.listdir(tmp_path) == []
    with atomic_dir(target) as d:
        (d / "whole").write_text("y")
    assert (target / "whole").read_text() == "y"


def test_unwritable_output_is_a_one_line_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):  # root ignores permission bits; use a path under a file instead
        blocker = tmp_path / "file"
        blocker.write_text("")
        target = blocker / "sub" / "out.json"
    else:
        target = ro / "out.json"
    with pytest.raises(MemoError, match="cannot create|not writable"):
        write_text(target, "x")


def test_record_errors_name_file_line_and_field(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": "1", "question": "q", "answer": "a"}\n{"id": "2", "question": "q"}\n')
    with pytest.raises(MemoError, match=r"r.jsonl:2: field 'answer'"):
        load_reflections(p)
    p.write_text("not json\n")
    with pytest.raises(MemoError, match=r"r.jsonl:1: not valid JSON"):
        load_reflections(p)
    p.write_text("")
    with pytest.raises(MemoError, match="no reflections"):
        load_reflections(p)


def test_demo_questions_are_valid(demo_dir):
    items = load_eval_items(demo_dir / "questions.jsonl")
    assert len(items) >= 20
    corpus = " ".join(d.text for d in load_corpus(demo_dir / "corpus")).lower()
    assert {it.hops for it in items} >= {1, 2, 3}
    for it in items:
        assert it.hops == len(it.decomposition), it.id
        assert it.answer.lower() in corpus, it.id


def test_memory_prompt_from_chat_renderer_matches_chatml():
    def render(msgs, add_generation_prompt):
        s = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)
        return s + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    p = MemoryPrompt.from_chat_renderer(render)
    assert p == MemoryPrompt.chatml()
    assert p.render_example("Q?", "A.") == p.render("Q?") + "A.<|im_end|>\n"
    assert is_idk("I don't know.") and not is_idk("Paris")


def test_oracle_substitutes_earlier_answers():
    assert substitute_refs("Who founded #1 in #2?", ["Acme.", "1999"]) == "Who founded Acme in 1999?"
    items = [
        EvalItem(
            id="a",
            question="q",
            answer="Bob",
            hops=2,
            decomposition=[{"question": "Which firm made X?"}, {"question": "Who founded #1?"}],
        )
    ]
    table = {"Which firm made X?": "Acme", "Who founded Acme?": "Bob"}
    calls = []

    def answer(qs):
        calls.append(qs)
        return [table.get(q, "I don't know.") for q in qs]

    preds = oracle_answers(items, answer)
    assert preds[0]["predicted_answer"] == "Bob" and calls == [["Which firm made X?"], ["Who founded Acme?"]]
    res = score(items, preds)
    assert res["em"] == 1.0 and res["per_hop"]["2"]["n"] == 1


def test_build_config_validates_fields(tmp_path):
    cfg_file = tmp_path / "build.toml"
    cfg_file.write_text('corpus = "c"\nout = "o"\nprecision = "int3"\n')
    with pytest.raises(MemoError, match="precision 'int3'"):
        load_build_config(cfg_file)
    cfg_file.write_text('corpus = "c"\nout = "o"\n[train]\nepochs = 2\n')
    cfg = load_build_config(cfg_file, base="tiny-random")
    assert cfg.base == cfg.train.base == "tiny-random" and cfg.train.epochs == 2 and cfg.work == Path("o.build")
    assert cfg.train.model_fields_set == {"preset", "base", "epochs"}  # given, and the preset in effect


def test_the_readmes_eval_question_line_is_a_valid_question(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    after = readme.split("only `id`, `question` and `answer` are required", 1)[1]
    line = after.split("```\n", 2)[1].strip()
    q = tmp_path / "q.jsonl"
    q.write_text(line + "\n")
    (item,) = load_eval_items(q)
    assert item.answer == "Ysolde Marrick"
    q.write_text(json.dumps({"id": "1", "question": "Who?", "answer": "Me."}) + "\n")  # the three required fields
    assert load_eval_items(q)[0].id == "1"
