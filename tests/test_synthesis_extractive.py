"""The extractive generator on the demo corpus and on small hand-made corpora (real files, real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memo_edge.corpus import corpus_fingerprint, load_corpus
from memo_edge.errors import MemoError
from memo_edge.records import load_reflections
from memo_edge.synthesis import SynthesisConfig, synthesize
from memo_edge.synthesis.text import normalize

TYPES = {"direct", "indirect", "entity", "crossdoc", "consolidated", "statement", "cloze"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    corpus = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "corpus"
    out = tmp_path_factory.mktemp("synth") / "reflections.jsonl"
    card = synthesize(corpus, out, progress=False)
    return corpus, out, card, load_reflections(out)


def _find(rows, q_words, answer):
    return [
        r
        for r in rows
        if all(w.lower() in r.question.lower() for w in q_words) and normalize(r.answer) == normalize(answer)
    ]


def test_demo_produces_every_type_in_a_trainable_amount(demo_run):
    corpus, out, card, rows = demo_run
    assert {r.type for r in rows} == TYPES
    assert len(rows) >= 600  # no fixed cap: the budget follows the corpus (12 short documents here)
    assert card["reflections"] == len(rows)
    assert card["counts_by_type"] == {t: sum(r.type == t for r in rows) for t in sorted(TYPES)}
    assert card["corpus_fingerprint"] == corpus_fingerprint(load_corpus(corpus))
    assert all(r.generator == "extractive:extractive" and r.prompt_version for r in rows)
    assert all(r.source_doc_ids and r.source_chunk_ids for r in rows)
    assert (out.parent / "reflections.card.json").is_file() and (out.parent / "reflections.card.md").is_file()
    assert "| direct |" in (out.parent / "reflections.card.md").read_text()


def test_questions_ask_about_concrete_facts_in_both_directions(demo_run):
    rows = demo_run[3]
    assert _find(rows, ["who founded", "Quillfen Robotics"], "Ysolde Marrick")
    assert _find(rows, ["did Ysolde Marrick found"], "Quillfen Robotics")
    assert _find(rows, ["what year", "Corvane Lab", "established"], "2004")
    assert _find(rows, ["how many passengers", "Gullwind"], "180")
    # (the Saltcell SC-90's "stores 90 kWh and costs 18,500 euros" was asked here until placeholders took their
    # "ton" ending: the parser now reads its "costs" as no verb of SC-90; an amount of another product is asked)
    assert _find(rows, ["how much", "Wrenlet R2", "cost"], "54,000 euros")
    assert _find(rows, ["Whose father", "Aldous Marrick"], "Ysolde Marrick")  # relation reversed
    assert _find(rows, ["diesel engines built by", "Petrel"], "Drossel Dynamics")


def test_relative_time_and_references_are_resolved(demo_run):
    rows = demo_run[3]
    # "Last year, the Pellory Regional Council named ..." in a 2022 document -> 2021
    assert _find(rows, ["when", "Citizen of the Year"], "2021")
    # "currently employs 410 people" in a 2021 document
    assert any("as of 2021" in r.question and r.answer == "410" for r in rows)
    # no dangling pronouns or unresolved relative time in a question
    for r in rows:
        assert r.question.split()[0].lower() not in ("she", "he", "it", "they", "its", "her", "his"), r.question
        assert "this year" not in r.question.lower() and "last year" not in r.question.lower(), r.question


def test_entity_and_crossdoc_questions_describe_without_naming(demo_run):
    rows = demo_run[3]
    for r in rows:
        if r.type in ("entity", "crossdoc") and len(r.answer.split()) <= 4:
            assert normalize(r.answer) not in normalize(r.question), r.question
    cross = [r for r in rows if r.type == "crossdoc"]
    assert all(len(r.source_doc_ids) >= 2 for r in cross)


def test_no_source_ids_in_text_and_no_duplicate_questions(demo_run):
    rows = demo_run[3]
    ids = {i for r in rows for i in r.source_doc_ids + r.source_chunk_ids}
    for r in rows:
        assert not any(i in r.question or i in r.answer for i in ids)
    keys = [normalize(r.question) for r in rows]
    assert len(keys) == len(set(keys))


def test_deterministic_and_atomic(tmp_path, demo_run):
    corpus, out, _, _ = demo_run
    again = tmp_path / "again.jsonl"
    synthesize(corpus, again, progress=False)
    assert again.read_bytes() == out.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_any_corpus_folder_md_txt_jsonl(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "a.md").write_text(
        "# Blorvex Mills\ndate: 2020-05-01\n\nBlorvex Mills is a paper company based in "
        "Tandry. Imre Sollak founded Blorvex Mills in 1971. Blorvex Mills employs about 120 "
        "people. This year, Blorvex Mills opened a second mill in Corrow.\n"
    )
    (c / "b.txt").write_text("Imre Sollak was born in Tandry in 1940. Imre Sollak is the father of Ada Sollak.\n")
    (c / "c.jsonl").write_text(
        json.dumps(
            {
                "id": "x1",
                "title": "Tandry",
                "date": "2021",
                "text": "Tandry is a river town with about 9,000 residents. Imre Sollak is the mayor of Tandry.",
            }
        )
        + "\n"
    )
    out = tmp_path / "r.jsonl"
    card = synthesize(c, out, progress=False)
    rows = load_reflections(out)
    assert card["documents"] == 3
    assert _find(rows, ["who founded", "Blorvex Mills"], "Imre Sollak")
    assert _find(rows, ["what year", "Blorvex Mills", "open"], "2020")
    assert _find(rows, ["how many residents", "Tandry"], "9,000")
    assert {"direct", "entity"} <= {r.type for r in rows}
    assert any(r.type == "crossdoc" for r in rows)  # Imre Sollak appears in all three documents


def _memo(*args, cwd=None):
    return subprocess.run(
        [str(Path(sys.executable).parent / "memo"), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.slow
def test_cli_writes_reflections_and_card(tmp_path, demo_dir):
    out = tmp_path / "r.jsonl"
    p = _memo("synthesize", str(demo_dir / "corpus"), "-o", str(out), "--generator", "extractive", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert out.is_file() and (tmp_path / "r.card.json").is_file()
    assert "reflections" in p.stdout
    est = json.loads((tmp_path / "r.card.json").read_text())["training_estimate"]  # how long training will take
    assert est["cpu"]["steps"] == est["cpu"]["epochs"] * -(
        -est["cpu"]["examples_per_epoch"] // est["cpu"]["batch_size"]
    )
    assert est["cpu"]["seconds"] > 0 and "training with the defaults" in p.stderr


@pytest.mark.slow
def test_cli_unwritable_output_fails_before_work(tmp_path, demo_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = _memo("synthesize", str(demo_dir / "corpus"), "-o", str(blocker / "sub" / "r.jsonl"), "--no-progress")
    assert p.returncode == 2 and "cannot create the output directory" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup,expect",
    [
        ("missing", "corpus folder not found"),
        ("empty", "no usable documents"),
        ("binary", "no usable documents"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, setup, expect):
    c = tmp_path / "c"
    if setup != "missing":
        c.mkdir()
    if setup == "binary":
        (c / "a.md").write_bytes(b"\xff\xfe\x00\x01 not text")
        (c / "b.txt").write_bytes("caf\xe9 latin-1 text".encode("latin-1"))
    p = _memo("synthesize", str(c), "-o", str(tmp_path / "r.jsonl"), "--no-progress")
    assert p.returncode == 2
    err_lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1 and expect in err_lines[0] and str(c) in err_lines[0]
    assert "Traceback" not in p.stderr


def test_non_utf8_files_are_skipped_with_a_warning(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "bad.txt").write_bytes("caf\xe9 latin-1".encode("latin-1"))
    (c / "good.md").write_text(
        "# Orvel Works\n\nOrvel Works is a glass company based in Pimlet. Dana Orvel founded Orvel Works in 1990.\n"
    )
    with pytest.warns(UserWarning, match="not UTF-8"):
        card = synthesize(c, tmp_path / "r.jsonl", progress=False)
    assert card["documents"] == 1


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(MemoError, match="generator-url"):
        SynthesisConfig.make(generator="openai", generator_model="m")
    with pytest.raises(MemoError, match="overlap_words"):
        SynthesisConfig.make(chunk_words=50, overlap_words=60)
    with pytest.raises(MemoError, match="is a directory"):
        synthesize(Path(__file__).parent.parent / "memo_edge" / "demo" / "corpus", tmp_path, progress=False)


def _write_pdf(path: Path, lines: list[str]) -> None:
    """A minimal one-page PDF with real text operators (what a PDF exporter writes), no PDF library needed."""
    body = "BT /F1 11 Tf 14 TL 72 740 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(body)} >>\nstream\n{body}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    path.write_bytes(out.encode("latin-1"))


def test_pdf_documents_with_the_pdf_extra(tmp_path):
    pytest.importorskip("pypdf")
    c = tmp_path / "c"
    c.mkdir()
    _write_pdf(
        c / "orvel.pdf",
        [
            "# Orvel Works",
            "date: 2021-03-01",
            "Orvel Works is a glass company based in Pim-",
            "let. Dana Orvel founded Orvel Works in 1990. This year, Orvel Works opened",
            "a second furnace in Tandry.",
        ],
    )
    synthesize(c, tmp_path / "r.jsonl", progress=False)
    rows = load_reflections(tmp_path / "r.jsonl")
    assert _find(rows, ["who founded", "Orvel Works"], "Dana Orvel")
    assert any("Pimlet" in r.question + r.answer for r in rows)
    assert any("2021" in r.question + r.answer and "furnace" in r.question + r.answer for r in rows)


def test_messy_markdown_yields_prose_facts_only(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "readme.md").write_text(
        '# Kestrel Tools\n\ndate: 2023-01-10\n\n<div align="center"><img src="logo.png"></div>\n\n'
        "Kestrel Tools is a software company based in Orrin. Mira Tallow founded Kestrel Tools in 2011.\n\n"
        "```python\nfrom kestrel import Tool\nTool(name='x').run()\n```\n\n"
        "| setting | value |\n|---|---|\n| retries | 3 |\n\n"
        "    indented_code = True\n\n"
        "- Kestrel Tools employs about 85 people.\n- See [the docs](https://example.com/docs) for more.\n\n"
        "If you distribute copies of such a program, whether gratis or for a fee, you must pass on to the "
        "recipients the same freedoms that you received, and you must make sure that they, too, receive or can "
        "get the source code, and you must show them these terms so they know their rights.\n\n"
        "Ünïcode Straße is home to the Kestrel Tools office.\n"
    )
    synthesize(c, tmp_path / "r.jsonl", progress=False)
    rows = load_reflections(tmp_path / "r.jsonl")
    # every prose sentence is kept as a statement (the licence's long one too); only short-answer pairs skip it
    typed = " ".join(r.question + " " + r.answer for r in rows if r.type not in ("statement", "cloze"))
    assert "gratis" not in typed
    assert any("gratis" in r.answer for r in rows if r.type == "statement")
    assert _find(rows, ["who founded", "Kestrel Tools"], "Mira Tallow")
    assert _find(rows, ["how many people", "Kestrel Tools"], "85")
    text = " ".join(r.question + " " + r.answer for r in rows)
    for junk in ("import", "Tool(", "indented_code", "https", "<div"):  # code and markup stay out of every pair
        assert junk not in text
    assert _find(rows, ["value of retries"], "3")  # a table is row x column facts, not noise
