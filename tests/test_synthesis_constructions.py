"""Every sentence becomes knowledge: instructions, code tokens, negations, document-named subjects, relation words
and statement reflections, each on invented sentences, with the real spaCy pipeline and the quality filter.

One golden test per declared construction (memo_edge/synthesis/constructions.py): a construction added without one
fails `test_every_construction_has_a_golden_test`.
"""

from __future__ import annotations

import re

import pytest

from memo_edge.corpus import content_id
from memo_edge.records import Document
from memo_edge.synthesis.codemask import PATTERN
from memo_edge.synthesis.constructions import CONSTRUCTIONS, NOUN_PHRASES
from memo_edge.synthesis.phrasings import RELATIONS
from memo_edge.synthesis.extractive import generate
from memo_edge.synthesis.notes import rest_tables
from memo_edge.synthesis.quality import apply


def kept(text: str, title: str = "Frobnitz"):
    doc = Document(doc_id=content_id(title, text), title=title, text=text, source="frobnitz.md")
    out, _ = apply(generate([doc]).pairs)
    return out


def typed(text: str, title: str = "Frobnitz") -> set[tuple[str, str]]:
    return {(p.question, p.answer) for p in kept(text, title) if p.type not in ("statement", "cloze")}


# one invented sentence per construction, and one pair it must yield
GOLDEN = {
    "instruction-destination": (
        "Send bug reports to frob-bugs@quarry.example.",
        ("Where should bug reports be sent?", "frob-bugs@quarry.example"),
    ),
    "instruction-means": (
        "Install it with `pip install frobnitz`.",
        ("How do you install Frobnitz?", "pip install frobnitz"),
    ),
    "instruction-purpose": (
        "Use the `--with-ical` configure option to enable iCal export.",
        ("Which option enables iCal export?", "--with-ical"),
    ),
    "instruction-object": (
        "Run the migration script before Friday.",
        ("What should you run before Friday?", "migration script"),
    ),
    "role-then-name": (
        "The Harrow Labs account manager, Ines Calloway, will call about the renewal.",
        ("Who is the Harrow Labs account manager?", "Ines Calloway"),
    ),
    "name-then-role": (
        "Ines Calloway, the account manager at Harrow Labs, will call.",
        ("Who is the account manager at Harrow Labs?", "Ines Calloway"),
    ),
    "colon-value": (
        "Cancellation fee: 45 days of rent if we leave before the end of the term",
        ("What is the cancellation fee in Frobnitz?", "45 days"),
    ),
    "label-value": (
        "Gateway moved to the north shed. MQTT topic farm/shed2/#, gateway IP 10.4.0.7.",
        ("What is the MQTT topic in Frobnitz?", "farm/shed2/#"),
    ),
}


