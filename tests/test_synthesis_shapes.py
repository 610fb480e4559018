"""The extractive generator, sentence shape by sentence shape: the exact question-answer pairs it writes.

Each test parses real sentences with the real spaCy pipeline and runs the quality filter, as `memo synthesize`
does; the sentences are invented (no demo corpus), one per shape the issue lists: semicolons, apposition, passive,
relative clauses, lists, numbers and amounts, parenthesized dates, notes (bullets, tables, front matter, logs).
"""

from __future__ import annotations

import pytest

from memo_edge.corpus import content_id
from memo_edge.records import Document, load_reflections
from memo_edge.synthesis import synthesize
from memo_edge.synthesis.dataset import Pair
from memo_edge.synthesis.extractive import generate
from memo_edge.synthesis.quality import apply, rejection


def pairs(text: str, title: str) -> set[tuple[str, str]]:
    """The typed pairs (statement reflections, which hold whole sentences, are tested on their own)."""
    doc = Document(doc_id=content_id(title, text), title=title, text=text)
    kept, _ = apply(generate([doc]).pairs)
    return {(p.question, p.answer) for p in kept if p.type not in ("statement", "cloze")}


def test_its_after_a_named_subject_is_that_subject_not_the_document():
    got = pairs(
        "After two days of rain, the River Quell burst its banks on 3 May 2021. Marrow Cycles launched its first "
        "cargo bike in 2019.",
        "The Quell Flood",
    )
    assert ("When did the River Quell burst the River Quell's banks?", "3 May 2021") in got, sorted(got)
    assert ("In what year did Marrow Cycles launch Marrow Cycles' first cargo bike?", "2019") in got
    assert not [q for q, a in got if "Quell Flood's" in q + a]


def test_a_name_in_apposition_is_what_its_noun_phrase_is():
    got = pairs("Marrow Cycles launched its first cargo bike, the Hauler C2, in 2019.", "Marrow Cycles")
    assert ("What was Marrow Cycles' first cargo bike?", "Hauler C2") in got, sorted(got)
    assert ("What launched the Hauler C2?", "Marrow Cycles") in got  # asked by the name, which gives nothing away
    assert not [q for q, a in got if a == "Hauler C2" and q.endswith(", which place?")]


def test_another_word_for_the_documents_kind_is_the_document():
    # (what the text calls a name needs the recognizer to see a name: "Tessel Systems" it does)
    text = "Tessel Systems is an engineering company based in Port Alvey. The firm hired Ona Petrakis in 2016."
    got = pairs(text, "Tessel Systems")
    assert ("Which company hired Ona Petrakis in 2016?", "Tessel Systems") in got, sorted(got)
    assert not [q for q, a in got if "Tessel Systems' firm" in q + a]


def test_a_count_in_a_log_record_is_asked_as_a_number():
    got = pairs("2025-04-02T03:10:00Z INFO done job=nightly-sync files=912 duration=5m02s\n", "sync log")
    assert ("What is the number of files of the nightly-sync job done on 2 April 2025?", "912") in got, sorted(got)
    assert not [q for q, _ in got if " the files of " in q]


def test_it_after_an_unnamed_subject_is_no_earlier_name():
    text = (
        "## Runbook\n\nThe runbook is in the wiki under Ops (version 4). Draft 3 is out of date and still has the "
        "old server name, so do not use it.\n\n## Weekly jobs\n\nEvery Monday morning the payroll export has to "
        "be checked by 09:00. It lands in `/srv/exports/payroll/` as a gzipped CSV.\n"
    )
    got = pairs(text, "Handover notes for my trip")
    assert not [q for q, a in got if "Draft 3" in q + a and ("land" in q or "/srv/" in a)], sorted(got)


