"""Code tokens in prose: masked as opaque names before parsing, put back in the pairs.

Technical text is full of tokens that are answers but no English: `--with-ical`, bugs@example.org, /etc/app.conf,
https://..., `pip install x`, KEY=value. spaCy splits them into punctuation and misparses the sentence around them,
and the prose filter used to drop every sentence that held one ("Send bug reports to X" became nothing). Each such
token is replaced by a placeholder that the parser reads as a proper noun (one token, capitalized, no meaning), the
sentence is parsed and asked like any other, and the placeholder is replaced by the token again in the questions and
answers. Each token also gets the category noun a question asks it with ("Which option ...", "Which file ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "Qx" + letters + "ton": a made-up name the parser reads as a proper noun in the role its place in the sentence
# gives it. The parse still depends on the letters (they are numbered in corpus order): with "Qxcode" + letters 82%
# of 360 invented placements read as the expected subject/object/pobj, with a name-like ending 90%
# (tests/test_synthesis_parts.py holds the check).
_PREFIX, _SUFFIX = "Qx", "ton"
# no "\b" at the end: two placeholders can touch ("QxatonQxbton") and each must still be found
PATTERN = _PREFIX + r"[a-z]+?" + _SUFFIX + r"(?![a-z])"
# (kind, pattern): the first that matches a stretch of text wins; order matters (an email before a path)
_TOKENS = [
    ("code", re.compile(r"`([^`\n]{1,80})`")),
    ("address", re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+[^\s<>()\"'.,;:!?]")),
    ("address", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    # an option starts a word: "`ssl.SSLContext`-like" is a suffix glued to code, not the option "-like"
    ("option", re.compile(r"(?<![\w`-])--?[A-Za-z][\w-]*(?:=[^\s,;]+)?")),
    ("file", re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[\w.@~+-]+(?:/[\w.@~+-]*)*")),
    ("file", re.compile(r"\b[A-Za-z]:\\[^\s,;]+")),
    ("file", re.compile(r"(?<![\w/.-])[\w.-]+(?:/[\w.#+*-]+){2,}/?")),  # relative paths, MQTT topics: a/b/c
    (
        "file",
        re.compile(
            r"\b[\w-]+(?:\.[\w-]+)*\.(?:conf|cfg|ini|toml|ya?ml|json|py|sh|txt|md|rst|csv|log|xml|html?|js|ts|c|h|"
            r"cpp|so|dll|exe|lock|env|tar\.gz|zip|whl|gguf|onnx)\b"
        ),
    ),
    ("setting", re.compile(r"\b[A-Za-z_][\w.]*=[^\s,;]+")),
    ("name", re.compile(r"\b[a-z_]\w+(?:\.[a-z_]\w+)+(?:\(\))?(?![\w.])")),  # os.path.join, foo.bar()
    ("name", re.compile(r"(?<![\w.])[A-Za-z_]\w*\(\)")),  # heappop(), _wrap_chunks(): a call is a name
    ("name", re.compile(r"\b[A-Za-z][\w-]*/\d+(?:\.\d+)*\b")),  # HTTP/1.1, TLS/1.3: a protocol and version
    ("name", re.compile(r"\b[a-z]+_[a-z_0-9]+\b")),  # snake_case identifiers, locales (de_DE is caught below)
    ("locale", re.compile(r"\b[a-z]{2}_[A-Z]{2}(?:\.[\w-]+)?\b")),
    ("name", re.compile(r"\b[A-Z]{1,4} ?#\d+\b")),  # PR #412, issue #7
    ("name", re.compile(r"(?<![\w-])(?=[\w-]*\d)[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+\b")),  # ldg-db-03, SMS-C3
]
# the category noun each kind is asked with ("Which option enables ...?"); "code" depends on what it holds
CATEGORY = {"address": "address", "option": "option", "file": "file", "setting": "setting", "locale": "locale"}
_PLACEHOLDER = re.compile(PATTERN)
# markup around a token that is no part of it: "<bugs@x.org>", "<https://...>", reST links "`Text <url>`_"
# a link's text may wrap over lines; the reader may have taken its "_" already (notes._REST_REF)
_REST_LINK = re.compile(r"`([^`<>]{1,200}?)\s*<[^<>\s]*(?:://|@|www\.)[^<>\s]*>`_{0,2}")
_BRACKETED = re.compile(r"<((?:mailto:)?[\w.+-]+@[\w.-]+|(?:https?://|www\.)[^<>\s]+)>")


def _name(n: int) -> str:
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(97 + r) + letters
    return _PREFIX + letters + _SUFFIX


def _code_kind(text: str) -> str | None:
    """What a back-quoted span is: a command ("pip install x"), an option, a file, or just a name."""
    for kind, pat in _TOKENS[1:]:
        m = pat.fullmatch(text)
        if m:
            return kind
    return "command" if " " in text.strip() else None


@dataclass
class CodeMask:
    """Placeholder -> original token for one corpus, and the category each is asked with."""

    originals: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    def mask(self, text: str) -> str:
        # "Gustavo Niemeyer <g@n.net> in 2003": the address in apposition, so a name's answer stays the name
        text = _REST_LINK.sub(lambda m: " ".join(m.group(1).split()), text)
        text = _BRACKETED.sub(r", \1,", text).replace(",,", ",")
        spans: list[tuple[int, int, str, str]] = []
        taken = [False] * len(text)
        for kind, pat in _TOKENS:
            for m in pat.finditer(text):
                a, b = m.span()
                if kind != "code":  # a sentence's own full stop or comma is not part of the token
                    b = a + len(m.group(0).rstrip(".,;:!?"))
                if b <= a or any(taken[a:b]):
                    continue
                original = m.group(1) if kind == "code" else text[a:b]
                if kind == "code" and not original.strip():
                    continue
                cat = CATEGORY.get(_code_kind(original.strip()) if kind == "code" else kind)
                spans.append((a, b, original.strip(), cat or ""))
                taken[a:b] = [True] * (b - a)
        out, last = [], 0
        for a, b, original, cat in sorted(spans):
            out.append(text[last:a])
            out.append(self._placeholder(original, cat))
            last = b
        out.append(text[last:])
        return "".join(out)

    def _placeholder(self, original: str, category: str) -> str:
        for k, v in self.originals.items():
            if v == original:
                return k
        name = _name(len(self.originals))
        self.originals[name] = original
        if category:
            self.categories[name] = category
        return name

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def holds(self, text: str) -> bool:
        return bool(_PLACEHOLDER.search(text))


def is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.fullmatch(text))


def plain(text: str) -> str:
    """A field value or heading with its inline-code quotes dropped: `--port` -> --port."""
    return re.sub(r"`([^`\n]*)`", r"\1", text)
