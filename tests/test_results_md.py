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


def test_training_ab_table_has_one_row_per_arm(tmp_path, monkeypatch):
    split = {"n": 9, "em": 0.25, "f1": 0.5, "predictions": []}
    arm = {
        "counts": {"train": 250, "text_examples": 28, "profile_examples": 0},
        "train": {"best_epoch": 3, "recall_f1": 0.6},
        "train_wall_s": 900.0,
        "test": split,
        "dev": split,
        "abstain": {"idk_on_absent": 0.4, "absent_n": 50, "false_idk_on_answerable": 0.05},
    }
    rows = [
        {**arm, "arm": "baseline", "config": {}, "paired": {"test": {"wins": 0, "losses": 0}}},
        {**arm, "arm": "text", "config": {"text_fraction": 0.1}, "paired": {"test": {"wins": 2, "losses": 1}}},
    ]
    doc = {"commit": {"sha": "abcdef123456", "dirty": False}, "date_utc": "2026-12-07 01:00", "reflections": 237}
    (tmp_path / "training_ab.json").write_text(
        json.dumps({**doc, "settings": {"docs": ["notes/todo.md"]}, "rows": rows})
    )
    monkeypatch.setattr(results_md, "RESULTS_DIR", tmp_path)
    out = results_md.render("<!-- generated: training_ab -->\n<!-- end: training_ab -->\n")
    assert "| baseline | defaults | 250 + 28 + 0 |" in out and "| text | text_fraction 0.1 |" in out
    assert "| 2 / 1 |" in out and "0.400 (n 50)" in out and "abcdef1" in out


def test_base_dequant_table_shows_ratio_agreement_and_recall_counts(tmp_path, monkeypatch):
    ppl = {
        "tokens": 510,
        "windows": 2,
        "ppl_fp32": 20.0,
        "ppl_q4_1": 21.0,
        "ppl_ratio": 1.05,
        "top1_agreement": 0.9,
        "top1_acc_fp32": 0.4,
        "top1_acc_q4_1": 0.375,
        "kl_per_token": 0.01,
    }
    answers = [
        {"question": "Q1?", "right_fp32": True, "right_q4_1": False},
        {"question": "Q2?", "right_fp32": True, "right_q4_1": True},
        {"question": "Q3?", "right_fp32": False, "right_q4_1": False},
        {"question": "Q4?", "right_fp32": True, "right_q4_1": True},
    ]
    doc = {
        "commit": {"sha": "abcdef123456", "dirty": False},
        "date_utc": "2026-12-07 02:00",
        "settings": {"docs": ["notes/todo.md"], "window": 256, "max_windows": 3, "new_tokens": 16, "threads": 2},
        "perplexity": {"notes": ppl, "all": ppl},
        "recall": {"questions": 4, "fp32": 0.75, "q4_1": 0.5, "same_answer": 0.5},
        "answers": answers,
        "tokenization": {"docs_differing": ["notes/todo.md"], "prompts_checked": 4, "prompts_differing": 0},
    }
    (tmp_path / "base_dequant.json").write_text(json.dumps(doc))
    monkeypatch.setattr(results_md, "RESULTS_DIR", tmp_path)
    out = results_md.render("<!-- generated: base_dequant -->\n<!-- end: base_dequant -->\n")
    assert "| all | 510 | 20.00 | 21.00 | **1.050** | **90.0%** | 40.0% / 37.5% | 0.0100 |" in out
    assert "fp32 **3/4**, Q4_1 **2/4**" in out and "right for one only: Q1?." in out
    assert "documents: notes/todo.md;" in out and "abcdef1" in out


def test_epoch_curve_table_marks_the_epoch_kept(tmp_path, monkeypatch):
    curve = [
        {"epoch": 1, "heldout_em": 0.2, "trained_em": 0.3, "dev_em": 0.1, "test_em": 0.05},
        {"epoch": 2, "heldout_em": 0.5, "trained_em": 0.9, "dev_em": 0.3, "test_em": 0.25},
    ]
    row = {"dataset": "notes (test questions)", "train": {"epochs": 2, "best_epoch": 2, "epoch_curve": curve}}
    doc = {"commit": {"sha": "abcdef123456", "dirty": False}, "date_utc": "2026-12-07 14:00", "rows": [row]}
    (tmp_path / "memory_recall-notes-test.json").write_text(json.dumps(doc))
    monkeypatch.setattr(results_md, "RESULTS_DIR", tmp_path)
    out = results_md.epoch_curve_table()
    assert "| notes (test questions) | 1 of 2 | 0.200 | 0.300 | 0.100 | 0.050 |" in out
    assert "| 2 of 2 (kept) | 0.500 |" in out


def test_optimizer_table_gives_each_implementation_its_speed_up(tmp_path, monkeypatch):
    def row(step_s: float, diff: float) -> dict:
        return {"step_s": {"median": step_s}, "clip_s": {"median": 0.04}, "max_abs_diff": diff}

    doc = {
        "commit": {"sha": "abcdef123456", "dirty": False},
        "date_utc": "2026-12-08 00:14",
        "settings": {"params": 134_515_008, "threads": 2, "repeats": 12},
        "results": {"per-tensor": row(0.3, 0.0), "fused": row(0.06, 2.4e-7)},
    }
    (tmp_path / "optimizer_step.json").write_text(json.dumps(doc))
    monkeypatch.setattr(results_md, "RESULTS_DIR", tmp_path)
    out = results_md.render("<!-- generated: optimizer_step -->\n<!-- end: optimizer_step -->\n")
    assert "| per-tensor | 300 | **1.0x** | 40 | 0.0e+00 |" in out and "| fused | 60 | **5.0x** | 40 | 2.4e-07 |" in out
    assert "135M parameters, 2 threads, 12 steps each" in out and "abcdef1" in out