def test_every_construction_has_a_golden_test():
    assert {c.name for c in CONSTRUCTIONS + NOUN_PHRASES} == set(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_construction_golden(name):
    sentence, pair = GOLDEN[name]
    assert pair in typed(sentence)


def test_code_tokens_are_answers_not_noise():
    got = typed(
        "Frobnitz reads its settings from /etc/frobnitz.conf. The tests fail in the de_DE locale. "
        "The maintainers can be reached at team@frob.example."
    )
    # asked with its category noun; the parser hangs "from ..." on the verb or on "settings" depending on the
    # placeholder's letters, so the in-place form is the one asserted
    assert ("Frobnitz reads Frobnitz's settings from which file?", "/etc/frobnitz.conf") in got
    answers = {a for _, a in got}
    assert "team@frob.example" in answers
    assert not any(re.search(PATTERN, q + " " + a, re.I) for q, a in got)  # placeholders never leak
    # a protocol/version or a call is one name: parsed as such, the list of them is the object ("HTTP/1.1" used to
    # be read as an adverb and the sentence asked only member by member)
    # a code token that qualifies a noun is that noun's answer: "accepts a `strict=False` argument that ..."
    got = typed("`frob.load()` accepts a `strict=False` argument that skips any `#!` line it cannot read.")
    assert ("Which argument does frob.load() accept?", "strict=False") in got, got
    got = typed("Frobnitz supports SPDY/3.1 and HTTP/2. The reset() method returns a generator.")
    assert ("What does Frobnitz support?", "SPDY/3.1 and HTTP/2") in got
    assert ("What does the reset() method return?", "a generator") in got


def test_negation_survives_in_every_phrasing():
    got = typed("Quarry Labs has not released a new version since 2019. The landlord does not allow pets.")
    assert ("Who has not released a new version since 2019?", "Quarry Labs") in got
    assert ("Frobnitz's landlord does not allow what?", "pets") in got
    # no phrasing of either fact drops its "not": that would teach the memory the opposite
    for q, _ in got:
        if "released" in q or "allow" in q:
            assert " not " in q, q


def test_a_subject_only_the_document_names_is_named_by_its_title():
    got = typed("The icons were drawn by Petra Lund.")
    assert ("Who drew Frobnitz's icons?", "Petra Lund") in got
    got = typed("This document describes version 2.4.1.")
    assert any("Frobnitz document" in q and "2.4.1" in a for q, a in got), got


def test_relation_words_ask_what_people_ask():
    got = typed("Frobnitz is released under the MIT License. Frobnitz was written by Hal Mercer.")
    assert ("What is the licence of Frobnitz?", "MIT License") in got
    assert ("Who is the author of Frobnitz?", "Hal Mercer") in got
    assert ("release", "under") in RELATIONS


def test_statements_keep_sentences_no_construction_reads():
    pairs = kept("Faster start-up on cold caches, though slower than its predecessor in most benchmarks.")
    stmts = [p for p in pairs if p.type == "statement"]
    assert [
        p for p in pairs if p.type not in ("statement", "cloze")
    ] == []  # no short-answer question fits this fragment
    assert {p.question for p in stmts} >= {
        "What does Frobnitz say about predecessor?",
        "What does Frobnitz say about cold caches?",
    }
    assert all(p.answer.endswith(".") and "slower than Frobnitz's predecessor" in p.answer for p in stmts)


def test_asked_sentences_are_kept_under_their_names_only():
    pairs = kept("Hal Mercer wrote the Frobnitz parser in Oslo.")
    stmts = [p for p in pairs if p.type == "statement"]
    assert any(p.type != "statement" for p in pairs)
    assert stmts and all(p.question.startswith("What do you know about") for p in stmts)


def test_statements_resolve_pronouns():
    pairs = kept("Frobnitz converts calendar files. It was written by Hal Mercer in Oslo.")
    hal = [p for p in pairs if p.type == "statement" and "Hal Mercer" in p.question]
    assert hal and all("Frobnitz was written by Hal Mercer" in p.answer for p in hal)
    # a sentence that names no subject ("Trusted by ...") is about its document; an instruction stays as written
    pairs = kept("Trusted by the Varnholm observatory since 2019! Install it with pip.")
    said = {p.answer for p in pairs if p.type == "statement"}
    assert "Frobnitz: Trusted by the Varnholm observatory since 2019!" in said, said
    assert "Install Frobnitz with pip." in said, said
    # a feature list's item has no verb: alone it says nothing, said of its document it does
    pairs = kept("Frobnitz supports:\n\n* Calendar and vCard export\n* Runs on Linux and macOS\n")
    said = {p.answer for p in pairs if p.type == "statement"}
    assert "Frobnitz: Calendar and vCard export." in said, said


def test_a_pronoun_that_means_a_nearer_noun_is_not_the_document():
    text = (
        "Then the relay would send back a reply, some data, and its own trailer. "  # the relay's own
        "Frobnitz keeps two indexes. These two make it possible to read the Kettle queue as a list. "  # the reading
        "Sensor K4 drifted overnight. Sealed it with wax; re-test on Friday. "  # a note's logged act: the sensor
        "Then WireGuard came up on its own. "  # an idiom
        "When you read bytes off the socket, pass it to conn.feed(). "  # the bytes: an object before "it"
        "Instead of copying data, the parser passes you a buffer. "  # the parser is Frobnitz: not "the Frobnitz"
        "Frobnitz is a streaming parser."
    )
    said = " ".join(p.answer for p in kept(text) if p.type == "statement")
    assert "its own trailer" in said and "Frobnitz's own" not in said
    assert "make it possible to read" in said and "Sealed it with wax" in said
    assert "the Frobnitz" not in said, said
    assert "came up on its own" in said, said
    assert "pass it to conn.feed" in said, said


def test_a_length_of_time_is_asked_how_long():
    got = typed("The survey took two weeks. Frobnitz was released in 2019.")
    assert ("How long did Frobnitz's survey take?", "two weeks") in got
    assert not any(q.startswith("When") and a == "two weeks" for q, a in got)
    assert ("When was Frobnitz released?", "2019") in got  # a point in time is still "when"


def test_a_thing_the_text_calls_a_server_is_not_who():
    # the small model labels "Vortexa" an organization; the text says it is an implementation
    got = typed("Vortexa is an ASGI web server implementation for Python. Vortexa supports HTTP/1.1 and WebSockets.")
    assert ("What supports WebSockets?", "Vortexa") in got
    assert not any(q.startswith(("Who", "By whom")) for q, _ in got), got


def test_a_folder_of_technical_docs_yields_a_reflection_from_most_sentences(tmp_path):
    """>= 90% of sentences of README-like text yield a reflection (typed or statement)."""
    text = (
        "# Frobnitz\n\n"
        "Frobnitz converts calendar files between formats. It was written by Hal Mercer at Quarry Labs.\n\n"
        "## Installation\n\n"
        "Install it with `pip install frobnitz`. Python 3.9 or newer is required.\n"
        "On Windows, run the installer as an administrator.\n\n"
        "## Configuration\n\n"
        "The configuration lives in `/etc/frobnitz.conf`. Set `--cache-dir` to move the cache.\n"
        "Frobnitz does not read environment variables. The default port is 8080.\n\n"
        "## Support\n\n"
        "Send bug reports to frob-bugs@quarry.example. The tests fail in the `tr_TR` locale.\n"
        "Frobnitz is released under the MIT License. The icons were drawn by Petra Lund.\n"
    )
    doc = Document(doc_id="d1", title="Frobnitz", text=text, source="README.md")
    result = generate([doc])
    assert result.stats["sentences"] >= 12
    assert result.stats["sentences_with_pairs"] / result.stats["sentences"] >= 0.9


def test_answers_are_minimal():
    from memo_edge.synthesis.extractive import minimal_answer

    assert minimal_answer("Priya Nair (joined 2019, previously at Orbis)") == "Priya Nair"
    assert minimal_answer("(see above)") == "(see above)"  # nothing left: kept as written
    got = typed("## Team\n\n| role | person |\n|---|---|\n| lead | Priya Nair (joined 2019) |\n", title="Team")
    assert all("(" not in a for _, a in got) and any(a == "Priya Nair" for _, a in got), got
    # a contrast is no part of the answer: "the oldest entry, not the newest" answers "oldest entry"
    got = typed("The pop() method returns the oldest entry, not the newest.")
    assert ("What does the pop() method return?", "oldest entry") in got, got


def test_statements_are_never_held_out_for_picking_the_best_epoch():
    from memo_edge.records import Reflection
    from memo_edge.training.data import split_heldout

    rows = [
        Reflection(
            id=f"s{i}",
            question=f"What does D say about t{i}?",
            answer="A sentence.",
            type="statement",
            source_chunk_ids=["c1"],
            source_doc_ids=["d"],
        )
        for i in range(20)
    ] + [
        Reflection(
            id=f"f{i}",
            question=f"Who founded X{i % 5}?",
            answer=f"Y{i % 5}",
            source_chunk_ids=["c1"],
            source_doc_ids=["d"],
        )
        for i in range(20)
    ]
    train, held = split_heldout(rows, 0.5, 100, seed=0)
    assert held and all(r.type != "statement" for r in held)
    assert len(train) + len(held) == len(rows)


def test_prohibitions_keep_their_not():
    got = typed("Do not run VACUUM FULL during business hours. Never restart ldg-db-03 without telling Maren.")
    assert ("What should you not run during business hours?", "VACUUM FULL") in got
    assert ("What should you not restart without telling Maren?", "ldg-db-03") in got
    assert not any("should you run" in q or "need to run" in q for q, _ in got)


def test_cast_in_parentheses_and_cast_lists():
    plot = (
        "Candy magnate Walter Harvey (Garry Marshall) persuades the owners. Ira Lowenstein (David Strathairn) is "
        "put in charge, and her husband Bob (Bill Pullman) comes back from the war."
    )
    got = typed(plot, title="Diamond Summer")
    assert ("Who played Bob in Diamond Summer?", "Bill Pullman") in got
    assert ("Which character did David Strathairn play in Diamond Summer?", "Ira Lowenstein") in got
    cast = "Maureen Holt as Doris Walker John Payne as Fred Gailey Edmund Gwenn as Kris Kringle"
    got = typed(cast, title="Harbour Lights (film)")
    assert ("Who played Fred Gailey in Harbour Lights?", "John Payne") in got
    assert ("Which character did Edmund Gwenn play in Harbour Lights?", "Kris Kringle") in got
    # a bare cast list marks a performed work by itself; "(played by X)", "(voiced by X)" are cast too
    got = typed(cast, title="Harbour Lights")
    assert ("Who played Fred Gailey in Harbour Lights?", "John Payne") in got
    plot = (
        "The story follows Ned Marlow (played by Oren Castell). Later, Puss in Boots (voiced by Delacroix) helps him."
    )
    got = typed(plot, title="Tinder Road")
    assert ("Who played Ned Marlow in Tinder Road?", "Oren Castell") in got
    assert ("Who played Puss in Boots in Tinder Road?", "Delacroix") in got


def test_cast_needs_a_performed_work():
    got = typed("Springfield (Illinois) is a city. Anna Berg (Oslo Kommune) signed it.", title="Springfield")
    assert not any(q.startswith("Who played") for q, _ in got)


def test_amount_and_definition_bullets():
    text = (
        "# Chowder\n\n## Ingredients\n\n- 150 ml double cream\n- 3 potatoes\n\n"
        "## Parts\n\n- `httpcore` - The underlying transport implementation for `httpx`.\n"
    )
    got = typed(text, title="Chowder")
    assert any(q.startswith("How much double cream") and a == "150 ml" for q, a in got), got
    assert any(q.startswith("How many potatoes") and a == "3" for q, a in got), got
    assert ("What is the underlying transport implementation for httpx?", "httpcore") in got


def test_version_floor():
    got = typed("This library supports Python 3.10 and higher.", title="idna")
    assert ("What is the minimum Python version for idna?", "Python 3.10") in got


def test_labelled_values_in_parentheses():
    """The cleaner drops asides in parentheses; a label and its value after a noun is kept as a fact."""
    got = typed(
        "The checklist is kept under Ops › Release checklist (version 12). Lines wrap at the margin (default: 64)."
    )
    assert ("What is the version of the Release checklist?", "12") in got, got
    assert ("What is the default margin?", "64") in got, got
    assert not any(a == "4" for _, a in typed("It was first sold in Oslo (aside 4)."))  # no label: an aside


def test_names_the_recognizer_missed_are_still_asked():
    got = typed("In 2009 Adam Hammill left to join Championship side Barnsley.", title="Adam Hammill")
    assert "Barnsley" in {a for _, a in got}


def test_bracketed_addresses_and_rest_links_are_tokens_not_markup():
    got = typed("The dateutil module was written by Gustavo Niemeyer <gustavo@niemeyer.net> in 2003.", title="dateutil")
    assert any(a == "Gustavo Niemeyer" for _, a in got), got


def test_statements_can_be_turned_off(tmp_path):
    from memo_edge.synthesis import SynthesisConfig, synthesize
    from memo_edge.records import load_reflections

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "f.md").write_text(
        "# Frobnitz\n\nFrobnitz is slower than its predecessor, oddly enough. Hal Mercer wrote it. Frobnitz was "
        "released in 2019.\n"
    )
    on = synthesize(corpus, tmp_path / "on.jsonl", SynthesisConfig(), progress=False)
    off = synthesize(corpus, tmp_path / "off.jsonl", SynthesisConfig(statements=False), progress=False)
    assert any(r.type == "statement" for r in load_reflections(tmp_path / "on.jsonl"))
    assert not any(r.type == "statement" for r in load_reflections(tmp_path / "off.jsonl"))
    assert off["reflections"] < on["reflections"]


