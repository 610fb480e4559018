"""Output paths: nothing that is not a regular file is ever replaced, and a symlinked output is written through.

Every file the CLI writes goes through memo_edge.atomic (AtomicFile): these tests put a FIFO, a directory, a
symlink (and /dev/null when run as root) where an output goes, on the real writer, the Tracer, the profile, and the
real `memo` CLI."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from runtime_fixtures import varied_pack
from test_cli_errors import assert_one_error, cli

from memo_edge.atomic import atomic_dir, write_bytes, write_json, write_text
from memo_edge.errors import MemoError
from memo_edge.pack import zip_pack
from memo_edge.tracing import Tracer

DEMO = Path(__file__).resolve().parent.parent / "memo_edge" / "demo"
DEV_NULL = Path("/dev/null")


def _is_char_device(p: Path) -> bool:
    return stat.S_ISCHR(os.lstat(p).st_mode)


def _not_files(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    d = tmp_path / "adir"
    d.mkdir()
    link_to_fifo = tmp_path / "link-to-fifo"
    link_to_fifo.symlink_to(fifo)
    return [fifo, d, link_to_fifo] + ([DEV_NULL] if os.geteuid() == 0 else [])


def _unchanged(tmp_path: Path) -> None:
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert (tmp_path / "adir").is_dir() and not list((tmp_path / "adir").iterdir())
    assert (tmp_path / "link-to-fifo").is_symlink()
    assert _is_char_device(DEV_NULL)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".partial"))]


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: write_text(p, "x"),
        lambda p: write_json(p, {"a": 1}),
        lambda p: write_bytes(p, b"x"),
    ],
    ids=["text", "json", "bytes"],
)
def test_writers_refuse_what_is_not_a_regular_file(tmp_path, writer):
    for target in _not_files(tmp_path):
        with pytest.raises(MemoError, match="is not a regular file") as e:
            writer(target)
        assert str(target) in str(e.value) and "\n" not in str(e.value)
    _unchanged(tmp_path)


def test_a_symlinked_output_is_written_through(tmp_path):
    real = tmp_path / "real" / "out.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(real)
    write_json(link, {"new": True})
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text()) == {"new": True}
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "real" / "later.txt")
    write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "real" / "later.txt").read_text() == "made"


def test_atomic_dir_refuses_what_is_not_a_directory(tmp_path):
    targets = [tmp_path / "fifo"] + ([DEV_NULL] if os.geteuid() == 0 else [])
    os.mkfifo(targets[0])
    for target in targets:
        with pytest.raises(MemoError, match="is not a directory"), atomic_dir(target) as d:
            (d / "f").write_text("x")
        assert _is_char_device(DEV_NULL) and stat.S_ISFIFO(os.lstat(targets[0]).st_mode)
    real = tmp_path / "realdir"
    real.mkdir()
    (real / "old").write_text("old")
    link = tmp_path / "linkdir"
    link.symlink_to(real)
    with atomic_dir(link) as d:
        (d / "new").write_text("new")
    assert link.is_symlink() and sorted(p.name for p in real.iterdir()) == ["new"]


def test_tracer_writes_whole_and_through_links_and_refuses_a_fifo(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text('{"old": 1}\n')
    link = tmp_path / "trace.jsonl"
    link.symlink_to(real)
    tr = Tracer(link)
    tr.event("none", "memory_call", prompt="p")
    assert real.read_text() == '{"old": 1}\n'  # nothing replaced until the trace is complete
    tr.close()
    assert link.is_symlink() and [json.loads(x)["kind"] for x in real.read_text().splitlines()] == ["memory_call"]
    for target in _not_files(tmp_path):
        with pytest.raises(MemoError, match="is not a regular file"):
            Tracer(target)
    _unchanged(tmp_path)


def test_profile_files_refuse_a_fifo_and_follow_links(tmp_path):
    from memo_edge.runtime.profile import Profile

    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    with pytest.raises(MemoError, match="is not a regular file"):
        Profile().write(fifo, png=False)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.json"
    link = tmp_path / "q.json"
    link.symlink_to(real)
    Profile().write(link, png=False)
    assert link.is_symlink() and "questions" in json.loads(real.read_text())


def test_cli_outputs_refuse_a_fifo_and_dev_null(tmp_path):
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    targets = [fifo] + ([DEV_NULL] if os.geteuid() == 0 else [])
    for target in targets:
        p = cli("synthesize", str(DEMO / "corpus"), "-o", str(target), "--no-progress")
        assert_one_error(p, str(target), "is not a regular file")
        # refused before the pack loads (this pack does not even exist)
        for flag in ("--trace", "--profile"):
            p = cli("ask", str(tmp_path / "no-pack"), "q", flag, str(target))
            assert_one_error(p, str(target), "is not a regular file")
        p = cli("export", str(tmp_path / "no-ckpt"), "-o", str(target))
        assert_one_error(p, str(target))
        p = cli("eval", str(tmp_path / "no-pack"), str(tmp_path / "no-questions.jsonl"), "-o", str(target))
        assert_one_error(p, str(target), "is not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _is_char_device(DEV_NULL)


def test_synthesize_through_a_symlinked_output(tmp_path):
    real = tmp_path / "data" / "r.jsonl"
    real.parent.mkdir()
    link = tmp_path / "r.jsonl"
    link.symlink_to(real)
    p = cli("synthesize", str(DEMO / "corpus"), "-o", str(link), "--no-progress", "--max-pairs", "20")
    assert p.returncode == 0, p.stderr[-2000:]
    assert link.is_symlink() and len(real.read_text().splitlines()) == 20
    assert (tmp_path / "r.card.json").is_file()


def test_memopack_output_refuses_a_fifo_and_follows_a_link(tmp_path, tiny_dir):
    pack = varied_pack(tiny_dir)[1]
    fifo = tmp_path / "p.memopack"
    os.mkfifo(fifo)
    with pytest.raises(MemoError, match="is not a regular file"):
        zip_pack(pack, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real, link = tmp_path / "real.memopack", tmp_path / "q.memopack"
    link.symlink_to(real)
    zip_pack(pack, link)
    assert link.is_symlink() and zipfile.is_zipfile(real)
