"""One error path for the whole CLI, checked on the real `memo` process: every usage error, bad value and expected
failure is exactly one `error:` line naming what is wrong (exit 2); an unexpected exception is one line that points
to --debug (exit 1); no traceback unless --debug."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from memo_cli import REPO, memo


def cli(*args: str) -> subprocess.CompletedProcess:
    """The real `main(argv)` in this process (no interpreter start: the argument matrix stays fast); a few tests
    below run the same through `python -m memo_edge` to cover the entry point."""
    import contextlib
    import io

    from memo_edge.cli import main
    from memo_edge.cli.app import _state

    _state["debug"] = False
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(list(args), rc, out.getvalue(), err.getvalue())


def error_lines(p: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]


def assert_one_error(p: subprocess.CompletedProcess, *names: str, rc: int = 2) -> str:
    lines = error_lines(p)
    assert p.returncode == rc, (p.returncode, p.stderr[-2000:])
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    for n in names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def run_all(cases: list[tuple[str, ...]], **kw) -> list[subprocess.CompletedProcess]:
    """Real processes, a few at once (each is startup-bound)."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda a: memo(*a, **kw), cases))


# Verbs that need arguments, and what their message must name when called bare.
NO_ARGS = {
    ("synthesize",): "corpus_dir",
    ("train",): "reflections",
    ("merge",): "ckpts",
    ("export",): "checkpoint",
    ("build",): "corpus",
    ("ask",): "PACK",
    ("eval",): "pack",
    ("serve",): "pack",
    ("models", "pull"): "name",
    ("keygen",): "key",
    (): "missing command",
    ("models",): "missing command",
}
# `memo demo`, `memo models list` and `memo bench` are complete without arguments (bench prints its help).


def test_every_verb_without_arguments_is_one_error_line():
    for args, name in NO_ARGS.items():
        assert_one_error(cli(*args), name)


@pytest.mark.slow
def test_the_issues_commands_as_real_processes():
    cases = [("synthesize", "notes/"), ("train", "x.jsonl"), ("export", "ckpt"), ("eval", "pack")]
    cases += [("--bogus",), ()]
    names = ["--out", "--out", "--output", "questions", "--bogus", "missing command"]
    for n, p in zip(names, run_all(cases), strict=True):
        assert_one_error(p, n)


VERBS = ["synthesize", "train", "merge", "export", "build", "demo", "ask", "eval", "serve", "bench", "keygen"]


def test_unknown_flag_and_unknown_verb():
    cases = [(v, "--bogus") for v in VERBS] + [("--bogus",), ("frobnicate",), ("models", "pull", "--bogus")]
    # (bench passes unknown options through to the benchmark, so there --bogus is refused as a benchmark name)
    for args in cases:
        assert_one_error(cli(*args), "--bogus" if "--bogus" in args else "frobnicate")


@pytest.mark.slow
def test_debug_given_a_value_is_a_usage_error_not_a_traceback():
    assert_one_error(memo("--debug", "true", "ask"), "true")


BAD_VALUES = [
    (("synthesize", "c", "-o", "o.jsonl", "--concurrency", "0"), "concurrency"),
    (("synthesize", "c", "-o", "o.jsonl", "--timeout", "soon"), "--timeout"),
    (("train", "r.jsonl", "-o", "o", "--epochs", "0"), "--epochs"),
    (("train", "r.jsonl", "-o", "o", "--method", "magic"), "--method"),
    (("merge", "a", "b", "-o", "m", "--density", "2"), "--density"),
    (("merge", "a", "b", "-o", "m", "--weights", "1,x"), "--weights"),
    (("export", "ck", "-o", "p", "--precision", "int3"), "precision"),
    (("ask", "p", "q", "--max-new-tokens", "0"), "--max-new-tokens"),
    (("ask", "p", "q", "--entity-turns", "many"), "--entity-turns"),
    (("eval", "p", "q.jsonl", "--batch-size", "0"), "--batch-size"),
    (("eval", "p", "q.jsonl", "--limit", "-1"), "--limit"),
    (("serve", "p", "--port", "eighty"), "--port"),
    (("demo", "--show", "x"), "--show"),
    (("bench", "nosuch"), "nosuch"),
    (("models", "pull", "no-such-model"), "no-such-model"),
]


def test_bad_values_name_the_argument(tmp_path):
    for args, name in BAD_VALUES:
        assert_one_error(cli(*args), name)


