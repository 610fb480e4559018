"""RESULTS.md's generated tables are what the committed result files give: a stale table fails here."""

from __future__ import annotations

import json

from benchmarks import results_md


def test_results_md_matches_the_result_files():
    text = results_md.RESULTS_MD.read_text(encoding="utf-8")
    assert results_md.render(text) == text, "RESULTS.md is stale: run `make results`"


def test_generated_blocks_are_rewritten_and_prose_kept(tmp_path, monkeypatch):
    row = {"dataset": "notes", "split": "test", "questions": 4, "reflections": 9, "coverage": 0.5, "in_answers": 0.75}
    doc = {"commit": {"sha": "abcdef123456", "dirty": True}, "date_utc": "2026-12-06 23:00", "rows": [row]}
    (tmp_path / "synthesis_coverage.json").write_text(json.dumps(doc))
    monkeypatch.setattr(results_md, "RESULTS_DIR", tmp_path)
    text = "intro\n<!-- generated: synthesis_coverage -->\nold table\n<!-- end: synthesis_coverage -->\nprose\n"
    out = results_md.render(text)
    assert out.startswith("intro\n") and out.endswith("prose\n")
    assert "old table" not in out and "| notes | test | 4 | 9 |" in out and "abcdef1+dirty" in out