def test_semicolon_joined_clauses_are_asked_in_both_directions():
    got = pairs(
        "In 1958 Tobias Wren married the cartographer Ilse Varga; the couple moved to Lindau in 1960.", "Tobias Wren"
    )
    assert {
        ("Whom did Tobias Wren marry?", "Ilse Varga"),  # object
        ("Whom did Tobias Wren marry in 1958?", "Ilse Varga"),
        ("In 1958, whom did Tobias Wren marry?", "Ilse Varga"),  # a variant with the date in front
        ("Who married the cartographer Ilse Varga?", "Tobias Wren"),  # subject
        ("Whom did Ilse Varga marry?", "Tobias Wren"),  # the relation from the other side
        ("In what year did Tobias Wren marry the cartographer Ilse Varga?", "1958"),
    } <= got
    # "the couple" cannot be named without the document: nothing is asked about it
    assert not [q for q, _ in got if "couple" in q.lower()]
    # never the old clause-fragment answers
    assert not [a for _, a in got if ";" in a or "couple" in a]


def test_apposition_states_a_relation():
    got = pairs("Orla Brenn, the daughter of Caspar Brenn, founded the Velmar Press in 1921.", "Orla Brenn")
    assert {
        ("Whose daughter is Orla Brenn?", "Caspar Brenn"),
        ("Who is the daughter of Caspar Brenn?", "Orla Brenn"),
        ("Who founded the Velmar Press?", "Orla Brenn"),
        ("What did Orla Brenn found?", "Velmar Press"),
        ("When did Orla Brenn found the Velmar Press?", "1921"),
    } <= got


def test_passive_is_asked_in_the_active_voice_too():
    got = pairs(
        "The Harrow Point Lighthouse was completed in 1872 by the Northern Lights Board.", "Harrow Point Lighthouse"
    )
    assert {
        ("When was the Harrow Point Lighthouse completed by the Northern Lights Board?", "1872"),
        ("In what year was the Harrow Point Lighthouse completed by the Northern Lights Board?", "1872"),
        ("By whom was the Harrow Point Lighthouse completed?", "Northern Lights Board"),
        ("Who was the Harrow Point Lighthouse completed by?", "Northern Lights Board"),
        ("Which lighthouse was completed by the Northern Lights Board?", "Harrow Point Lighthouse"),
    } <= got


def test_relative_clause_and_full_dates():
    got = pairs("The Kessel Bridge, which spans the river Aare, opened on 3 May 2011.", "Kessel Bridge")
    assert {
        ("What does the Kessel Bridge span?", "river Aare"),
        ("Which bridge spans the river Aare?", "Kessel Bridge"),
        ("When did the Kessel Bridge open?", "3 May 2011"),
        ("On what date did the Kessel Bridge open?", "3 May 2011"),
        ("In what year did the Kessel Bridge open?", "2011"),
    } <= got


def test_parenthesized_life_dates_and_the_description_both_ways():
    got = pairs("Pál Gábor (2 November 1932 – 21 October 1987) was a Hungarian film director.", "Pál Gábor")
    assert {
        ("When was Pál Gábor born?", "2 November 1932"),
        ("In what year was Pál Gábor born?", "1932"),
        ("When did Pál Gábor die?", "21 October 1987"),
        ("Who was Pál Gábor?", "a Hungarian film director"),
        ("Who was a Hungarian film director?", "Pál Gábor"),
        ("What nationality was Pál Gábor?", "Hungarian"),
    } <= got


def test_colon_list_and_numbers_with_units():
    got = pairs(
        "Marl Ferries operates three ferries: the Gullwind, the Tern and the Petrel. "
        "Tandry is a river town with about 9,000 residents.",
        "Marl Ferries",
    )
    assert {
        ("How many ferries does Marl Ferries operate?", "three"),
        ("Which ferries does Marl Ferries operate?", "the Gullwind, the Tern and the Petrel"),
        ("How many residents does Tandry have?", "9,000"),
    } <= got  # "about" is no part of a count


def test_at_least_three_phrasings_per_fact():
    got = pairs("Tobias Wren founded the Lindau Atlas Works in 1961.", "Tobias Wren")
    by_answer: dict[str, int] = {}
    for _, a in got:
        by_answer[a] = by_answer.get(a, 0) + 1
    assert by_answer["Lindau Atlas Works"] >= 3 and by_answer["Tobias Wren"] >= 3 and by_answer["1961"] >= 3