@pytest.mark.slow
def test_unexpected_exception_is_one_line_pointing_to_debug():
    code = (
        "import sys\nfrom memo_edge.cli import app, main\n"
        "@app.command('boom')\ndef boom():\n    raise RuntimeError('kaboom\\nsecond line')\n"
        "main(sys.argv[1:])"
    )
    line = assert_one_error(memo("boom", code=code), "RuntimeError", "kaboom", "--debug", rc=1)
    assert "second line" in line  # the message is kept, on one line
    p = memo("--debug", "boom", code=code)
    assert p.returncode == 1 and "Traceback" in p.stderr and "kaboom" in p.stderr


def test_binary_files_are_named(tmp_path):
    junk = tmp_path / "blob.jsonl"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\xfd binary")
    cases = [
        ("train", str(junk), "-o", str(tmp_path / "ck")),
        ("eval", str(tmp_path), str(junk)),
        ("ask", "--show-trace", str(junk)),
    ]
    for args in cases:
        assert_one_error(cli(*args), "blob.jsonl", "not UTF-8")


@pytest.mark.slow
def test_corrupt_pdf_is_one_warning_and_skipped(tmp_path):
    pytest.importorskip("pypdf")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(
        "# Varrowick\n\nVarrowick is a harbour town founded in 1712 by Ysolde Marrick. "
        "Its lighthouse was built in 1790 and still works.\n"
    )
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(600))
    (corpus / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    p = memo("synthesize", str(corpus), "-o", str(tmp_path / "r.jsonl"), "--no-progress")
    assert p.returncode == 0, p.stderr
    # stderr also carries the training-time estimate line (memo synthesize prints it since c37922a)
    warn = [ln for ln in p.stderr.splitlines() if ln.startswith(("warning:", "error:"))]
    assert len(warn) == 2 and all(ln.startswith("warning:") and "skipped" in ln for ln in warn), p.stderr
    assert "Traceback" not in p.stderr
    assert any("broken.pdf" in ln for ln in warn) and any("truncated.pdf" in ln for ln in warn)


RUNTIME_ONLY = (
    "import sys\nsys.modules['torch'] = None  # as in a runtime-only install\n"
    "from memo_edge.cli import main\nmain(sys.argv[1:])"
)


@pytest.mark.slow
def test_runtime_only_install_names_the_extra(tmp_path):
    refl = tmp_path / "r.jsonl"
    refl.write_text('{"id": "1", "question": "Who?", "answer": "Me."}\n')
    cases = [
        ("train", str(refl), "-o", str(tmp_path / "ck")),
        ("export", str(tmp_path), "-o", str(tmp_path / "p")),
        ("merge", "a", "b", "-o", str(tmp_path / "m")),
    ]
    extras = ["[train]", "[export]", "[train]"]
    for extra, p in zip(extras, run_all(cases, code=RUNTIME_ONLY)):
        line = assert_one_error(p, extra, "torch", "pip install")
        assert f"memo-edge{extra}" in line
    assert not (tmp_path / "ck").exists()


def test_build_without_out_names_the_flag(tmp_path):
    assert_one_error(cli("build", str(REPO / "memo_edge" / "demo" / "corpus")), "-o/--out")
    assert_one_error(cli("build", "-o", str(tmp_path / "pack")), "CORPUS")


@pytest.mark.slow
def test_build_without_the_synthesis_extra_names_it(tmp_path):
    """`memo build` parses the corpus with spaCy ([synth]) before it trains ([train]) and exports ([export])."""
    no_spacy = RUNTIME_ONLY.replace("sys.modules['torch'] = None", "sys.modules['spacy'] = None")
    p = memo("build", str(REPO / "memo_edge" / "demo" / "corpus"), "-o", str(tmp_path / "p"), code=no_spacy)
    line = assert_one_error(p, "spacy", "pip install")
    assert "memo-edge[synth,train,export]" in line
    for p in run_all([("build", "c", "-o", str(tmp_path / "q")), ("demo",)], code=RUNTIME_ONLY):
        assert "[synth,train,export]" in assert_one_error(p, "torch")


@pytest.mark.slow
def test_bare_memo_and_memo_models_print_the_help_once():
    for p in run_all([(), ("models",)]):
        assert (p.stdout + p.stderr).count("Usage:") == 1, p.stdout + p.stderr
        assert_one_error(p, "missing command")


def test_a_checkpoint_where_a_pack_is_expected_points_to_memo_export(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model_type": "llama"}')
    for args in (("ask", str(ckpt), "Who?"), ("serve", str(ckpt))):
        assert_one_error(cli(*args), str(ckpt), "checkpoint, not a memory pack", "memo export")


def test_a_build_that_fails_on_a_missing_corpus_leaves_no_empty_work_dir(tmp_path):
    assert_one_error(cli("build", str(tmp_path / "no-corpus"), "-o", str(tmp_path / "pack")), "no-corpus")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
