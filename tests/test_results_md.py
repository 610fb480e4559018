"""RESULTS.md's generated tables are what the committed result files give: a stale table fails here."""

from __future__ import annotations

from benchmarks import results_md


def test_results_md_matches_the_result_files():
    text = results_md.RESULTS_MD.read_text(encoding="utf-8")
    assert results_md.render(text) == text, "RESULTS.md is stale: run `make results`"


def test_generated_blocks_are_rewritten_and_prose_kept():
    text = "intro\n<!-- generated: synthesis_coverage -->\nold table\n<!-- end: synthesis_coverage -->\nprose\n"
    out = results_md.render(text)
    assert out.startswith("intro\n") and out.endswith("prose\n")
    assert "old table" not in out and "| dataset | split |" in out