@pytest.mark.parametrize(
    "question,answer,why",
    [
        ("Who founded Velmar Press?", "Velmar Press", "question contains its answer"),
        (
            "When did Orla Brenn found the press?",
            "in 1921 after she had moved to the coast with her family",
            "answer too long for its wh-type",
        ),
        ("Orla Brenn founded the press.", "1921", "fragment"),
        ("Orla Brenn founded the press in 1921?", "1921", "no wh-word or auxiliary"),
        ("Orla Brenn founded the press in which year, 1921?", "1921", "question contains its answer"),
        ("Orla Brenn founded a press in what?", "1921 and", None),
        ("When did she found the press?", "1921", "not self-contained"),
        ("Who was Velmar Press founded by the?", "Orla Brenn", "fragment"),
        ("Velmar Press was founded by Orla Brenn yesterday?", "yes", "no wh-word or auxiliary"),
        ("What did Orla Brenn start in 1921?", "Orla Brenn's press", "answer repeats the question's name"),
    ],
)
def test_quality_filter_names_each_reason(question, answer, why):
    assert rejection(Pair(question, answer, "direct", ["d"], ["c"])) == why


def test_notes_folder_yields_pairs_from_every_bullet_table_row_and_log_line(tmp_path):
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "falcon.md").write_text(
        "---\ntitle: Project Falcon\ndate: 2025-03-14\ntags: [drones, budget]\nowner: Maren Holt\n---\n"
        "# Project Falcon\n\n## Budget\n- Total: 40,000 euros\n- Approved by Maren Holt on 2025-03-11\n\n"
        "## Team\n- Tomas Lind joined the project in January 2025.\n- Leads the motor tests\n- Ines Ruiz\n\n"
        "## Log\n2025-03-11 Maren Holt approved the budget.\n"
        "2025-03-12 Tomas Lind ordered six motors from Arvik Components.\n\n"
        "| Part | Supplier | Cost |\n|---|---|---|\n| Motor | Arvik Components | 120 euros |\n"
        "| Frame | Delta Works | 80 euros |\n"
    )
    synthesize(corpus, tmp_path / "r.jsonl", progress=False)
    got = {(r.question, r.answer) for r in load_reflections(tmp_path / "r.jsonl")}
    assert {
        ("What are Project Falcon's tags?", "drones, budget"),  # front matter
        ("What is the owner of Project Falcon?", "Maren Holt"),
        ("What is the total of Project Falcon budget?", "40,000 euros"),  # "Key: value" bullet
        ("By whom was Project Falcon budget approved?", "Maren Holt"),  # a bullet without subject
        ("When did Tomas Lind join the project?", "January 2025"),  # a sentence bullet
        ("What does Project Falcon team lead?", "motor tests"),  # subject from the heading
        ("What is listed under Project Falcon team?", "Ines Ruiz"),  # a bullet that is a name
        ("When did Maren Holt approve the budget?", "2025-03-11"),  # dated log lines
        ("How many motors did Tomas Lind order?", "six"),
        # table row x column, with the document: "Motor" alone is one of many motors a user's notes hold
        ("In Project Falcon, what is the supplier of Motor?", "Arvik Components"),
        ("What is the cost of Frame in Project Falcon?", "80 euros"),
        ("Which part has the supplier Delta Works in Project Falcon?", "Frame"),
    } <= got
    assert not any(q.startswith("What is the supplier of Motor?") for q, _ in got)
    text = " ".join(q + " " + a for q, a in got)
    for bullet_fact in ("40,000 euros", "Approved", "January 2025", "motor tests", "Ines Ruiz"):
        assert bullet_fact.lower() in text.lower(), bullet_fact


def test_card_counts_coverage_and_warns_about_a_document_without_pairs(tmp_path, capsys):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "press.md").write_text(
        "# Velmar Press\n\nOrla Brenn founded the Velmar Press in 1921. "
        "The Velmar Press printed maps of the Lindau coast.\n"
    )
    (corpus / "scratch.md").write_text("# Scratch\n\n```\nls -la\n```\n")
    card = synthesize(corpus, tmp_path / "r.jsonl", progress=False)
    err = capsys.readouterr().err
    assert "warning:" in err and "scratch.md" in err and "press.md" not in err
    cov = card["coverage"]
    assert cov["documents_without_pairs"] == ["scratch.md"]
    press = next(r for r in cov["per_document"] if r["source"] == "press.md")
    assert press["reflections"] > 0 and press["per_100_words"] > 10
    assert 0 < cov["sentence_yield"] <= 1
    assert 0 < len(card["sample"]) <= 20 and all(s["question"].endswith("?") for s in card["sample"])
    md = (tmp_path / "r.card.md").read_text()
    assert "## Coverage" in md and "scratch.md" in md and "## Sample of" in md


