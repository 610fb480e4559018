"""Cloze reflections (memo_edge/synthesis/cloze.py): the safety net that asks every span no typed question of its
sentence answers, on invented sentences, with the real spaCy pipeline and the quality filter."""

from __future__ import annotations

from memo_edge.corpus import content_id
from memo_edge.records import Document, Reflection, load_reflections
from memo_edge.synthesis import SynthesisConfig, synthesize
from memo_edge.synthesis.dataset import Pair
from memo_edge.synthesis.extractive import generate
from memo_edge.synthesis.quality import apply, rejection
from training.profiles import fill_blank, restate


def kept(text: str, title: str = "Frobnitz", cloze: bool = True) -> list[Pair]:
    doc = Document(doc_id=content_id(title, text), title=title, text=text, source="frobnitz.md")
    out, _ = apply(generate([doc], cloze=cloze).pairs)
    return out


def blanks(text: str, title: str = "Frobnitz") -> dict[str, str]:
    return {p.answer: p.question for p in kept(text, title) if p.type == "cloze"}


def test_an_amount_in_an_adverbial_clause_is_asked_with_its_unit_and_the_clause_it_qualifies():
    got = blanks("Once a crate grows past 40 kg, it is moved to the lower shelf, so the top rack never bends.")
    assert (
        got["40 kg"]
        == 'What fills the blank in Frobnitz: "once a crate grows past ___, it is moved to the lower shelf"?'
    )


def test_a_span_a_typed_question_answers_gets_no_blank():
    pairs = kept("Mira Tallow founded Kestrel Tools in 2011.", "Kestrel Tools")
    typed = {p.answer for p in pairs if p.type not in ("cloze", "statement")}
    assert "Mira Tallow" in typed
    assert "Mira Tallow" not in {p.answer for p in pairs if p.type == "cloze"}


def test_a_list_of_code_tokens_is_asked_whole():
    got = blanks("It includes a shell, runs on both HTTP/1.1 and HTTP/2, and provides async hooks.")
    assert "HTTP/1.1 and HTTP/2" in got, got


def test_a_negation_stays_in_the_blank_sentence():
    got = blanks("Tomas did not bring the projector to the Friday review in room 4B, so the demo was moved to Monday.")
    assert "room 4B" in got, got
    assert all(" not " in q for a, q in got.items() if a != "Monday"), got


def test_an_ambiguous_blank_is_not_asked():
    """The answer occurs again in its window: the blank could be either."""
    got = blanks("The staging port is 8080 and the debug port is 8080 as well, says Petra Lund.")
    assert "8080" not in got


def test_a_pronoun_that_opens_the_quote_is_unresolved_one_after_a_noun_is_not():
    bad = Pair('What fills the blank in Frobnitz: "it is moved to the ___"?', "lower shelf", "cloze", ["d"], ["c"])
    good = Pair(
        'What fills the blank in Frobnitz: "once a crate passes 40 kg, it is moved to the ___"?',
        "lower shelf",
        "cloze",
        ["d"],
        ["c"],
    )
    assert rejection(bad) == "not self-contained"
    assert rejection(good) is None


def test_a_blank_is_restated_filled_in_profiles():
    q = 'What fills the blank in Frobnitz: "once a crate passes ___, it is moved to the lower shelf"?'
    assert fill_blank(q, "40 kg") == "Once a crate passes 40 kg, it is moved to the lower shelf."
    row = Reflection(id="x", question=q, answer="40 kg", type="cloze", source_doc_ids=["d"], source_chunk_ids=["c"])
    assert restate(row) == "Once a crate passes 40 kg, it is moved to the lower shelf."


def test_no_cloze_turns_them_off(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "frobnitz.md").write_text(
        "# Frobnitz\n\nOnce a crate grows past 40 kg, it is moved to the lower shelf, so the top rack never bends.\n",
        encoding="utf-8",
    )
    synthesize(corpus, tmp_path / "on.jsonl", SynthesisConfig(), progress=False)
    synthesize(corpus, tmp_path / "off.jsonl", SynthesisConfig(cloze=False), progress=False)
    assert any(r.type == "cloze" for r in load_reflections(tmp_path / "on.jsonl"))
    assert not any(r.type == "cloze" for r in load_reflections(tmp_path / "off.jsonl"))


def test_a_span_whose_question_is_dropped_as_ambiguous_is_rescued_by_its_fill_in(tmp_path):
    """ "What is Frobnitz's version?" has two answers in one document and is dropped at de-duplication; a version
    that no other question of its sentence survives for is then asked by its fill-in after all."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "frobnitz.md").write_text(
        "# Frobnitz\n\nThe version is 20.1.0 on Linux. The version is 21.3.0 on macOS.\n", encoding="utf-8"
    )
    card = synthesize(corpus, tmp_path / "r.jsonl", SynthesisConfig(), progress=False)
    rows = load_reflections(tmp_path / "r.jsonl")
    assert not any(r.question == "What is Frobnitz's version?" for r in rows)  # ambiguous: dropped
    assert "21.3.0" in {r.answer for r in rows if r.type == "cloze"}
    assert card["step_stats"]["extractive"]["fill_ins_rescued"] >= 1


def test_a_remark_in_a_table_cell_is_read_like_a_note_about_its_row():
    text = "# Budget\n\n| Item | Feb | Notes |\n|---|---|---|\n| Savings | 350 | Feb reduced to pay for the car service |\n"
    got = {p.answer for p in kept(text, "Budget") if p.type != "statement"}
    assert "car service" in got, got  # before, only the whole cell was an answer


def test_a_span_whose_only_question_the_filter_drops_gets_its_fill_in():
    """ "... has support for what and HTTP/2 ...?" is dropped by the quality filter (a list member asked in place):
    HTTP/1.1 is then asked by its fill-in."""
    got = blanks("It includes a shell, has support for both HTTP/1.1 and HTTP/2, and provides async hooks.")
    assert (
        got.get("HTTP/1.1")
        == 'What fills the blank in Frobnitz: "has support for both ___ and HTTP/2, and provides async hooks"?'
    ), got


def test_a_blank_never_cuts_a_hyphenated_word():
    got = blanks(
        "Sealed the probe with conformal coating; re-test the Calder unit on Thursday before the zero-based audit."
    )
    assert not [q for q in got.values() if "- ___" in q or "___ -" in q], got
