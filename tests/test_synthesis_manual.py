"""Plain-text manuals (memo_edge/synthesis/manual.py): a pydoc page and a man page, invented, read by their
indentation, and what the generator asks of them."""

from __future__ import annotations

from memo_edge.synthesis.manual import definition_sentence, entry_sentence, is_manual, read
from tests.test_synthesis_cloze import kept

PYDOC = """Python Library Documentation: module sievelib

NAME
    sievelib - Sifting of sorted sequences.

DESCRIPTION
    Usage:

    s = []                 # creates an empty sieve
    sift(s, item)          # drops items larger than the sieve's mesh

CLASSES
    class Mesh(builtins.object)
     |  Mesh(size=12, strict=False)
     |
     |  Object for holding a sieve's mesh.
     |
     |  Attributes:
     |    size (default: 12)
     |      the widest gap an item may pass through
     |
     |  Methods defined here:
     |
     |  tighten(self, step)
     |      Narrow the mesh by step units, never below one.

FUNCTIONS
    sift(seq, item, /)
        Drop items larger than the mesh from seq, in place.

        >>> sift([1, 30], 5)
        [1]
"""

MAN = """GRIND(1)                  User Commands                  GRIND(1)

NAME
       grind - sort lines by their weight

DESCRIPTION
       -r, --reverse
              sort heaviest lines first

       -q     do not print the totals line
"""


def test_a_manual_is_told_from_notes():
    assert is_manual(PYDOC) and is_manual(MAN)
    assert not is_manual("# Notes\n\n- buy milk\n- call Ada\n\n    indented code\n    more code\n\nText.\n")


def test_entries_are_read_by_indentation_and_named_with_their_class():
    items: dict[tuple[str, str], str] = {}
    for i in read(PYDOC):
        items[(i.kind, i.name)] = items.get((i.kind, i.name), "") + "|" + i.text
    items = {k: v.strip("|") for k, v in items.items()}
    # a commented line of code, and the function's own entry
    assert (
        items[("entry", "sift()")]
        == "drops items larger than the sieve's mesh|Drop items larger than the mesh from seq, in place."
    )
    assert items[("default", "Mesh.size")] == "12"
    assert items[("entry", "Mesh.size")] == "the widest gap an item may pass through"
    assert items[("entry", "Mesh.tighten()")] == "Narrow the mesh by step units, never below one."
    assert not any(">>>" in t or "[1]" == t or "Mesh(size=12" in t for t in items.values())  # doctests, signatures


def test_an_entry_is_said_of_its_name():
    assert entry_sentence("sift()", "Drop items larger than the mesh.") == "sift() drops items larger than the mesh."
    assert entry_sentence("-q", "do not print the totals line") == "-q does not print the totals line"
    assert entry_sentence("Mesh.size", "the widest gap") == "Mesh.size is the widest gap"
    assert entry_sentence("Mesh", "Object for holding a mesh.") == "Mesh is object for holding a mesh."
    assert entry_sentence("-l", "like -x, but longer") == "like -x, but longer"  # no verb, no noun: left alone


def test_a_term_dash_text_line_is_a_sentence_about_the_term():
    # one builder for man pages, pydoc headers and notes' bullets
    assert definition_sentence("grind", "sort lines by weight") == "grind sorts lines by weight"
    assert definition_sentence("heapq", "Heap queue algorithm") == "heapq is heap queue algorithm"
    assert definition_sentence("Ravindra", "on call Mondays") == "Ravindra is on call Mondays"
    assert definition_sentence("Odile", "The vendor's contact") == "Odile is the vendor's contact"
    assert definition_sentence("NAS", "RAID box in the cupboard") == "NAS is RAID box in the cupboard"


def test_the_generator_asks_a_manual_s_entries_and_defaults():
    got = {p.question: p.answer for p in kept(PYDOC, "sievelib")}
    assert got["What is the default of Mesh.size?"] == "12"
    assert "sift" in {a for q, a in got.items() if q.startswith("What drops items larger")}
    man = {p.question: p.answer for p in kept(MAN, "grind")}
    assert (
        man["Which option sorts heaviest lines?"] == "-r"
        and man["Which option does not print the totals line?"] == "-q"
    )
    # NAME's "grind - sort lines by their weight" is what grind does
    assert man['What fills the blank in grind: "grind sorts ___ by their weight"?'] == "lines"