def test_a_bare_surname_answer_gets_the_full_name_the_document_gave():
    got = pairs(
        "Aldous Fenwick was a British chemist. In 1902 Fenwick published the Marlow Tables. "
        "Later Fenwick founded the Corran Institute.",
        "Aldous Fenwick",
    )
    assert {
        ("Who founded the Corran Institute?", "Aldous Fenwick"),
        ("Who published the Marlow Tables in 1902?", "Aldous Fenwick"),
    } <= got
    # two full names share the surname: a bare "Fenwick" is left as written, never guessed
    two = pairs(
        "The Marlow Tables were published by Aldous Fenwick. His son Piers Fenwick edited them. "
        "In 1931 Fenwick founded the Corran Institute.",
        "Marlow Tables",
    )
    assert ("Who founded the Corran Institute?", "Fenwick") in two
    assert not [q for q, a in two if "Corran" in q and a.endswith(" Fenwick")]


def test_a_described_name_is_answered_by_the_name_alone():
    got = pairs("The Vell constant is named after Austrian physicist and philosopher Ernst Vellmar.", "Vell constant")
    assert {
        ("Who is the Vell constant named after?", "Ernst Vellmar"),
        ("After whom is the Vell constant named?", "Ernst Vellmar"),
    } <= got
    assert not [a for _, a in got if "physicist" in a]


def test_a_role_of_a_named_thing_is_asked_with_its_holder():
    got = pairs("The mayor of Tarnwick is Odessa Vail. The capital of Orrland is Vessmark.", "Tarnwick")
    assert {
        ("Who is the mayor of Tarnwick?", "Odessa Vail"),
        ("What is the capital of Orrland?", "Vessmark"),
    } <= got


def built(tmp_path, name: str, text: str) -> set[tuple[str, str]]:
    """The pairs `memo synthesize` keeps for one file (after de-duplication and ambiguity removal)."""
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / name).write_text(text)
    synthesize(tmp_path / "c", tmp_path / "r.jsonl", progress=False)
    return {(r.question, r.answer) for r in load_reflections(tmp_path / "r.jsonl") if r.type != "statement"}


def test_a_record_is_asked_by_its_name_and_by_what_it_is(tmp_path):
    text = (
        "# Address book (home + office)\n\n## Hollis Grey (plumber)\n\nPhone: 089 555 0150\nFee: €60\n"
        "\n\n## Wendell Okafor (locksmith)\n\nPhone: 089 555 0101\n"
        "Email: wendell@okaforlocks.example\n\n## Mirabel Stroud (locksmith)\n\nPhone: 089 555 0177\n"
        "Hours: weekdays\n\n"
        "## quartz\n\nrole: home file server\nip: 192.168.7.20\nos: Debian 12\n\n"
        "## slate\n\nrole: garage camera hub\nip: 192.168.7.31\n"
    )
    got = built(tmp_path, "book.md", text)
    assert {
        ("What is the phone of Wendell Okafor?", "089 555 0101"),  # the name without what it is
        ("What is the phone of the plumber?", "089 555 0150"),  # and by what it is
        ("What is the ip of quartz?", "192.168.7.20"),  # a lowercase heading over "key: value" lines is a name
        ("What is the ip of the home file server?", "192.168.7.20"),  # its "role:" line names it too
        ("What is the garage camera hub's ip?", "192.168.7.31"),
    } <= got
    assert not [q for q, _ in got if "(locksmith)" in q or "Address book" in q]
    # two locksmiths: "the locksmith" names neither
    assert ("What is the email of Wendell Okafor?", "wendell@okaforlocks.example") in got
    assert not [q for q, _ in got if "locksmith" in q]


