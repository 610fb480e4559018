"""Benchmark dataset loaders on tiny fixture files written in the official formats."""

from __future__ import annotations

import json

import pytest

from memo_edge import datasets
from memo_edge.corpus import load_corpus
from memo_edge.errors import MemoError
from memo_edge.evaluate import oracle_answers
from memo_edge.records import load_eval_items


def _jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _musique_row(qid, support, others, decomposition, answer="Stanley", aliases=()):
    paras = [{"idx": i, "title": t, "paragraph_text": x, "is_supporting": False} for i, (t, x) in enumerate(others)]
    paras += [
        {"idx": len(paras) + i, "title": t, "paragraph_text": x, "is_supporting": True}
        for i, (t, x) in enumerate(support)
    ]
    return {
        "id": qid,
        "paragraphs": paras,
        "question": f"question {qid}?",
        "answer": answer,
        "answer_aliases": list(aliases),
        "answerable": True,
        "question_decomposition": [
            {"id": i, "question": q, "answer": a, "paragraph_support_idx": 0} for i, (q, a) in enumerate(decomposition)
        ],
    }


@pytest.fixture
def benchroot(tmp_path):
    root = tmp_path / "benchdata"
    _jsonl(
        root / datasets.FILES["musique"],
        [
            _musique_row(
                "2hop__1_2",
                [("Van Hook", "Van Hook is in Mountrail County."), ("Mountrail", "Its seat is Stanley.")],
                [(f"Neg{i}", f"negative paragraph {i}") for i in range(5)],
                [
                    ("Van Hook Township >> located in the administrative territorial entity", "Mountrail County"),
                    ("#1 >> capital", "Stanley"),
                ],
                aliases=["Stanley, ND"],
            ),
            _musique_row(
                "3hop1__3_4_5",
                [("A", "a1"), ("B", "b1"), ("C", "c1")],
                [(f"Other{i}", f"other paragraph {i}") for i in range(4)] + [("Neg0", "negative paragraph 0")],
                [("who made A", "Ann"), ("where was #1 born", "Bay"), ("when did #2 flood", "1990")],
                answer="1990",
            ),
            _musique_row(
                "2hop__9_9",
                [("Z", "z1"), ("Y", "y1")],
                [(f"Late{i}", f"late {i}") for i in range(3)],
                [("q", "a"), ("#1 q", "b")],
            ),
        ],
    )
    ctx = lambda t, n: [[f"{t}{i}", [f"{t}{i} sentence one.", " and two."]] for i in range(n)]  # noqa: E731
    _jsonl(
        root / datasets.FILES["hotpotqa"],
        [
            {
                "_id": "h1",
                "question": "Which band?",
                "answer": "Rush",
                "type": "bridge",
                "level": "hard",
                "supporting_facts": [["P0", 0], ["P1", 1]],
                "context": ctx("P", 6),
            },
            {
                "_id": "h2",
                "question": "Which year?",
                "answer": "1999",
                "type": "comparison",
                "level": "hard",
                "supporting_facts": [["Q3", 0], ["Q4", 0]],
                "context": ctx("Q", 5),
            },
        ],
    )
    _jsonl(
        root / datasets.FILES["2wikimultihopqa"],
        [
            {"_id": "w0", "type": "comparison", "question": "No context?", "answer": "x", "qa_pairs": []},
            {
                "_id": "w1",
                "type": "bridge_comparison",
                "question": "Whose director is younger?",
                "answer": "Free Guy",
                "supporting_facts": "[['F0', 0], ['F1', 0], ['F2', 0], ['F3', 1]]",
                "context": ctx("F", 8),
            },
        ],
    )
    story = lambda k: f"Story {k} summary. " * 5  # noqa: E731
    _jsonl(
        root / datasets.FILES["narrativeqa"],
        [
            {"question": f"s{k} q{j}?", "answer": [f"ans {k}.{j}", f"alt {k}.{j}"], "passage": story(k)}
            for k in range(3)
            for j in range(4)
        ],
    )
    _jsonl(
        root / datasets.NARRATIVEQA_DOCS,
        [{"doc_idx": k, "wiki_title": f"Title {k}", "summary": story(k)} for k in range(3)],
    )
    return root


def test_musique_slice_corpus_is_support_plus_as_many_own_negatives(benchroot):
    b = datasets.load("musique", n=2, root=benchroot)
    assert [it.id for it in b.items] == ["2hop__1_2", "3hop1__3_4_5"]
    assert [it.hops for it in b.items] == [2, 3]
    titles = sorted(d["title"] for d in b.docs)
    # q1: 2 support + Neg0, Neg1; q2: 3 support + Other0..2 (its own first non-supporting paragraphs)
    assert titles == sorted(["Van Hook", "Mountrail", "Neg0", "Neg1", "A", "B", "C", "Other0", "Other1", "Other2"])
    pool_titles = {d["title"] for d in b.pool}
    assert {"Neg2", "Other3", "Late0"} <= pool_titles  # unused own negatives + the next question's paragraphs
    assert not pool_titles & set(titles)
    assert len({d["id"] for d in b.docs}) == len(b.docs)


