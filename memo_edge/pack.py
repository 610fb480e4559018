"""The memory pack: a directory (or a `.memopack` zip of it) whose manifest fully describes it.

Loading verifies the manifest and the sha256 of every file; any mismatch is refused with a one-line error naming
the file. The sha256 of manifest.json itself is the pack id (`Pack.pack_id`): it covers every file, so any edit
gives another id. Hashes catch corruption, not an attacker who rewrites a file and its hash: for that a pack can
be signed (Ed25519 over manifest.json, `signature.json`, see signing.py) and opened with trusted keys, which
refuses unsigned and foreign packs. A `.memopack` is extracted once into a content-addressed cache entry under
$MEMO_HOME/packs (temp dir + verify + atomic rename under a file lock; limits on size, entry count and compression
ratio; an entry found incomplete is extracted again). JSON and safetensors/ONNX only: no pickle anywhere. This
module is shared by the exporter (writer) and the runtime (reader), so it imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .atomic import regular_target, sweep_stale, umask
from .errors import PackError, field_error
from .home import memo_home
from .prompt import MemoryPrompt
from .settings import env
from .signing import SIGNATURE, check_signature, trusted_from_env

FORMAT = "memo-pack"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".memopack"

# Extraction limits: a pack is a few large weight files stored uncompressed, so anything far from that is refused
# before a byte is written. MEMO_PACK_MAX_BYTES raises the size cap for very large models.
MAX_ENTRIES = 4096
MAX_RATIO = 100  # uncompressed / compressed per entry; weights barely compress, zip bombs reach 1000+
MAX_TOTAL_BYTES = 64 << 30


# The longest context a manifest may claim: positions and KV buffers are sized by it (10**12 was a MemoryError,
# 10**9 an 8 GB allocation); 1M tokens is past every small model a pack holds.
MAX_CONTEXT = 1 << 20


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    architecture: str
    num_layers: int = Field(ge=1, le=4096)
    hidden_size: int = Field(ge=1)
    num_attention_heads: int = Field(ge=1)
    num_key_value_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    context_length: int = Field(ge=2, le=MAX_CONTEXT)


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


class Abstain(BaseModel):
    """Questions whose content words the memory mostly never saw are answered "I don't know." without running the
    model (memo_edge.vocabulary): the pack's `known_terms` file holds the words, this the share below which a
    question is refused."""

    model_config = ConfigDict(extra="forbid")
    min_known_share: float = Field(gt=0.0, le=1.0)
    terms: int = Field(ge=0)


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
    abstain: Abstain | None = None
    providers_tested: list[str] = []
    provenance: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    sha256: dict[str, str] = Field(default_factory=dict)


class Pack:
    """A verified pack on disk: `Pack.open(path)`."""

    def __init__(self, root: Path, manifest: Manifest, manifest_bytes: bytes | None = None):
        self.root = root
        self.manifest = manifest
        # from the bytes that were parsed, so the id always names what was loaded (the exporter builds a Pack
        # before it writes manifest.json: then the id is computed on first use)
        self._pack_id = None if manifest_bytes is None else "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        self.signer: str | None = None  # key id of a verified signature (signing.key_id), if the pack is signed

    @property
    def pack_id(self) -> str:
        """sha256 of manifest.json, which lists every file's sha256: any change anywhere gives another id. Shown by
        `memo ask --json` and (after the server rewrite) /v1/models."""
        if self._pack_id is None:
            self._pack_id = "sha256:" + sha256_file(self.root / MANIFEST)
        return self._pack_id

    def path(self, role: str) -> Path:
        if role not in self.manifest.files:
            raise PackError(f"{self.root / MANIFEST}: no '{role}' file in this pack")
        return self.root / self.manifest.files[role]

    @classmethod
    def open(cls, path: str | os.PathLike, verify: bool = True, trusted_keys=None) -> "Pack":
        """Open and verify a pack directory or `.memopack` file.

        verify: check every file's sha256 (False: only that they exist). trusted_keys: public key files (or
        loaded keys); when given, the pack must carry a valid signature by one of them. None means the
        MEMO_TRUSTED_KEY environment variable (key files separated by os.pathsep), if set. A signature present
        in a pack is always checked against manifest.json, trusted keys or not.
        """
        keys = trusted_from_env() if trusted_keys is None else trusted_keys
        p = Path(path).expanduser()
        if p.is_file() and p.suffix == SUFFIX:
            pack = _open_memopack(p, verify)
        else:
            if not p.is_dir():
                raise PackError(f"{p}: not a memory pack (expected a directory with {MANIFEST} or a {SUFFIX} file)")
            manifest, raw = read_manifest_bytes(p)
            verify_files(p, manifest, hashes=verify)
            pack = cls(p, manifest, raw)
        pack.signer = check_signature(pack.root, (pack.root / MANIFEST).read_bytes(), keys, shown=p)
        return pack


def read_manifest(root: Path) -> Manifest:
    return read_manifest_bytes(root)[0]


def read_manifest_bytes(root: Path) -> tuple[Manifest, bytes]:
    mpath = root / MANIFEST
    if not mpath.is_file():
        if (root / "config.json").is_file():  # what memo train writes: the step before a pack
            raise PackError(
                f"{root}: a model checkpoint, not a memory pack (no {MANIFEST}); make a pack from it with "
                f"`memo export {root} -o PACK`"
            )
        raise PackError(f"{mpath}: missing (not a memory pack, or an incomplete one)")
    data = mpath.read_bytes()
    try:
        raw = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PackError(f"{mpath}: not valid JSON ({e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise PackError(f"{mpath}: field 'format': expected '{FORMAT}'")
    if raw.get("format_version") != FORMAT_VERSION:
        raise PackError(
            f"{mpath}: field 'format_version': {raw.get('format_version')!r} is not supported "
            f"(this memo-edge reads version {FORMAT_VERSION})"
        )
    try:
        return Manifest.model_validate(raw), data
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


def verify_files(root: Path, manifest: Manifest, hashes: bool = True) -> None:
    """Every listed file exists as a plain file inside the pack and (hashes=True) matches its sha256."""
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
        if hashes and sha256_file(f) != digest:
            raise PackError(f"{f}: sha256 does not match the manifest (file modified or corrupt)")


def finalize(root: Path, manifest: Manifest) -> Manifest:
    """Hash every file under root (except the manifest and a signature) and write manifest.json. Call inside an
    atomic_dir; sign after this (signing.sign_pack), since the signature covers these exact bytes."""
    hashes = {}
    mode = 0o666 & ~umask()
    for f in sorted(root.rglob("*")):
        if f.is_file():
            os.chmod(f, mode)  # a pack is meant to be shared: no file kept 0600 by the tool that wrote it
        if f.is_file() and f.relative_to(root).as_posix() not in (MANIFEST, SIGNATURE):
            hashes[f.relative_to(root).as_posix()] = sha256_file(f)
    manifest = manifest.model_copy(update={"sha256": hashes})
    (root / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def zip_pack(root: Path, out: Path) -> Path:
    """Write a `.memopack` (stored, not deflated: ONNX weights barely compress and stored loads faster)."""
    read_manifest(root)
    out = regular_target(out)  # like every output: a device, FIFO or directory refused, a symlink written through
    sweep_stale(out.parent, out.name)
    tmp = out.with_name(f".{out.name}.{os.getpid()}-zip.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(root).as_posix())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# ---- .memopack extraction cache ---------------------------------------------------------------------------------
def packs_dir() -> Path:
    return memo_home() / "packs"


def _max_total() -> int:
    return env().pack_max_bytes or MAX_TOTAL_BYTES


ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
MAX_MANIFEST_BYTES = 16 << 20


def _listed_files(zf: zipfile.ZipFile) -> set[str] | None:
    """The names a zipped pack may hold: manifest.json, signature.json and every file the manifest lists. None when
    the manifest cannot be read here (then the pack is refused when it is verified, and nothing is kept)."""
    try:
        info = zf.getinfo(MANIFEST)
        if info.file_size > MAX_MANIFEST_BYTES or info.flag_bits & 0x1 or info.compress_type not in ZIP_METHODS:
            return None
        doc = json.loads(zf.read(info))
        return {MANIFEST, SIGNATURE, *doc["sha256"], *doc["files"].values()}
    except Exception:  # noqa: BLE001 - a hostile zip may fail any way (zlib, json, shapes): verification refuses it
        return None


def _checked_entries(zpath: Path) -> list[zipfile.ZipInfo]:
    """The zip's entries, refused before anything is written: escaping names, links, too many entries, too large
    in total, or compressed suspiciously well (a zip bomb)."""
    try:
        with zipfile.ZipFile(zpath) as zf:
            infos = zf.infolist()
            listed = _listed_files(zf)
    except (zipfile.BadZipFile, OSError) as e:
        raise PackError(f"{zpath}: not a valid {SUFFIX} zip ({e})") from None
    if len(infos) > MAX_ENTRIES:
        raise PackError(f"{zpath}: {len(infos)} entries (a pack holds at most {MAX_ENTRIES}); refusing it")
    seen: set[str] = set()
    total, inflated, packed, cap = 0, 0, 0, _max_total()
    for info in infos:
        name = info.filename
        pp = PurePosixPath(name)
        if pp.is_absolute() or ".." in pp.parts or "\\" in name or (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise PackError(f"{zpath}: entry '{name}' escapes the pack directory; refusing it")
        if name in seen:
            raise PackError(f"{zpath}: entry '{name}' appears twice; refusing it")
        seen.add(name)
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > (1 << 20):
            raise PackError(
                f"{zpath}: entry '{name}' expands {info.file_size / max(info.compress_size, 1):.0f}x "
                f"(more than {MAX_RATIO}x: a zip bomb?); refusing it"
            )
        if info.flag_bits & 0x1 or info.compress_type not in ZIP_METHODS:
            why = "is encrypted" if info.flag_bits & 0x1 else f"uses compression method {info.compress_type}"
            raise PackError(f"{zpath}: entry '{name}' {why} (a pack is stored or deflated); refusing it")
        if listed is not None and not info.is_dir() and name not in listed:
            raise PackError(f"{zpath}: entry '{name}' is not listed in {MANIFEST}; refusing it")
        total += info.file_size
        if info.compress_type != zipfile.ZIP_STORED:
            inflated += info.file_size
            packed += info.compress_size
    if inflated > (1 << 20) and inflated > MAX_RATIO * max(packed, 1):  # many small bombs, each under the entry check
        raise PackError(
            f"{zpath}: its compressed entries expand {inflated / max(packed, 1):.0f}x in all "
            f"(more than {MAX_RATIO}x: a zip bomb?); refusing it"
        )
    if total > cap:
        raise PackError(
            f"{zpath}: would extract {total / 1e9:.1f} GB (limit {cap / 1e9:.1f} GB; raise it with "
            "MEMO_PACK_MAX_BYTES); refusing it"
        )
    return infos


def _extract_to(zpath: Path, infos: list[zipfile.ZipInfo], dest: Path) -> None:
    """Stream every entry into dest, counting real bytes: the headers' sizes are checked above, this holds even if
    they lie (zipfile also stops at the declared size and checks each CRC)."""
    cap, written = _max_total(), 0
    with zipfile.ZipFile(zpath) as zf:
        for info in infos:
            target = dest / PurePosixPath(info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > cap:
                        raise PackError(f"{zpath}: extracts to more than its entries declare; refusing it")
                    out.write(block)


def _relative_error(e: PackError, root: Path, zpath: Path) -> PackError:
    """Messages about a temp extraction name the .memopack and the member, not the temp path."""
    return PackError(f"{zpath}: " + str(e).replace(f"{root}/", "").replace(str(root), "(pack)"))


def _sweep(cache: Path, entry: Path) -> None:
    """Leftovers of killed extractions of this entry (we hold its lock, so none is in progress)."""
    for old in cache.iterdir():
        if old.name.startswith(f".{entry.name}."):
            shutil.rmtree(old, ignore_errors=True)


def _extract_locked(zpath: Path, entry: Path, infos: list[zipfile.ZipInfo], broken: bool = False) -> None:
    """Extract zpath into the cache entry, once, whatever the number of processes doing it at the same time."""
    from filelock import FileLock  # here: ~0.1 s of import that only a .memopack needs

    cache = entry.parent
    locks = cache / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{entry.name}.lock")):
        _sweep(cache, entry)
        if entry.is_dir():
            if not broken:
                return  # another process finished it while we waited
            try:  # another process may have healed it already
                verify_files(entry, read_manifest(entry))
                return
            except PackError:
                aside = cache / f".{entry.name}.{os.getpid()}.broken"
                os.replace(entry, aside)
                shutil.rmtree(aside, ignore_errors=True)
        need = sum(i.file_size for i in infos)
        free = shutil.disk_usage(cache).free
        if need > free:
            raise PackError(
                f"{cache}: not enough disk space to extract {zpath.name} (needs {need / 1e6:.0f} MB, "
                f"{free / 1e6:.0f} MB free)"
            )
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".partial", dir=cache))
        try:
            _extract_to(zpath, infos, tmp)
            try:  # verify the extracted files before they become visible to anyone
                verify_files(tmp, read_manifest(tmp))
            except PackError as e:
                raise _relative_error(e, tmp, zpath) from None
            os.chmod(tmp, 0o755)
            os.rename(tmp, entry)  # atomic: the entry is complete or absent
        except zipfile.BadZipFile as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PackError(f"{zpath}: corrupt {SUFFIX} zip ({e})") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _open_memopack(zpath: Path, verify: bool) -> "Pack":
    """Open a `.memopack` through its content-addressed cache entry: $MEMO_HOME/packs/<stem>-<sha256 prefix>."""
    infos = _checked_entries(zpath)
    entry = packs_dir() / f"{zpath.stem}-{sha256_file(zpath)[:32]}"
    entry.parent.mkdir(parents=True, exist_ok=True)
    if not entry.is_dir():
        _extract_locked(zpath, entry, infos)
    try:
        manifest, raw = read_manifest_bytes(entry)
        verify_files(entry, manifest, hashes=verify)
    except PackError:
        # The entry was damaged after extraction (a file deleted or edited, a crash of an older version): the zip
        # is the source of truth, so extract it again instead of failing on every later run.
        _extract_locked(zpath, entry, infos, broken=True)
        manifest, raw = read_manifest_bytes(entry)
        verify_files(entry, manifest, hashes=verify)
    return Pack(entry, manifest, raw)