def test_roles_in_a_list_of_names_are_asked_for_the_meeting(tmp_path):
    text = (
        "# Harbour board — monthly review\n\n**Attendees:** Wilhelmina Crane (chair), Bastian Oyelaran, Priya "
        "Dunmore (treasurer), Lotte Fairweather (remote), Cosmo Hartigan (notes)\n\n"
        "- The dredging budget was approved.\n"
    )
    got = built(tmp_path, "board.md", text)
    assert {
        ("Who chaired Harbour board — monthly review?", "Wilhelmina Crane"),
        ("Who is the treasurer of Harbour board — monthly review?", "Priya Dunmore"),
        ("What is Priya Dunmore's role in Harbour board — monthly review?", "treasurer"),
    } <= got, sorted(got)
    # how someone attended ("remote") and a plural ("notes") are no roles
    assert not [q for q, a in got if a in ("remote", "notes") or " the remote " in q or " the notes " in q]


def test_a_table_row_is_named_by_a_cell_when_its_first_column_repeats(tmp_path):
    text = (
        "# Hiking weekend\n\n| Day | Leg | Start |\n|---|---|---|\n| Sat | Bus Ardle → Corrin Pass | 07:40 |\n"
        "| Sun | Walk Corrin Pass → Lune Tarn | 09:15 |\n| Sun | Bus Lune Tarn → Ardle | 16:30 |\n"
    )
    got = built(tmp_path, "hike.md", text)
    assert {
        ("In Hiking weekend, what is the start of Walk Corrin Pass → Lune Tarn?", "09:15"),
        ("What is the start of Bus Lune Tarn → Ardle in Hiking weekend?", "16:30"),
        ("In Hiking weekend, what is the start of Sat?", "07:40"),
    } <= got
    assert not [q for q, _ in got if q.endswith("start of Sun?")]  # two rows: no answer


def test_dates_and_times_in_tables_are_asked_when_and_headers_that_are_verbs_with_their_verb(tmp_path):
    text = (
        "# Hiking weekend\n\n| Day | Leg | Depart | Arrive |\n|---|---|---|---|\n"
        "| Sat | Bus Ardle → Corrin Pass | 07:40 | 08:55 |\n| Sun | Walk to Lune Tarn | 09:15 | 11:00 |\n"
        "| Sun | Bus Corrin Pass → Ardle | 16:30 | 17:45 |\n\n"
        "## Chores\n\n| Task | Owner | Due |\n|---|---|---|\n| Renew the hut booking | Maire | 14 Mar |\n"
        "| Pay the mountain guide | Tomas | 21 Mar |\n"
    )
    got = built(tmp_path, "hike.md", text)
    assert {
        ("In Hiking weekend, what time does Bus Corrin Pass → Ardle depart?", "16:30"),
        ("In Hiking weekend, what is the arrive time of Sat?", "08:55"),
        ("In Hiking weekend, when is Pay the mountain guide due?", "21 Mar"),
    } <= got, sorted(got)
    assert not [q for q, _ in got if " the depart of " in q or " the due of " in q]  # a verb or state is no noun
    assert not [q for q, _ in got if "mountain guide's" in q]  # a row named by an action takes no "'s"
    assert ("In Hiking weekend, what is the owner of Pay the mountain guide?", "Tomas") in got


@pytest.mark.parametrize(
    "title, body, name",
    [
        ("frobtool - a tool for turning frobs", "Install frobtool with pip. Frobtool reads frobs.", "frobtool"),
        ("To-do — week of 7 April", "- Pay the gas bill.\n- Book the dentist.", "To-do — week of 7 April"),
        ("Internationalized Widget Names (IWN)", "Use iwn.encode() to encode. The iwn package needs Python.", "iwn"),
        ("Household budget 2025 (monthly)", "Rent is paid monthly. Groceries too, monthly.", "Household budget 2025"),
        # a work's name with a subtitle, and a disambiguation that is no short form, stay names
        ("Avengers: Infinity War", "The Avengers fight Thanos.", "Avengers: Infinity War"),
        ("Labour Party (UK)", "The UK party, founded in the UK, sits in the UK parliament.", "Labour Party"),
    ],
)
def test_a_document_is_named_as_its_text_names_it(title, body, name):
    from memo_edge.synthesis.mentions import topic_of

    assert topic_of(title, f"# {title}\n\n{body}") == name


def test_an_address_in_brackets_is_said_of_the_name_before_it():
    got = pairs("# gizmo\n\nThe gizmo module was written by Oriel Marsh <oriel@marsh.example> in 2011.\n", "gizmo")
    assert ("By whom was the gizmo module written?", "Oriel Marsh") in got
    assert not [a for _, a in got if a.endswith("marsh.example") and "Oriel" in a]