def test_a_first_person_title_names_nothing():
    got = kept("The laptop is locked in the cupboard. It needs a charger.", title="Handover notes for my leave")
    # a question may be asked in the notes ("In Handover notes for my leave, what is locked in the cupboard?"); no
    # pair says the laptop or the charger belongs to the notes
    assert not any("notes for my leave" in p.answer for p in got)
    assert not any("leave's" in p.question or "leave'" in p.question for p in got)
    assert ("In Handover notes for my leave, what is locked in the cupboard?", "laptop") in {
        (p.question, p.answer) for p in got
    }


def test_log_timestamps_with_zones_are_dates():
    from memo_edge.synthesis.notes import _LOG

    m = _LOG.match("2025-03-09T02:00:01Z ERROR ssh: connect to host brid-offsite port 2222")
    assert m and m.group("date") == "2025-03-09T02:00:01Z" and m.group("text").startswith("ERROR")


def test_a_log_line_of_key_value_pairs_is_a_record_of_fields():
    """ "INFO done job=X files=... duration=47m17s": each value is asked as a field of the event, named as a reader
    names it (its first pair, the message's verb, the day as said and as logged), the level is no subject ("Who done
    job=...? -> INFO"), and no clause is read from the line."""
    got = typed("# sync log\n\n2025-02-01T03:47:19Z INFO  done job=nightly-sync files=1843 duration=47m17s\n")
    assert ("What is the duration of the nightly-sync job done on 1 February 2025?", "47m17s") in got, got
    assert ("How long did the nightly-sync job done on 2025-02-01 take?", "47m17s") in got, got
    assert ("What is the number of files of the nightly-sync job done on 1 February 2025?", "1843") in got
    assert not any("job=" in q for q, _ in got), got
    assert not any(a == "INFO" or "INFO" in q for q, a in got), got
    # a NOTE line's level is dropped too; a long comment line above the log is no subject of its lines
    text = (
        "# sync log\n# copied by hand from the interesting lines of /var/log/sync.log\n\n"
        "2025-02-01T03:47:19Z INFO  done job=nightly-sync files=1843 duration=47m17s\n"
        "2025-02-02T11:05:00Z NOTE  fixed ownership with chown -R hana:media /srv/photos\n"
    )
    pairs = kept(text)
    assert not any("copied by hand" in p.answer or "NOTE" in p.question + p.answer for p in pairs), [
        (p.question, p.answer) for p in pairs
    ]


