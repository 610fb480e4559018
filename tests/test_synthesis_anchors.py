"""A question that names nothing is asked with its document (memo_edge/synthesis/anchors.py), on invented sentences
with the real spaCy pipeline and the quality filter."""

from __future__ import annotations

from memo_edge.synthesis.anchors import names_something
from memo_edge.synthesis.codemask import CodeMask
from tests.test_synthesis_cloze import kept


def test_a_question_that_names_nothing_is_asked_with_its_document():
    got = {p.question: p.answer for p in kept("Jonas is the backup if Ravindra is out sick.", "Rota notes")}
    assert got["In Rota notes, what is the backup?"] == "Jonas"
    assert "What is the backup?" not in got
    assert got["Jonas is what?"] == "the backup"  # it names Jonas: left as it is


def test_what_counts_as_naming_something():
    assert names_something("What is attrs?", "attrs")  # a word of the document's name
    # a code token: questions are asked while the tokens are still masked (extractive.py restores them at the end)
    assert names_something(CodeMask().mask("Where should --dest not be pointed?"), "photosort")
    assert names_something("What runs every 3 days?", "Cron notes")  # a number
    assert names_something("Jonas suggested what?", "Ledger sync")  # a name, first word or not
    assert names_something("What was released under a dual license?", "dateutil")  # three content words
    assert not names_something("What should you ask?", "Handover notes")
    assert not names_something("What does the vendor do?", "Handover notes")  # "does" is no content word


def test_code_glued_to_a_suffix_comes_back_whole():
    """The text "an `ssl.SSLContext`-like API" once became "an Qxaton-like API" in four questions: "-like" was masked as an
    option right after the code's placeholder, and the two touching placeholders hid the first from restore."""
    codes = CodeMask()
    masked = codes.mask("Brindle exposes the store through an `ssl.SSLContext`-like API and `--warm` `--cold`.")
    assert len(codes.originals) == 3, codes.originals
    assert codes.restore(masked) == "Brindle exposes the store through an ssl.SSLContext-like API and --warm --cold."
    assert codes.restore("QxatonQxbton") == codes.originals["Qxaton"] + codes.originals["Qxbton"]