def test_a_title_with_a_subtitle_is_no_name_its_things_are_asked_in_it(tmp_path):
    text = "# Chores — week of 3 June\n\nThe paint order covers the hall and the stairs.\n"
    got = built(tmp_path, "chores.md", text)
    assert ("In Chores — week of 3 June, what does the paint order cover?", "hall and the stairs") in got
    assert not [q for q, _ in got if "June's" in q]


def test_a_task_list_checkbox_is_markup_and_an_instruction_with_a_colon_is_no_record(tmp_path):
    text = (
        "# Chores\n\n- [ ] Review Lorcan's draft budget before Tuesday's board call\n"
        "- [x] Pay the boat licence: €84.10, ref BL-4471\n"
    )
    got = built(tmp_path, "chores.md", text)
    assert ("What should you review before Tuesday's board call?", "Lorcan's draft budget") in got, sorted(got)
    assert not any("[ ]" in q + a or "[x]" in q + a for q, a in got), sorted(got)
    assert not any("the pay the boat licence" in q.lower() or "has what pay" in q for q, _ in got), sorted(got)


def test_a_lone_plural_subject_is_its_documents_and_never_an_answer():
    got = pairs("Logs go to `~/.local/state/snapsort/snapsort.log` and rotate weekly.", "snapsort")
    assert ("In snapsort, to which file do logs go?", "~/.local/state/snapsort/snapsort.log") in got
    assert ("In snapsort, logs go to which file?", "~/.local/state/snapsort/snapsort.log") in got  # own verb form
    assert not [q for q, a in got if a.lower() == "logs"]  # "What goes to ...?" -> logs: a kind, no answer
    # with no document to name it ("Residents" of what?) a lone plural stays vague: nothing is asked about it
    doc = Document(doc_id="x", title="", text="Residents voted against the new bypass in 2019.")
    assert not [p for p in generate([doc]).pairs if p.type in ("direct", "indirect")]


def test_an_in_place_question_keeps_a_plural_subjects_verb():
    got = pairs("The Corrigan Brothers release a new album in 1997.", "The Corrigan Brothers")
    assert ("The Corrigan Brothers release what in 1997?", "a new album") in got
    assert not [q for q, _ in got if "Brothers releases" in q]


def test_a_range_is_two_values_each_asked_with_its_preposition():
    got = pairs("The warehouse cutover moves from 5 April to 26 April 2025.", "Warehouse sync")
    assert ("To what date does Warehouse sync's warehouse cutover move?", "26 April 2025") in got
    assert ("From what date does Warehouse sync's warehouse cutover move?", "5 April") in got
    # no answer holds the whole range, and neither end is asked "when" (two answers for one question)
    assert not [a for _, a in got if " to " in a]
    assert not [q for q, _ in got if q.startswith("When")]


def test_abbreviated_months_and_weekdays_are_also_asked_in_full():
    table = "| Item | Budget | Feb actual |\n|---|---|---|\n| Fuel | €120 | €131 |\n"
    got = pairs(table, "Car costs 2025")
    assert ("What is the Feb actual of Fuel in Car costs 2025?", "€131") in got
    assert ("What is the February actual of Fuel in Car costs 2025?", "€131") in got


def test_a_rest_link_wrapped_over_lines_is_its_text():
    text = (
        "Mirela Ostrow wrote an `excellent essay describing the\nbenefits of this design\n"
        "<https://example.org/2016/04/essay/>`_, or if you like video then here's her\n"
        "`talk on the same theme <https://example.org/talk>`_."
    )
    got = pairs(text, "fernwire")
    assert ("Who wrote an excellent essay?", "Mirela Ostrow") in got
    assert not [q for q, a in got if "`" in q + a]


@pytest.mark.parametrize("q", ["What 's Mirela Ostrow's talk?", "In fernwire, 's an example of what?"])
def test_a_contraction_cut_from_its_word_is_a_fragment(q):
    assert rejection(Pair(q, "a talk", "direct", ["d"], ["c"])) == "fragment"