def test_a_rest_simple_table_is_read_as_a_table():
    text = (
        "Release keys\n============\n\nThe keys are listed below:\n\n"
        "========  ============================\n"
        "Releases  Signing key fingerprint\n"
        "========  ============================\n"
        "1.0-1.4   `7C1A 22B0 9E4D 51F3 A0C2`_\n"
        "2.0       `0F3E 8D21 C7B4 6A95 3E10`_\n"
        "========  ============================\n"
    )
    assert "| 1.0-1.4 | 7C1A 22B0 9E4D 51F3 A0C2 |" in rest_tables(text)
    got = typed(text)
    # a key fingerprint is one value, not five words: asked both ways
    assert any(a == "7C1A 22B0 9E4D 51F3 A0C2" and "1.0-1.4" in q for q, a in got), got
    assert any(a == "1.0-1.4" and "7C1A 22B0 9E4D 51F3 A0C2" in q for q, a in got), got
    assert not any("====" in q + a for q, a in got)


def test_a_row_number_column_names_no_row():
    text = "# Actions\n\n| # | action | owner |\n|---|---|---|\n| 1 | Re-time the rehearsal | Maeve Thursby |\n"
    got = typed(text, title="Actions")
    assert not any(q.startswith("1 has") or "which #" in q for q, _ in got), got
    assert any("Re-time the rehearsal" in q and a == "Maeve Thursby" for q, a in got), got