def test_musique_decomposition_keeps_refs_and_reads_naturally(benchroot):
    it = datasets.load("musique", n=1, root=benchroot).items[0]
    assert it.answer_aliases == ["Stanley, ND"]
    assert [s.answer for s in it.decomposition] == ["Mountrail County", "Stanley"]
    assert it.decomposition[1].question == "What is the capital of #1?"
    assert "Van Hook Township" in it.decomposition[0].question
    # The oracle executive substitutes #1 with the memory's own answer.
    asked = []
    preds = oracle_answers([it], lambda qs: asked.extend(qs) or ["Mountrail County." for _ in qs])
    assert asked[1] == "What is the capital of Mountrail County?"
    assert preds[0]["predicted_answer"] == "Mountrail County."


def test_written_corpus_and_questions_load_with_core_readers(benchroot, tmp_path):
    b = datasets.load("musique", n=3, root=benchroot)
    paths = b.write(tmp_path / "out")
    docs = load_corpus(paths["corpus_dir"])
    assert {d.title for d in docs} == {d["title"] for d in b.docs}
    items = load_eval_items(paths["questions"])
    assert [i.model_dump() for i in items] == [i.model_dump() for i in b.items]


def test_hotpot_and_2wiki(benchroot):
    h = datasets.load("hotpotqa", root=benchroot)
    assert [it.answer for it in h.items] == ["Rush", "1999"]
    by_title = {d["title"]: d["text"] for d in h.docs}
    assert by_title["P0"] == "P0 sentence one. and two."  # HotpotQA sentences carry their leading space
    assert {"P0", "P1", "P2", "P3", "Q3", "Q4", "Q0", "Q1"} == set(by_title)
    w = datasets.load("2wikimultihopqa", root=benchroot)
    assert [it.id for it in w.items] == ["w1"] and w.meta["skipped_without_context"] == 1
    assert w.items[0].hops == 4  # bridge_comparison: four gold paragraphs from a repr-string supporting_facts
    assert {d["title"] for d in w.docs} == {f"F{i}" for i in range(8)}
    assert {d["text"] for d in w.docs} >= {"F0 sentence one.  and two."}


def test_narrativeqa_spreads_over_stories_with_both_references(benchroot):
    b = datasets.load("narrativeqa", n=5, root=benchroot, per_story=2)
    assert [it.question for it in b.items] == ["s0 q0?", "s0 q1?", "s1 q0?", "s1 q1?", "s2 q0?"]
    assert b.items[0].answer == "ans 0.0" and b.items[0].answer_aliases == ["alt 0.0"]
    assert [d["title"] for d in b.docs] == ["Title 0", "Title 1", "Title 2"]


def test_distractors_add_factor_times_n_unused_paragraphs(benchroot):
    b = datasets.load("musique", n=1, root=benchroot)
    d1 = datasets.with_distractors(b, 1.0, seed=3)
    assert len(d1.docs) == 2 * len(b.docs) and d1.items == b.items
    extra = d1.docs[len(b.docs) :]
    assert not {d["id"] for d in extra} & {d["id"] for d in b.docs}
    assert d1.meta["distractors"] == len(b.docs)
    assert datasets.with_distractors(b, 1.0, seed=3).docs == d1.docs  # seeded: reproducible
    with pytest.raises(MemoError, match="spare paragraphs"):
        datasets.with_distractors(b, 100.0)


def test_bad_input_is_one_line_error(benchroot, tmp_path):
    with pytest.raises(MemoError, match="unknown"):
        datasets.load("squad", root=benchroot)
    with pytest.raises(MemoError, match="not found"):
        datasets.load("musique", root=tmp_path / "nowhere")
    bad = tmp_path / "bad"
    _jsonl(bad / datasets.FILES["musique"], [{"id": "2hop__x", "question": "q?"}])
    with pytest.raises(MemoError, match="field 'paragraphs'"):
        datasets.load("musique", root=bad)
    (bad / datasets.FILES["hotpotqa"]).parent.mkdir(parents=True)
    (bad / datasets.FILES["hotpotqa"]).write_text("{not json\n")
    with pytest.raises(MemoError, match=r":1: not valid JSON"):
        datasets.load("hotpotqa", root=bad)


def test_musique_stratified_slice_spans_hop_counts(benchroot):
    b = datasets.load("musique", n=2, root=benchroot, stratify=True)
    assert [it.hops for it in b.items] == [2, 3] and b.meta["slice"] == "round-robin over hop counts"
    head = datasets.load("musique", n=2, root=benchroot)
    assert head.meta["slice"] == "file head"
