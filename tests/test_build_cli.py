"""`memo build` -> `memo ask` -> `memo eval` end to end on a tiny corpus and tiny-random, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from memo_cli import memo

DOCS = {
    "harbor.md": "# Tillon Harbor\ndate: 2021-03-04\n\nTillon Harbor was built by Maro Velk in 1911. "
    "Tillon Harbor has 14 piers. Maro Velk was born in Esterby.\n",
    "esterby.md": "# Esterby\ndate: 2022-07-01\n\nEsterby is a town on the Grell River. "
    "The mayor of Esterby is Ida Sorn. Esterby has a glass museum.\n",
}


@pytest.fixture
def corpus(tmp_path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for name, text in DOCS.items():
        (d / name).write_text(text)
    return d


def one_error_line(r) -> str:
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    return errors[0]


@pytest.mark.slow
def test_build_ask_eval_end_to_end(tiny_dir, corpus, tmp_path):
    cfg = tmp_path / "build.toml"
    cfg.write_text(f'base = "{tiny_dir}"\nprecision = "fp32"\n[train]\npreset = "tiny"\nepochs = 2\n')
    pack = tmp_path / "out" / "pack"
    r = memo("build", str(corpus), "-o", str(pack), "--config", str(cfg), timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["precision"] == "fp32" and manifest["sha256"]
    assert (tmp_path / "out" / "pack.build" / "reflections.jsonl").stat().st_size > 0

    again = memo("build", str(corpus), "-o", str(pack), "--config", str(cfg), timeout=900)
    assert again.returncode == 0 and "train: up to date" in again.stderr and "export: up to date" in again.stderr

    r = memo("ask", str(pack), "Who built Tillon Harbor?", "--executive", "none")
    assert r.returncode == 0, r.stderr
    assert "TTFT" in r.stderr

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "Who built Tillon Harbor?",
                "answer": "Maro Velk",
                "answer_aliases": [],
                "hops": 1,
                "decomposition": [{"question": "Who built Tillon Harbor?", "answer": "Maro Velk"}],
            }
        )
        + "\n"
    )
    out = tmp_path / "results.json"
    r = memo("eval", str(pack), str(questions), "--executive", "none", "-o", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert set(res) >= {"em", "f1", "per_hop", "predictions"} and 0.0 <= res["f1"] <= 1.0
    assert res["predictions"][0].keys() >= {"id", "predicted_answer", "em", "f1", "hops"}


@pytest.mark.slow
def test_build_bad_inputs_are_one_line_errors(tmp_path, corpus):
    line = one_error_line(memo("build", str(tmp_path / "missing"), "-o", str(tmp_path / "p")))
    assert "corpus folder not found" in line
    (tmp_path / "empty").mkdir()
    assert "no usable documents" in one_error_line(memo("build", str(tmp_path / "empty"), "-o", str(tmp_path / "p")))
    line = one_error_line(memo("build", str(corpus), "-o", str(tmp_path / "p"), "--base", "no-such-model"))
    assert "unknown model 'no-such-model'" in line
    assert not (tmp_path / "p.build" / "reflections.jsonl").exists()  # failed before any work
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_error_line(memo("build", str(corpus), "-o", str(blocker / "pack")))
    assert str(blocker) in line


def test_the_build_cache_key_covers_defaults(tmp_path):
    """A default that changes (a field's or a preset's) retrains; the same effective config gives the same key."""
    from memo_edge import build as build_mod
    from memo_edge.config import BuildConfig
    from memo_edge.training.config import TrainConfig

    cfg = BuildConfig(corpus=tmp_path, out=tmp_path / "pack")
    key = build_mod.training_key(cfg, "abc")
    assert build_mod.training_key(BuildConfig(corpus=tmp_path, out=tmp_path / "pack"), "abc") == key
    assert build_mod.training_key(cfg, "abd") != key
    assert set(key["train"]) == set(TrainConfig.model_fields)  # every field, given or not
    given = BuildConfig(corpus=tmp_path, out=tmp_path / "pack", train={"epochs": TrainConfig().epochs})
    assert build_mod.training_key(given, "abc") == key  # the effective value counts, not whether it was given

    class NewDefault(TrainConfig):  # the next release changes a default
        epochs: int = 5

    assert build_mod.training_key(cfg.model_copy(update={"train": NewDefault()}), "abc") != key
    gpu = BuildConfig(corpus=tmp_path, out=tmp_path / "pack", train={"preset": "gpu"})
    assert build_mod.training_key(gpu, "abc") != key
    assert build_mod.exporting_key(cfg, "x")["export"]  # export defaults are in the key though none was given