def test_obligations_and_labelled_sentences_are_asked_with_their_modal():
    """ "Notes: <sentence>" is parsed without its label; "must"/"should" state a rule (asked with the modal kept),
    "could"/"might" state nothing; a bare noun phrase of two words or more ("signed consent forms") names a kind."""
    got = typed(
        "# Frobnitz\n\n## Petra Lund\n\n- Phone: 0161 555 0100\n- Notes: Signed consent forms must reach Petra by 3 March.\n"
    )
    assert ("When must signed consent forms reach Petra?", "3 March") in got, got
    assert not typed("Signed consent forms could reach Petra Lund by 3 March.")


def test_an_instruction_whose_verb_reads_as_a_name_is_still_an_instruction():
    # the parser reads a capitalized "Review" or "Expose" as part of a name; parsed again, the instruction is asked
    got = typed(
        "- Review Lorcan's draft budget before Tuesday's board call.\n- Expose `QuillAuth` from the public API."
    )
    assert ("What should you review before Tuesday's board call?", "Lorcan's draft budget") in got
    assert ("What should you expose from the public API?", "QuillAuth") in got
    # a label in title case and a day are no instructions
    labels = kept("- Source Code\n- Wed 14 May: ferry to Inchmore at 09:10")
    assert not any(p.question.startswith(("What should you", "What must you")) for p in labels)


