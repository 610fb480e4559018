"""Plain-text manuals (pydoc's text, man pages): their indentation is structure, not code.

Markdown reads a line indented four spaces as code, so a pydoc page (`python -m pydoc textwrap`) reached the parser as
its section names and little else: 21 reflections from textwrap's page, 43 from heapq's. A text whose lines are
mostly indented and carry no Markdown is read here by its indentation instead:
- a line at the margin in capitals (NAME, FUNCTIONS, OPTIONS) is a section;
- a short line that names something (`heapify(heap, /)`, `class TextWrapper(...)`, `width (default: 70)`,
  `-v, --verbose`) followed by lines indented deeper is an entry: the name and what is said of it. Its description is
  said of the name ("Transform list into a heap" under `heapify` is read "heapify() transforms list into a heap",
  `entry_sentence`); an entry inside a class is named with it (`TextWrapper.width`), and "(default: X)" in the line
  is a field of it;
- a line of code with a comment (`heapify(x)   # transforms list into a heap, in-place`) is an entry of the function
  it calls;
- signatures, doctests (">>>") and code set deeper inside a description say nothing in words and are skipped; other
  lines are prose, one passage per paragraph.
pydoc's class gutter (" |  ") is dropped first. The reader returns plain `Item`s; notes.read_structure turns them into
passages and fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lemminflect import getAllLemmas, getInflection

_GUTTER = re.compile(r"^(\s*)\|")
_SECTION = re.compile(r"[A-Z][A-Z0-9 /&-]{2,}")
_MARKDOWN = re.compile(r"^\s{0,3}(?:#{1,6}\s|```|[-*+]\s|\|.*\|\s*$)|^\s*[=-]{3,}\s*$")
_TERM = re.compile(
    r"^(?:(?:async\s+)?(?:class|def)\s+)?(?P<name>-{1,2}[\w-]+|[A-Za-z_][\w.]*)(?P<rest>\s*(?:\(.*\)?|,\s*-.*)?)"
    r"\s*(?:->.*)?:?$"
)
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)\s*(?:->.*)?$")  # "fill(text : string) -> string": no words to learn
_DEFAULT = re.compile(r"\(default:?\s*(?P<value>[^)]+)\)")
_CODE_COMMENT = re.compile(r"^(?P<code>[^#\s][^#]*?)\s+#\s+(?P<comment>\S.*)$")
_CALL = re.compile(r"([A-Za-z_]\w*)\(")
_ASSIGNMENT = re.compile(r"^[\w.\[\]'\"]+\s*=\s")
# a man page's option and its description on one line: "-C     list entries by columns"
_OPTION_LINE = re.compile(r"^(?P<name>-{1,2}[\w-]+)(?:[=\[]\S*)?(?:,\s*-{1,2}[\w-]+\S*)*\s{2,}(?P<text>\S.*)$")


@dataclass
class Item:
    kind: str  # entry (text about `name`) | prose | default (name's default value)
    name: str  # the entry's name, or the section's for prose
    text: str


def is_manual(text: str) -> bool:
    """Mostly indented lines (or pydoc's gutter) and next to no Markdown: a manual page, not notes."""
    lines = [x for x in text.split("\n") if x.strip()]
    indented = sum(bool(re.match(r"^(?: {4,}|\t|\s*\|)", x)) for x in lines)
    markdown = sum(bool(_MARKDOWN.match(x)) for x in lines)
    return len(lines) >= 5 and indented >= 0.5 * len(lines) and markdown < 0.1 * len(lines)


def _lines(text: str) -> list[tuple[int, str]]:
    """(indent, stripped text) per line; pydoc's gutter "|" becomes a space so the indentation stays."""
    out = []
    for raw in text.expandtabs(8).split("\n"):
        line = _GUTTER.sub(lambda m: m.group(1) + " ", raw.rstrip())
        out.append((len(line) - len(line.lstrip()), line.strip()))
    return out


def _next_indents(lines: list[tuple[int, str]]) -> list[int]:
    """Per line, the indentation of the next non-blank line after it (-1 at the end): one pass from the end, so a
    long man page is read in linear time."""
    out, nxt = [-1] * len(lines), -1
    for i in range(len(lines) - 1, -1, -1):
        out[i] = nxt
        if lines[i][1]:
            nxt = lines[i][0]
    return out


def _term(text: str) -> re.Match | None:
    """A line that names something: an identifier or option alone, or followed by its arguments or default."""
    m = _TERM.match(text)
    if not m or len(text.split()) > 12 or text.endswith(".") or re.fullmatch(r"[A-Z][a-z ]*:", text):
        return None  # a sentence, or a label ("Attributes:", "Usage:") over what follows
    return m


def read(text: str) -> list[Item]:
    lines = _lines(text)
    next_indent = _next_indents(lines)
    items: list[Item] = []
    stack: list[tuple[int, str]] = []  # open entries: (indent of the name line, qualified name)
    section = ""
    para: list[str] = []
    para_at = (-1, "", "prose")  # (indent, name, kind) of the paragraph being gathered
    code_under = -1  # after "... as follows:" a deeper line is code, up to the next line at or above this indent
    doctest = False  # ">>>" and its output, up to the next blank line
    fresh = False  # no paragraph yet under the entry just opened: the next one is its description

    def flush() -> None:
        nonlocal code_under
        if para:
            code_under = para_at[0] if para[-1].endswith(":") else -1
            if not (len(para) == 1 and para[0].endswith(":")):  # "Methods defined here:" says nothing alone
                items.append(Item(para_at[2], para_at[1], " ".join(para)))
            para.clear()

    for i, (d, t) in enumerate(lines):
        if not t:
            flush()
            doctest = False
            continue
        if doctest or t.startswith(">>>"):
            flush()
            doctest = True
            continue
        while stack and stack[-1][0] >= d:
            stack.pop()
        if d == 0 and _SECTION.fullmatch(t):
            flush()
            section, stack, code_under = t.title(), [], -1
            continue
        owner = stack[-1][1] if stack else ""
        if comment := _CODE_COMMENT.match(t):
            flush()
            calls = _CALL.findall(comment.group("code"))
            if calls:
                items.append(Item("entry", calls[-1] + "()", comment.group("comment").lstrip("# ")))
            continue
        if t.startswith("#") and items and items[-1].kind == "entry":  # a comment continued under the one above
            items[-1].text += " " + t.lstrip("# ")
            continue
        if option := _OPTION_LINE.match(t):
            flush()
            stack.append((d, option.group("name")))
            para_at, fresh, code_under = (d, option.group("name"), "entry"), False, -1
            para.append(option.group("text"))
            continue
        term = _term(t) if next_indent[i] > d else None
        if term:
            flush()
            name = term.group("name") + ("()" if term.group("rest").lstrip().startswith("(") else "")
            if name.endswith("()") and _DEFAULT.search(t):
                name = name[:-2]  # "width (default: 70)": an attribute, not a call
            if owner and not name.startswith("-"):
                name = f"{owner.removesuffix('()').split('.')[-1]}.{name}"
            default = _DEFAULT.search(t)
            if default and default.group("value").strip(" '\""):
                items.append(Item("default", name, default.group("value").strip(" '\"")))
            stack.append((d, name))
            code_under, fresh = -1, True
            continue
        if code_under >= 0 and d > code_under or _SIGNATURE.match(t) or _ASSIGNMENT.match(t):
            flush()
            continue
        code_under = -1
        if not para:
            para_at = (d, owner or section, "entry" if owner and fresh else "prose")
            fresh = False
        para.append(t)
    flush()
    return items


_NOUN_NEXT = {"for", "of", "is", "are", "was", "were", "that", "which"}  # "Object for wrapping": a noun, no verb
_NOT_VERBS = {"like"}  # "like -l, but ...": a preposition here


def entry_sentence(name: str, text: str) -> str:
    """A description said of its name: "Transform list into a heap" -> "heapify() transforms list into a heap",
    "pushes a new item" -> "heappush() pushes a new item", "the maximum width of wrapped lines" -> "TextWrapper.width
    is the maximum width of wrapped lines". Anything else is left as it is."""
    words = text.split()
    first, rest = words[0], " ".join(words[1:])
    w, after = first.lower(), (words[1].lower() if len(words) > 1 else "")
    verbs = () if w in _NOT_VERBS else getAllLemmas(w, "VERB").get("VERB", ())
    if w in verbs and after not in _NOUN_NEXT:  # the imperative of docstrings and man pages
        return f"{name} {(getInflection(w, 'VBZ') or (w,))[0]} {rest}".strip()
    if verbs and w not in verbs and w.endswith("s"):  # already said of something: "pushes ...", "Adds ..."
        return f"{name} {w} {rest}".strip()
    if w in ("a", "an", "the") or getAllLemmas(w, "NOUN") and (not verbs or after in _NOUN_NEXT):
        return f"{name} is {first if first.isupper() else w} {rest}".strip()
    return text


def definition_sentence(term: str, text: str) -> str:
    """A "term - text" line as a sentence about the term. A lowercase description is said of it as an entry's is
    ("grind - sort lines by weight" -> "grind sorts lines by weight"); a capitalized one, or one no verb or noun
    starts, is what the term is ("heapq - Heap queue algorithm" -> "heapq is heap queue algorithm", "Ravindra - on
    call Mondays" -> "Ravindra is on call Mondays")."""
    if text[:1].islower() and (said := entry_sentence(term, text)) != text:
        return said
    first, rest = text.split()[0], " ".join(text.split()[1:])
    return f"{term} is {first if first.isupper() else first[:1].lower() + first[1:]} {rest}".strip()