def test_a_key_clause_in_a_section_is_asked_for_the_sections_thing():
    text = (
        "# Machines\n\n## kestrel-db-02\n\nrole: billing replica\nnotes: Do not run REINDEX during office hours.\n\n"
        "## Orla Madsen (solicitor)\n\nEmail: orla@madsen-law.ie\nNotes: The signed deeds have to reach her by "
        "30 September every year.\n"
    )
    got = pairs(text, "Machines")
    assert ("For kestrel-db-02, what should you not run during office hours?", "REINDEX") in got
    # the section's person (without the parenthetical) is who "her" is and whose deeds they are; a recurring date
    # answers "when", not "how often"
    assert ("When do Orla Madsen's signed deeds have to reach Orla Madsen?", "30 September") in got


def test_what_you_can_or_must_do_is_asked_in_its_document():
    text = (
        "If you want to replace the tokenizer, you'll have to override `_split_words()`. "
        "You can create your own `fernwire.Session` instance. You read bytes off the socket."
    )
    got = pairs(text, "fernwire")
    assert ("In fernwire, what will you have to override?", "_split_words") in got  # "'ll" in full
    assert ("In fernwire, which instance can you create?", "fernwire.Session") in got
    # a condition ("If you want to ...") and a plain description ("You read ...") state no advice; "you" is never an
    # answer, nor the agent of a passive ("What is created by you?")
    assert not [q for q, _ in got if "want to replace" in q or "you read" in q.lower() or "by you" in q]
    assert not [a for _, a in got if a.lower() == "you"]
    doc = Document(doc_id="y", title="fernwire", text=text)
    statements = [p for p in generate([doc]).pairs if p.type == "statement"]
    assert any("_split_words" in p.answer for p in statements)  # advice keeps the sentence's statement


def test_a_date_is_never_cut_and_a_booking_is_asked_for_its_date():
    got = pairs("The second rehearsal is booked for Saturday 12 April, starting at 07:00.", "Handover notes")
    assert ("What is booked for Saturday 12 April?", "second rehearsal") in got  # not "for Saturday 12?"
    assert ("For what date is the second rehearsal booked?", "Saturday 12 April") in got


def test_what_something_has_support_for_is_what_it_supports():
    got = pairs(
        "Fernwire has support for both HTTP/1.1 and HTTP/2. Version 4 drops support for Python 2.7.", "fernwire"
    )
    assert ("What does Fernwire have support for?", "HTTP/1.1 and HTTP/2") in got
    assert ("What does Fernwire support?", "HTTP/1.1 and HTTP/2") in got  # the list whole, without "both"
    assert ("What does Version 4 drop support for?", "Python 2.7") in got
    assert not [q for q, a in got if q == "What does Version 4 support?"]  # dropping support is no support


def test_a_bare_participle_sentence_after_one_about_the_document_is_said_of_it():
    got = pairs(
        "fernwire is the HTTP library for tiny boards. Trusted by ESA for cubesat uplinks since 2021!", "fernwire"
    )
    assert ("By whom is fernwire trusted?", "ESA") in got
    assert ("Since when is fernwire trusted by ESA?", "2021") in got


def test_a_bullet_that_opens_with_a_code_token_is_not_given_its_heading_as_subject():
    # a parse that reads the placeholder as no subject (as "Qxcodeg runs ..." once did): the fragment path would
    # write "Parse a form qxaton runs ..." with the placeholder lower-cased, never to be put back
    import spacy
    from spacy.tokens import Doc

    from memo_edge.synthesis.codemask import _name
    from memo_edge.synthesis.extractive import _fragment_text, _Unit
    from memo_edge.synthesis.notes import Passage

    words = [_name(0), "runs", "for", "every", "file", "."]
    parsed = Doc(
        spacy.blank("en").vocab,
        words=words,
        heads=[1, 1, 1, 4, 2, 1],
        deps=["amod", "ROOT", "prep", "det", "pobj", "punct"],
        tags=["NNP", "VBZ", "IN", "DT", "NN", "."],
    )
    doc = Document(doc_id="z", title="fernwire", text="")
    unit = _Unit(doc, Passage(" ".join(words), heading="Parse a form", kind="bullet"), " ".join(words), [], parsed)
    assert _fragment_text(unit) is None
