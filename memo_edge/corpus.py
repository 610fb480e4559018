"""Corpus loading and chunking: a folder of .md / .txt / .jsonl (and .pdf with the [pdf] extra).

Document and chunk ids are content hashes, so re-running on an edited corpus only redoes what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from datetime import date as _date
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from .errors import MemoError
from .records import Chunk, Document, json_lines

SUFFIXES = {".md", ".markdown", ".txt", ".jsonl", ".pdf"}
_DATE_LINE = re.compile(r"^\s*(?:date|Date|DATE)\s*:\s*(\d{4}-\d{2}-\d{2}|\d{4}-\d{2}|\d{4})\s*$", re.M)
_MD = MarkdownIt("commonmark")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


@dataclass(frozen=True)
class ChunkingConfig:
    """Word-based chunks with overlap; small defaults suit small generators."""

    chunk_words: int = 220
    overlap_words: int = 40

    def __post_init__(self):
        if self.chunk_words < 20:
            raise MemoError(f"chunk_words: {self.chunk_words} is too small (expected >= 20)")
        if not 0 <= self.overlap_words < self.chunk_words:
            raise MemoError(f"overlap_words: expected 0 <= overlap < chunk_words ({self.chunk_words})")


def content_id(*parts: str, n: int = 12) -> str:
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:n]


def _scalar(value) -> str | list[str] | None:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value if isinstance(v, (str, int, float, _date))]
        return items or None
    if isinstance(value, (str, int, float, _date)) and not isinstance(value, bool):
        return str(value)
    return None


def front_matter(path: Path, text: str) -> tuple[dict, str]:
    """YAML front matter ("---" ... "---" at the top of a note) as a dict, and the text after it."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        warnings.warn(f"{path}: front matter is not valid YAML{where}; read as text", stacklevel=3)
        return {}, text
    if not isinstance(data, dict):
        return {}, text[m.end() :]
    return {str(k): v for k, v in data.items()}, text[m.end() :]


def _first_heading(text: str) -> tuple[str | None, str]:
    """The first level-1 Markdown heading (not a "# comment" inside a code block) and the text without it."""
    tokens = _MD.parse(text)
    for k, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h1" and tok.map:
            lines = text.splitlines(keepends=True)
            start, end = tok.map
            return tokens[k + 1].content.strip(), "".join(lines[:start] + lines[end:])
    return None, text


def _doc_from_text(path: Path, text: str) -> Document:
    meta, text = front_matter(path, text)
    date = _scalar(meta.pop("date", None))
    date = date if isinstance(date, str) else None
    m = _DATE_LINE.search(text)
    if m and not date:
        date = m.group(1)
        text = text[: m.start()] + text[m.end() :]
    title = _scalar(meta.pop("title", None))
    if not isinstance(title, str):
        title, text = _first_heading(text)
        title = title or path.stem.replace("-", " ").replace("_", " ")
    meta = {k: v for k, v in ((k, _scalar(v)) for k, v in meta.items()) if v}
    text = text.strip()
    parts = (title, text, json.dumps(meta, sort_keys=True)) if meta else (title, text)
    return Document(doc_id=content_id(*parts), title=title, text=text, date=date, source=path.name, meta=meta)


def _read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        warnings.warn(f"{path}: skipped (binary file)", stacklevel=3)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warnings.warn(f"{path}: skipped (not UTF-8 text)", stacklevel=3)
        return None


def _read_jsonl(path: Path) -> list[Document]:
    docs = []
    text = _read_text(path)
    if text is None:
        return docs
    for lineno, obj in json_lines(path, text.splitlines(), "a .jsonl file of {id, title, text} documents"):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            raise MemoError(f"{path}:{lineno}: field 'text': expected a non-empty string")
        title = str(obj.get("title") or obj.get("id") or f"{path.stem}-{lineno}")
        body = obj["text"].strip()
        docs.append(
            Document(
                doc_id=content_id(title, body),
                title=title,
                text=body,
                date=obj.get("date"),
                source=f"{path.name}:{lineno}",
            )
        )
    return docs


def _read_pdf(path: Path) -> Document | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        warnings.warn(f"{path}: skipped (PDF needs the [pdf] extra: pip install 'memo-edge[pdf]')", stacklevel=3)
        return None
    import logging  # here, not at the top: this function is the only part of corpus.py issue 14 touches

    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.ERROR)  # pypdf logs each repair it tries ("EOF marker not found"): one warning is enough
    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    except Exception as e:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on a broken file
        warnings.warn(
            f"{path}: skipped (not a readable PDF: {type(e).__name__}: {' '.join(str(e).split())[:120]})", stacklevel=3
        )
        return None
    finally:
        log.setLevel(level)
    # PDF lines break inside words ("tech-\nnology") and sentences; re-join them before sentence splitting
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return _doc_from_text(path, text) if text.strip() else None


def load_corpus(folder: str | Path) -> list[Document]:
    """All documents of a folder (recursively), sorted by path; warns on and skips unusable files."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise MemoError(f"{root}: corpus folder not found")
    if not root.is_dir():
        raise MemoError(f"{root}: expected a corpus folder of .md/.txt/.jsonl files")
    docs: list[Document] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES:
            continue
        if suffix == ".jsonl":
            docs.extend(_read_jsonl(path))
        elif suffix == ".pdf":
            d = _read_pdf(path)
            docs += [d] if d else []
        else:
            text = _read_text(path)
            if text is not None and text.strip():
                docs.append(_doc_from_text(path, text))
    if not docs:
        raise MemoError(f"{root}: no usable documents (expected UTF-8 .md, .txt or .jsonl files)")
    return docs


def chunk_document(doc: Document, cfg: ChunkingConfig = ChunkingConfig()) -> list[Chunk]:
    words = doc.text.split()
    step = cfg.chunk_words - cfg.overlap_words
    chunks = []
    for i, start in enumerate(range(0, max(len(words) - cfg.overlap_words, 1), step)):
        text = " ".join(words[start : start + cfg.chunk_words])
        chunks.append(
            Chunk(
                doc_id=doc.doc_id,
                chunk_id=content_id(doc.doc_id, text),
                title=doc.title,
                text=text,
                date=doc.date,
                index=i,
            )
        )
    return chunks


def corpus_fingerprint(docs: list[Document]) -> str:
    return content_id(*sorted(d.doc_id for d in docs), n=16)
