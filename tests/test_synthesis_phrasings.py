"""Facts first, then phrasings: a clause's typed facts (facts.py) asked in the common relation words, both
directions (phrasings.py), on invented sentences with the real spaCy pipeline and the quality filter."""

from __future__ import annotations

from memo_edge.corpus import content_id
from memo_edge.records import Document
from memo_edge.synthesis.dataset import Pair
from memo_edge.synthesis.extractive import generate
from memo_edge.synthesis.quality import apply, rejection


def typed(text: str, title: str = "Varnholm notes") -> set[tuple[str, str]]:
    doc = Document(doc_id=content_id(title, text), title=title, text=text, source="notes.md")
    out, _ = apply(generate([doc]).pairs)
    return {(p.question, p.answer) for p in out if p.type not in ("statement", "cloze")}


def test_active_and_passive_state_the_same_relation():
    """Subject-valued ("X directed Y": the director of Y is X) and agent-valued ("Y was directed by X")."""
    for text in ("Mara Quell directed Blue Lantern in 1994.", "Blue Lantern was directed by Mara Quell in 1994."):
        got = typed(text)
        assert {
            ("Who is the director of Blue Lantern?", "Mara Quell"),
            ("Who is Blue Lantern's director?", "Mara Quell"),
        } <= got, got


def test_both_directions_when_both_sides_are_names():
    got = typed("Blue Lantern was directed by Mara Quell.")
    back = {q for q, a in got if a == "Blue Lantern"}
    assert "Mara Quell is the director of what?" in back, got
    assert "What has Mara Quell as director?" in back, got


def test_the_value_kind_picks_the_relation():
    """ "born in" names a place of birth or a date of birth, by what follows it."""
    got = typed("Ada Quell was born in Varnholm in 1921.")
    assert ("What is the place of birth of Ada Quell?", "Varnholm") in got, got
    assert ("What is the date of birth of Ada Quell?", "1921") in got, got
    assert not any("place of birth" in q for q, a in got if a == "1921")
    assert not any("born in the" in q for q, _ in got), got  # no description of a date, none from the same fact


def test_symmetric_relations_are_asked_from_both_people():
    got = typed("Ada Quell married Tomas Berg in 1950.")
    assert ("Who is the spouse of Ada Quell?", "Tomas Berg") in got, got
    assert ("Who is the spouse of Tomas Berg?", "Ada Quell") in got, got
    assert not any(q.endswith("of what?") for q, _ in got), got  # people, even where the recognizer said not


def test_a_negated_fact_gets_no_relation_phrasing():
    got = typed("Blue Lantern was not directed by Mara Quell.")
    assert not any("director" in q for q, _ in got), got


def test_a_passive_object_complement_is_no_made_thing():
    """ "Sidney Quell was created a Baronet": Sidney is not the creator of anything."""
    got = typed("Sidney Quell was created a Baronet in 1897.")
    assert not any("creator" in q for q, _ in got), got


def test_a_possessor_asked_in_place_is_whose():
    got = typed("The 2005 film Lantern was based on Gerald Quell's biography of the painter.")
    assert ("The 2005 film Lantern was based on whose biography of the painter?", "Gerald Quell") in got, got
    assert not any(" 's " in q or "whom biography" in q for q, _ in got), got


def test_misplaced_question_words_are_rejected():
    def why(q: str) -> str | None:
        return rejection(Pair(q, "Ann Berg", "direct", ["d"], ["c"]))

    assert why("Decker played the role of Mallory, Grace and whom 's younger daughter?")
    assert why("Tom Quell was the eldest son of Tom Berg, what?")
    assert why("James' successor, whom, attempted?")
    assert why("Eddie Quell fathered whom and Mike Quell?")
    assert why("Who won the Varnholm championship with whom?")
    assert why("Frobnitz reads a file, what mode, and a port?")  # a list member asked in place
    assert why("Mode is chosen with which flag or -q/--quiet?")
    assert why("Runs on Solaris and whom; frobnitz was never tried on Plan 9?")  # a wh-word at a clause boundary
    assert why("Whose launch date is what?")
    assert why("Frob 's got what?")
    assert why("Which flag or option enables colour?") is None
    assert why("What is the name of the man who founded Blue Lantern?") is None
    assert why("Who is the director of Blue Lantern?") is None


def test_a_surname_is_also_asked_with_the_full_name():
    got = typed("Ada Quell was a chemist from Varnholm. Quell discovered tarnite in 1931.", title="Ada Quell")
    assert ("When did Quell discover tarnite?", "1931") in got, got
    assert ("When did Ada Quell discover tarnite?", "1931") in got, got


def test_a_surname_inside_another_name_stays():
    from memo_edge.synthesis.phrasings import _with_full_name

    assert _with_full_name("Who is the mother of Carrie Fisher?", "Fisher", "Eddie Fisher") == (
        "Who is the mother of Carrie Fisher?"
    )
    assert _with_full_name("When was Fisher born?", "Fisher", "Eddie Fisher") == "When was Eddie Fisher born?"


def test_a_dummy_it_names_nothing_and_its_is_is():
    """ "It's possible to pass X": no question names the document as what is possible, and no "Frobnitz's"."""
    got = typed(
        "Frobnitz converts calendar files. It's now possible to pass timezone names to frobnitz.load().", "Frobnitz"
    )
    assert not any("Frobnitz's now" in q or "Frobnitz is now possible" in q for q, _ in got), got
    got = typed("Frobnitz converts calendar files. It's written in Rust.", "Frobnitz")
    assert ("What is the programming language of Frobnitz?", "Rust") in got, got


def test_a_pronoun_after_a_semicolon_is_the_person_who_spoke_earlier_in_the_sentence():
    """ "X said ...; he suggested Y": the clauses are read root first, so "he" is the sentence's earlier subject."""
    got = typed("Tomas Arden said the old mirror was too slow; he suggested Kelso-2.")
    assert ("What did Tomas Arden suggest?", "Kelso-2") in got, got


def test_it_after_an_indefinite_subject_is_not_the_document():
    """ "Once a crate passes 40 kg, it is moved ...": "it" is the crate, not the document's subject."""
    got = typed("Once a crate passes 40 kg, it is moved to the lower shelf.", title="Frobnitz")
    assert not any("Frobnitz" in q or a == "Frobnitz" for q, a in got), got


def test_what_a_function_returns_and_what_a_module_replaces():
    """Technical documentation's relations: the object a call returns is its return value (object-valued); what a
    library supersedes has it as its replacement (subject-valued)."""
    got = typed("`popmin()` returns the smallest key from the tree.", "kdtree")
    assert ("What is the return value of popmin()?", "smallest key from the tree") in got, got
    got = typed("The `fernparse` library supersedes `email.parser` from the standard library.", "fernparse")
    assert ("What is the replacement of email.parser?", "fernparse library") in got, got


def test_a_code_tokens_possessive_does_not_depend_on_its_placeholder():
    # a placeholder that ended in "s" ("Qxcodeas", before placeholders took a fixed ending) gave "wrap()' return
    # value"; whatever a placeholder ends with, a code token takes "'s"
    from memo_edge.synthesis.codemask import _name
    from memo_edge.synthesis.text import possessive

    assert all(possessive(_name(n)) == _name(n) + "'s" for n in range(60))
    assert possessive("Savings") == "Savings'"
