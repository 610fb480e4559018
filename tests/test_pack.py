"""Pack safety: every tampering is refused with a one-line PackError naming the file; zip round trip."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from memo_edge.errors import PackError
from memo_edge.atomic import umask
from memo_edge.pack import MANIFEST, Pack, finalize, read_manifest, zip_pack


@pytest.fixture(scope="module")
def built(tiny_dir, tmp_path_factory) -> Path:
    """A real int4 pack of tiny-random (no verify: this file tests the container, test_export the contents)."""
    from memo_edge.export import export_pack

    return export_pack(tiny_dir, tmp_path_factory.mktemp("pk") / "pack", precision="int4", verify=False, progress=False)


@pytest.fixture
def pack(built, tmp_path) -> Path:
    """A fresh copy per test, so tampering stays local."""
    return Path(shutil.copytree(built, tmp_path / "pack"))


def _refused(path, match: str) -> str:
    with pytest.raises(PackError, match=match) as e:
        Pack.open(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_untouched_pack_opens(pack):
    p = Pack.open(pack)
    assert p.path("model").name == "model.onnx" and p.manifest.precision == "int4"


def test_flipped_byte_is_refused(pack):
    data = pack / "model.onnx.data"
    with data.open("r+b") as f:
        f.seek(data.stat().st_size // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x01]))
    assert "model.onnx.data" in _refused(pack, "sha256 does not match")


def test_missing_file_is_refused(pack):
    (pack / "tokenizer.json").unlink()
    assert "tokenizer.json" in _refused(pack, "missing")


def test_unknown_format_version_is_refused(pack):
    m = json.loads((pack / MANIFEST).read_text())
    m["format_version"] = 99
    (pack / MANIFEST).write_text(json.dumps(m))
    assert "manifest.json" in _refused(pack, "format_version")


def test_manifest_edit_is_refused(pack):
    """Pointing a role at a file with no hash (e.g. a swapped-in model) is refused."""
    m = json.loads((pack / MANIFEST).read_text())
    (pack / "evil.onnx").write_bytes(b"x")
    m["files"]["model"] = "evil.onnx"
    (pack / MANIFEST).write_text(json.dumps(m))
    assert "evil.onnx" in _refused(pack, "no sha256")


def test_manifest_path_escaping_the_pack_is_refused(pack):
    m = json.loads((pack / MANIFEST).read_text())
    m["sha256"]["../outside.txt"] = "0" * 64
    (pack / MANIFEST).write_text(json.dumps(m))
    assert "../outside.txt" in _refused(pack, "escapes")


def test_symlinked_file_is_refused(pack, tmp_path):
    """A symlink to an identical copy outside passes a hash check: refuse symlinks outright."""
    outside = tmp_path / "outside-tokenizer.json"
    shutil.copy(pack / "tokenizer.json", outside)
    (pack / "tokenizer.json").unlink()
    (pack / "tokenizer.json").symlink_to(outside)
    assert "tokenizer.json" in _refused(pack, "symbolic link")


def test_zip_round_trip(built, tmp_path, memo_home):
    z = zip_pack(built, tmp_path / "p.memopack")
    with zipfile.ZipFile(z) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    p = Pack.open(z)
    assert p.root.is_relative_to(memo_home) and p.manifest.sha256 == Pack.open(built).manifest.sha256
    assert Pack.open(z).root == p.root  # extracted once, reused


def _zip_with(built: Path, out: Path, extra: tuple[str, bytes] | None = None, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for f in sorted(built.iterdir()):
            zf.write(f, f.name)
        if extra:
            zf.writestr(*extra)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return out


@pytest.mark.parametrize("name", ["../x", "/abs/x", "sub/../../x", "..\\x"])
def test_zip_entry_escaping_is_refused(built, tmp_path, memo_home, name):
    z = _zip_with(built, tmp_path / "evil.memopack", extra=(name, b"gotcha"))
    msg = _refused(z, "escapes")
    assert name in msg and "evil.memopack" in msg
    assert not (tmp_path / "x").exists() and not list((memo_home / "packs").glob("*"))


def test_zip_symlink_entry_is_refused(built, tmp_path, memo_home):
    z = _zip_with(built, tmp_path / "link.memopack", symlink="tokenizer2.json")
    assert "tokenizer2.json" in _refused(z, "escapes")


def test_not_a_zip_is_refused(tmp_path):
    z = tmp_path / "junk.memopack"
    z.write_bytes(b"not a zip at all")
    assert "junk.memopack" in _refused(z, "not a valid")


def test_tampered_zip_is_refused(built, tmp_path):
    with zipfile.ZipFile(tmp_path / "t.memopack", "w") as zf:
        for f in sorted(built.iterdir()):
            data = f.read_bytes()
            if f.name == "genai_config.json":
                data = data.replace(b'"num_beams": 1', b'"num_beams": 4')
            zf.writestr(f.name, data)
    assert "genai_config.json" in _refused(tmp_path / "t.memopack", "sha256")


def test_every_pack_file_is_readable_by_others(pack):
    """A pack is meant to be shared: whatever mode a writer left (model.onnx.data was seen 0600 beside 0644 files),
    finalize makes every file the same ordinary mode."""
    (pack / "model.onnx.data").chmod(0o600)
    finalize(pack, read_manifest(pack))
    modes = {f.name: f.stat().st_mode & 0o777 for f in pack.iterdir() if f.is_file()}
    assert set(modes.values()) == {0o666 & ~umask()}, {k: oct(v) for k, v in modes.items()}
