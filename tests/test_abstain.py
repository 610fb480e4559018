"""Abstaining on questions about things the corpus never mentions (memo_edge.vocabulary): the export writes the known
terms into the pack, the runtime answers "I don't know." without running the model, and turning it off runs the
model. A real tiny trained memory, a real export and onnxruntime session."""

from __future__ import annotations

import json

import pytest

from memo_edge.pack import Pack
from memo_edge.prompt import IDK_ANSWER
from memo_edge.vocabulary import KnownTerms, fold, terms
from tests.test_training import qa_rows, write_rows


def test_terms_fold_plurals_and_split_code_tokens():
    assert terms("Which backups did textwrap.indent skip?") == {
        "backup",
        "textwrap.indent",
        "textwrap",
        "indent",
        "skip",
    }
    assert fold("Libraries") == "library" and fold("class") == "class" and fold("Ettie's") == "ettie"
    assert terms("What does it do?") == set()  # "does" folds to "doe": a function word by its own spelling
    known = KnownTerms.from_texts(["Where was Ada Quill born? Varrowick"])
    assert known.share("Where was Ada Quill born?") == 1.0
    assert known.share("What is the capital of France?") == 0.0
    assert known.share("Who is it?") is None  # no content word: never refused
    assert known.unknown_to("Which river flows through Varrowick?", 0.4)  # 1 of 3 known
    assert not known.unknown_to("Which town was Ada Quill born in?", 0.4)  # 3 of 4 known
    assert known.unknown_to("Where was Ada Quillfen born?", 0.4)  # 2 of 3 known, but a name it never saw
    assert known.unknown_names("Where was Ada Quillfen born?") == {"quillfen"}


@pytest.fixture(scope="module")
def trained_pack(tiny_dir, tmp_path_factory):
    from memo_edge.export import export_pack
    from memo_edge.training import TrainConfig, train

    tmp = tmp_path_factory.mktemp("abstain")
    rows = qa_rows(30)
    train(
        write_rows(tmp / "r.jsonl", rows), tmp / "ckpt", TrainConfig(preset="tiny", base=str(tiny_dir)), progress=False
    )
    pack = export_pack(tmp / "ckpt", tmp / "pack", precision="fp32", verify=False, progress=False)
    return pack, rows


def test_the_pack_abstains_on_unknown_things_and_answers_its_own(trained_pack):
    from memo_edge.runtime import Memory

    pack, rows = trained_pack
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["abstain"]["min_known_share"] == 0.4 and manifest["files"]["known_terms"] == "known_terms.txt"
    assert "known_terms.txt" in manifest["sha256"]
    Pack.open(pack)  # the file is covered by the pack's hashes
    absent = ["What is the capital of France?", "Who wrote Hamlet?", "Which gas do plants absorb for photosynthesis?"]
    trained = [r["question"] for r in rows[:8]]
    memory = Memory.load(pack, threads=1)
    comps = memory.complete(absent + trained)
    assert [c.text for c in comps[:3]] == [IDK_ANSWER] * 3
    assert all(c.finish_reason == "abstain" and c.completion_tokens == 0 for c in comps[:3])
    assert all(c.finish_reason != "abstain" for c in comps[3:])
    # unchanged answers for the questions that did run: same as a memory that never abstains
    raw = Memory.load(pack, threads=1, abstain=False)
    assert [c.text for c in comps[3:]] == [c.text for c in raw.complete(trained)]
    assert all(c.finish_reason != "abstain" and c.completion_tokens > 0 for c in raw.complete(absent))


def test_min_known_share_zero_writes_no_terms(trained_pack, tmp_path):
    from memo_edge.export import export_pack

    pack, _ = trained_pack
    off = export_pack(
        pack.parent / "ckpt", tmp_path / "off", precision="fp32", verify=False, progress=False, min_known_share=0
    )
    manifest = json.loads((off / "manifest.json").read_text())
    assert manifest["abstain"] is None and "known_terms" not in manifest["files"]