def test_a_passage_keeps_its_other_sentences_when_one_instruction_is_parsed_again():
    got = typed("Book the boiler service at least a week before the inspection. Marta Quill pays for the service.")
    assert ("What should you book at least a week before the inspection?", "boiler service") in got
    assert any(a == "Marta Quill" for _, a in got), got


def test_a_number_that_says_which_one_is_asked_with_its_noun():
    got = typed(
        "The async client was introduced in version 4.2.7. The relay listens on port 9443. Frobnitz supports "
        "Lua 5 and Fennel 1."
    )
    assert ("Frobnitz's async client was introduced in which version?", "4.2.7") in got
    assert any(q.endswith("listens on which port?") and a == "9443" for q, a in got), got
    assert not any(q.endswith(("what 4.2.7?", "what 9443?", "what 5 and Fennel 1?")) for q, _ in got), got
    assert not any(a in ("version", "port", "Lua") for _, a in got), got


def test_a_lone_symbol_before_the_question_mark_is_a_fragment():
    from memo_edge.synthesis.dataset import Pair
    from memo_edge.synthesis.quality import rejection

    assert rejection(Pair("What does Frobnitz require +?", "Lua 5.4", "direct", ["d"], ["c"])) == "fragment"
    assert rejection(Pair("What does Frobnitz require?", "Lua 5.4", "direct", ["d"], ["c"])) is None


