"""Training inputs beyond the pairs (issue 22): document-text windows with an LM loss, per-entity profiles, their
config, and the best epoch picked by held-out phrasings."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from memo_edge.errors import MemoError
from memo_edge.records import Document, Reflection
from memo_edge.training import TrainConfig
from memo_edge.training.evaluate import selection_score
from memo_edge.training.profiles import build_profiles, profile_reflections, profile_texts

DOC = Document(
    doc_id="d1",
    title="Quillfen Robotics",
    text="Quillfen Robotics was founded by Ysolde Marrick in Varrowick in 1998. It builds harvesting robots for "
    "orchards; its first model, the Brisa, shipped in 2001. Tobin Glount has led the company since 2015. " * 3,
)


@pytest.fixture(scope="module")
def tok(tiny_dir):
    from memo_edge.training.models import load_tokenizer

    return load_tokenizer(tiny_dir)


def test_text_windows_are_packed_with_loss_on_every_token(tiny_dir, tok):
    import torch
    from transformers import AutoModelForCausalLM

    from memo_edge.training.data import IGNORE, memory_prompt_for, tokenize_examples
    from memo_edge.training.packing import pack, packed_loss
    from memo_edge.training.text import text_examples

    texts = text_examples([DOC], tok, window=32, n=3)
    assert len(texts) == 3 and all(len(t.ids) <= 33 and t.n_prompt == 1 and t.n_prefix == 0 for t in texts)
    assert {t.ids[0] for t in texts} == {tok.convert_tokens_to_ids("<|endoftext|>")}  # no chat-template token
    # every token after the separator is a label: the whole window is trained
    assert all(t.labels[1:] == list(t.ids[1:]) and t.labels[0] == IGNORE for t in texts)
    rows = [Reflection(id="a", question="Who founded Quillfen Robotics?", answer="Ysolde Marrick")]
    pairs, _ = tokenize_examples(rows, tok, memory_prompt_for(tok), 256)
    mixed = [pairs[0], texts[0], pairs[0], texts[1]]
    b = pack(mixed, share_prefix=True)
    assert b.shared_prefix  # the text windows do not turn prefix sharing off for the pairs beside them
    n_text = len(texts[0].ids) + len(texts[1].ids)
    assert b.n_labels == 2 * pairs[0].n_answer + n_text - 2
    assert (b.segments <= -2).sum() == n_text  # text bodies: standalone segments that never see the prompt prefix
    assert b.n_tokens == int((b.segments != -1).sum())

    # The packed loss is the sum of each example's own loss, computed alone (text from position 0, no prompt).
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    with torch.no_grad():
        packed, n = packed_loss(model, b)
        alone = 0.0
        for ex in mixed:
            ids = torch.tensor([list(ex.ids)])
            labels = torch.tensor([ex.labels])
            out = model(input_ids=ids, labels=labels)
            alone += float(out.loss) * (len(ex.ids) - ex.n_prompt)
    assert n == b.n_labels
    assert float(packed) == pytest.approx(alone, rel=1e-4)


def test_text_windows_repeat_with_new_cuts_to_reach_their_share(tok):
    from memo_edge.training.text import text_examples

    many = text_examples([DOC], tok, window=32, n=200)  # one pass over the text holds 6 windows
    assert len(many) == 200
    # each pass cuts the text elsewhere: far more distinct windows than one pass has
    assert len({e.ids for e in many}) > 6 * len({e.ids for e in text_examples([DOC], tok, window=32, n=5)})
    assert text_examples([], tok, 32, 10) == [] and text_examples([DOC], tok, 32, 0) == []


def _facts() -> list[Reflection]:
    rows = [
        ("Who founded Quillfen Robotics?", "Ysolde Marrick", "direct"),
        ("Which company did Ysolde Marrick found?", "Quillfen Robotics", "indirect"),
        ("What did Ysolde Marrick found?", "Quillfen Robotics", "indirect"),  # a rewording: no new fact
        ("Where was Ysolde born?", "Varrowick", "direct"),
        ("What do you know about the Brisa?", "Ysolde Marrick designed the Brisa in 2001.", "statement"),
        ("Who leads Hesper Vandry's team?", "Tobin Glount", "direct"),
    ]
    return [Reflection(id=f"r{i}", question=q, answer=a, type=t) for i, (q, a, t) in enumerate(rows)]


def test_profiles_gather_an_entitys_facts_under_its_full_name():
    profiles = {p.name: p for p in build_profiles(_facts())}
    ysolde = profiles["Ysolde Marrick"]  # "Ysolde" alone is the one longer name it starts
    assert "Ysolde" not in profiles
    assert "Where was Ysolde born? Varrowick." in ysolde.facts
    assert "Ysolde Marrick designed the Brisa in 2001." in ysolde.facts
    assert "What did Ysolde Marrick found? Quillfen Robotics." not in ysolde.facts  # its words are another fact's
    assert len(ysolde.facts) == 4
    assert "Tobin Glount" not in profiles  # one fact: no profile

    items = profile_texts(list(profiles.values()), n=6, max_words=200, seed=0)
    refl = profile_reflections(items)
    assert refl[0].question == "Tell me about Ysolde Marrick." and "Varrowick" in refl[0].answer
    # later passes are the same facts in other orders, asked in other words
    again = [r for r in refl if "Ysolde Marrick" in r.question and r.question != refl[0].question]
    assert again and sorted(again[0].answer.split(". ")) != refl[0].answer.split(". ")
    assert sorted(again[0].answer.split()) == sorted(refl[0].answer.split())


def test_profiles_never_include_idk_rows():
    rows = _facts() + [
        Reflection(id="x", question="Who founded Quillfen Dynamics?", answer="I don't know.", type="idk")
    ]
    assert all("Dynamics" not in f for p in build_profiles(rows) for f in p.facts)


def test_config_shares_are_validated():
    with pytest.raises(ValidationError, match="below 0.9"):
        TrainConfig(text_fraction=0.5, profile_fraction=0.45)
    with pytest.raises(ValidationError):
        TrainConfig(text_fraction=1.0)
    with pytest.raises(ValidationError):
        TrainConfig(profile_style="essay")
    assert TrainConfig().text_fraction == 0.0 and TrainConfig().profile_fraction == 0.0


def test_text_without_a_corpus_is_one_line_error(tok):
    from memo_edge.training.data import memory_prompt_for
    from memo_edge.training.mix import mix_in

    with pytest.raises(MemoError, match="text_fraction: .*--corpus"):
        mix_in(_facts(), 100, None, tok, memory_prompt_for(tok), TrainConfig(text_fraction=0.2))


def test_the_best_epoch_is_picked_by_held_out_phrasings():
    # trained questions perfect but held-out worse loses to better held-out recall
    assert selection_score(0.6, 0.7) > selection_score(0.5, 1.0)
    assert selection_score(0.5, 0.9) > selection_score(0.5, 0.8)  # ties: trained questions decide
    assert selection_score(None, 0.8) == 0.8  # nothing held out


@pytest.mark.slow
def test_a_tiny_memory_trains_on_pairs_text_and_profiles(tiny_dir, tmp_path):
    from memo_edge.training import train

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quillfen.md").write_text(f"# {DOC.title}\n\n{DOC.text}\n")
    refl = tmp_path / "r.jsonl"
    refl.write_text("".join(r.model_dump_json() + "\n" for r in _facts() * 1))
    cfg = TrainConfig(
        preset="tiny",
        base=str(tiny_dir),
        epochs=1,
        text_fraction=0.25,
        profile_fraction=0.25,
        text_window_tokens=48,
        idk_fraction=0,
    )
    m = train(refl, tmp_path / "ckpt", cfg, progress=False, corpus=corpus)
    counts = json.loads((tmp_path / "ckpt" / "memo_train.json").read_text())["counts"]
    assert counts["text_examples"] >= 3 and counts["profile_examples"] >= 3 and m["steps"] >= 1
    with pytest.raises(MemoError, match="--corpus"):
        train(refl, tmp_path / "ckpt2", cfg, progress=False)
