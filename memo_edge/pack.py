"""The memory pack: a directory (or a `.memopack` zip of it) whose manifest fully describes it.

Loading verifies the manifest and the sha256 of every file; any mismatch is refused with a one-line error naming
the file. JSON and safetensors/ONNX only: no pickle anywhere. This module is shared by the exporter (writer) and
the runtime (reader), so it imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import PackError, field_error
from .home import memo_home
from .prompt import MemoryPrompt

FORMAT = "memo-pack"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".memopack"


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    architecture: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    context_length: int


class OnnxIO(BaseModel):
    """Names of the decoder graph's inputs/outputs (%d = layer index), as in genai_config.json."""

    model_config = ConfigDict(extra="forbid")
    input_ids: str = "input_ids"
    attention_mask: str = "attention_mask"
    position_ids: str | None = None
    past_key: str = "past_key_values.%d.key"
    past_value: str = "past_key_values.%d.value"
    logits: str = "logits"
    present_key: str = "present.%d.key"
    present_value: str = "present.%d.value"


class Generation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0


class SpecialTokens(BaseModel):
    model_config = ConfigDict(extra="allow")
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    stop_token_ids: list[int] = []


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["memo-pack"] = FORMAT
    format_version: int = FORMAT_VERSION
    memo_edge_version: str = ""
    created_at: str = ""
    kind: Literal["onnx", "gguf", "mlc"] = "onnx"
    precision: str
    model: ModelInfo
    files: dict[str, str]  # role -> relative path: "model", "weights", "tokenizer", "genai_config", ...
    onnx_io: OnnxIO | None = None
    prompt: MemoryPrompt
    generation: Generation = Generation()
    special_tokens: SpecialTokens = SpecialTokens()
    providers_tested: list[str] = []
    provenance: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    sha256: dict[str, str] = Field(default_factory=dict)


class Pack:
    """A verified pack on disk: `Pack.open(path)`."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = root
        self.manifest = manifest
        self._pack_id: str | None = None

    @property
    def pack_id(self) -> str:
        """sha256 of manifest.json: the manifest lists every file's sha256, so this names the pack's whole content
        (any edit to any file or to the manifest gives another id). Shown by `memo ask --json` and /v1/models."""
        if self._pack_id is None:
            self._pack_id = "sha256:" + sha256_file(self.root / MANIFEST)
        return self._pack_id

    def path(self, role: str) -> Path:
        if role not in self.manifest.files:
            raise PackError(f"{self.root / MANIFEST}: no '{role}' file in this pack")
        return self.root / self.manifest.files[role]

    @classmethod
    def open(cls, path: str | os.PathLike, verify: bool = True) -> "Pack":
        p = Path(path).expanduser()
        if p.is_file() and p.suffix == SUFFIX:
            p = _extract(p)
        if not p.is_dir():
            raise PackError(f"{p}: not a memory pack (expected a directory with {MANIFEST} or a {SUFFIX} file)")
        manifest = read_manifest(p)
        if verify:
            verify_files(p, manifest)
        return cls(p, manifest)


def read_manifest(root: Path) -> Manifest:
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise PackError(f"{mpath}: missing (not a memory pack, or an incomplete one)")
    try:
        raw = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PackError(f"{mpath}: not valid JSON ({e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise PackError(f"{mpath}: field 'format': expected '{FORMAT}'")
    if raw.get("format_version") != FORMAT_VERSION:
        raise PackError(f"{mpath}: field 'format_version': {raw.get('format_version')!r} is not supported "
                        f"(this memo-edge reads version {FORMAT_VERSION})")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        field, msg = field_error(e)
        raise PackError(f"{mpath}: field '{field}': {msg}") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _safe_rel(root: Path, rel: str) -> Path:
    pp = PurePosixPath(rel)
    if pp.is_absolute() or ".." in pp.parts or not rel:
        raise PackError(f"{root / MANIFEST}: file path '{rel}' escapes the pack directory")
    return root / pp


def _through_symlink(root: Path, rel: PurePosixPath) -> bool:
    """True if the file or any directory on its way inside the pack is a symlink (it could point anywhere)."""
    p = root
    for part in rel.parts:
        p = p / part
        if p.is_symlink():
            return True
    return False


def verify_files(root: Path, manifest: Manifest) -> None:
    if not manifest.sha256:
        raise PackError(f"{root / MANIFEST}: field 'sha256': no file hashes (refusing an unverifiable pack)")
    for role, rel in manifest.files.items():
        if rel not in manifest.sha256:
            raise PackError(f"{root / rel}: listed as '{role}' but has no sha256 in the manifest")
    for rel, digest in manifest.sha256.items():
        f = _safe_rel(root, rel)
        if _through_symlink(root, PurePosixPath(rel)):
            raise PackError(f"{f}: is a symbolic link (a pack holds plain files only)")
        if not f.is_file():
            raise PackError(f"{f}: missing from the pack")
        if sha256_file(f) != digest:
            raise PackError(f"{f}: sha256 does not match the manifest (file modified or corrupt)")


def finalize(root: Path, manifest: Manifest) -> Manifest:
    """Hash every file under root (except the manifest) and write manifest.json. Call inside an atomic_dir."""
    hashes = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.name != MANIFEST:
            hashes[f.relative_to(root).as_posix()] = sha256_file(f)
    manifest = manifest.model_copy(update={"sha256": hashes})
    (root / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def zip_pack(root: Path, out: Path) -> Path:
    """Write a `.memopack` (stored, not deflated: ONNX weights barely compress and stored loads faster)."""
    read_manifest(root)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(root.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(root).as_posix())
    os.replace(tmp, out)
    return out


def _extract(zpath: Path) -> Path:
    """Extract into $MEMO_HOME/packs/<sha256 of the zip>/ once; refuse entries that escape the directory."""
    digest = sha256_file(zpath)[:16]
    dest = memo_home() / "packs" / f"{zpath.stem}-{digest}"
    if (dest / MANIFEST).is_file():
        return dest
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(zpath) as zf:
            for info in zf.infolist():
                name = info.filename
                pp = PurePosixPath(name)
                if pp.is_absolute() or ".." in pp.parts or "\\" in name or (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise PackError(f"{zpath}: entry '{name}' escapes the pack directory; refusing it")
                zf.extract(info, tmp)
    except zipfile.BadZipFile as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PackError(f"{zpath}: not a valid {SUFFIX} zip ({e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, dest)
    return dest