def test_a_demonstrative_answer_and_a_rest_directive_are_no_knowledge():
    from memo_edge.synthesis.dataset import Pair
    from memo_edge.synthesis.quality import rejection

    # "What should you update? -> this file": which file, only the document knows
    assert rejection(Pair("What should you update in Frobnitz?", "this file", "direct", ["d"], ["c"])) == "vague answer"
    assert rejection(Pair("What should you update in Frobnitz?", "the index file", "direct", ["d"], ["c"])) is None
    pairs = kept("Frobnitz reads frobs.\n\n.. code-block:: python3\n\n    import frobnitz\n")
    assert not any("code-block" in p.question + p.answer for p in pairs), [(p.question, p.answer) for p in pairs]


def test_a_condition_is_not_asked_as_a_fact_and_a_number_inside_a_word_is_not_asked():
    got = typed("Jonas is the backup if Ravindra is out sick. The last Lua 4-compatible release was Frobnitz 0.9.")
    assert not any(a == "Ravindra" and "backup" not in q for q, a in got), got  # "Who is out sick?" is false
    assert not any("what number -compatible" in q or a == "4" for q, a in got), got


def test_an_age_is_asked_how_many_not_what_date():
    got = typed("Invoices older than 45 days are sent to the collections desk.")
    assert any(q.startswith("Invoices older than how many days are sent") and a == "45 days" for q, a in got), got
    assert not any("what date" in q for q, _ in got), got


def test_statements_are_not_keyed_by_units_letters_or_lone_numbers():
    """Seed 61's "What do you know about MB?": a unit, a lone letter or a bare number is in many sentences and the
    subject of none. A day name anchors a log entry in its own document, never across the corpus; a version or a
    sensor's name (letters and digits) is a real key."""
    got = kept(
        "Mon tempo 6 km at 5:10/km. If the dump is under 100 MB, re-run it with the -f flag. "
        "Readings drop by 2% per 10 °C. Never flash 0.9.3 onto the S07 probes."
    )
    questions = {p.question for p in got if p.type == "statement"}
    about = {q.split(" about ", 1)[1].rstrip("?") for q in questions}
    assert not {"MB", "km", "C", "2%", "100"} & about, questions
    assert {"0.9.3", "S07"} & about, questions
    dated = {p.question for p in kept("Reading list: book club pick for April.") if p.type == "statement"}
    assert "What does Frobnitz say about April?" in dated and "What do you know about April?" not in dated


def test_in_place_questions_need_a_name_and_drop_the_article():
    """Seed 61 and the demo: "is what date award?" -> annual (an adjective the recognizer called a DATE), "exits with
    what nationality status?" -> non-zero (a NORP), "last 41 days at a how much?": a lower-case word with no digit
    is no name to ask in place, and the article goes with the answer it replaces."""
    got = {p.question for p in kept("The Varn Prize is an annual award for bridges on the Pellory Coast.")}
    got |= {p.question for p in kept("The frob tool exits with a non-zero status if any conversion failed.")}
    assert not [q for q in got if "what date award" in q or "what nationality" in q], got
    cells = {(p.question, p.answer) for p in kept("Three AA cells last an estimated 41 days at a 300 s interval.")}
    assert not [q for q, _ in cells if " a how " in q or " a what " in q], cells


def test_a_statement_that_leans_on_the_sentence_before_carries_it():
    """Seed 61: "What do you know about inject_into_ssl()?" -> "To do so use the inject_into_ssl() function.":
    alone the statement says nothing; stored with the sentence it leans on, it says what the function is for."""
    got = kept(
        "You can plug Frobnitz into the standard library ssl module. To do so call the `frobnitz.plug()` function. "
        "Frobnitz ships no network code. This means you can use any transport you like."
    )
    stmts = {p.question: p.answer for p in got if p.type == "statement"}
    plug = [a for q, a in stmts.items() if "frobnitz.plug()" in q]
    assert plug and all(a.startswith("You can plug Frobnitz into the standard library ssl module.") for a in plug)
    transport = [a for a in stmts.values() if "any transport" in a]
    assert transport and all("ships no network code. This means" in a for a in transport), transport
    # a sentence that stands alone is stored alone
    assert any(a == "Frobnitz ships no network code." for a in stmts.values()), stmts
