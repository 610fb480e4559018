"""Markdown and note structure, read with markdown-it-py before any sentence is parsed.

Notes are not prose: a bullet under a heading is a fact about the heading's subject ("## Maren Holt" / "- joined
in 2021"), a table row is a set of facts about its first cell (row x column), a front-matter key or a "Key: value"
line is an attribute of the document or section, and a line that starts with a date is a dated event
("2025-03-11 Maren approved the budget"). This module turns a document into prose `Passage`s (for the parser) and
`Field`s (attribute facts that need no parse).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from lemminflect import getAllLemmas, getInflection
from markdown_it import MarkdownIt

from ..records import Document
from . import manual
from .codemask import plain
from .mentions import topic_of
from .prose import DATE
from .text import MONTHS

_MD = MarkdownIt("commonmark").enable("table")
_LOG = re.compile(
    rf"^\s*\[?(?P<date>\d{{4}}-\d{{2}}-\d{{2}}(?:[ T]\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)?|{DATE})\]?"
    r"\s*(?:[-–—:|]\s*)?(?P<text>\S.*)$"
)
_KV = re.compile(r"^\s*(?P<key>[A-Za-z][\w .'/&-]{0,40}?)\s*:\s+(?P<value>\S.*)$")
MAX_FIELD_WORDS = 8
_HEX_GROUPS = re.compile(r"\b[0-9A-F]{4}(?: [0-9A-F]{4}){2,}\b")  # a key fingerprint: one value, not ten words


def words_in(value: str) -> int:
    return len(_HEX_GROUPS.sub("X", value).split())


# "duration=70m18s" in a log line or a record: a key and its value
_KV_TOKEN = re.compile(r"(?<![\w=])(?P<key>[A-Za-z_][\w.-]{0,30})=(?P<value>[^\s=,;]+)")
# "INFO done job=..." is no sentence about a subject called INFO: a log line's level is dropped
_LEVEL = re.compile(r"^\[?(?:TRACE|DEBUG|INFO|NOTE|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\]?:?\s+")
_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?$")  # a timestamp's day
# "`httpcore` - The underlying transport for httpx": a term and what it is
_DEFINITION = re.compile(r"^(?P<term>\S.{0,60}?)\s+[-–—]\s+(?P<text>\S.{4,})$")
# "150 ml double cream", "2 x HDMI cable", "3 eggs": an amount of a thing
_UNITS = r"(?:ml|l|g|kg|mg|oz|lb|lbs|tbsp|tsp|cups?|cm|mm|m|km|GB|MB|TB|pcs|%)"
_AMOUNT = re.compile(
    rf"^(?P<amount>(?:\d+(?:[.,/]\d+)?|[½¼¾⅓⅔])\s*(?:[×x]\s*)?(?:{_UNITS}\b\.?)?)\s+(?:of\s+)?(?P<thing>[A-Za-z].*)$"
)
# what makes a leading number an amount and not a year or a list number: a unit, a count sign, a small number
_UNIT = re.compile(rf"\d\s*{_UNITS}\b|[×x]\s*[A-Za-z]|^[½¼¾⅓⅔]|^\d{{1,2}}\s")


@dataclass
class Passage:
    text: str
    heading: str | None = None  # the section's subject (bullets and notes lacking a subject refer to it)
    date: str | None = None  # a log line's date
    kind: str = "prose"  # prose | bullet | log | entry (a manual's description of `heading`, said of it)
    list_id: int = -1  # bullets of one list share an id
    label: str | None = None  # "Notes: <sentence>": the key, kept in text; the sentence alone may parse better
    record: bool = False  # a log line of key=value pairs: its fields are asked, no clause is read from it


@dataclass
class Field:
    subject: str
    attribute: str
    value: str
    kind: str  # table | field | frontmatter | list
    key_column: str = ""  # tables: the first column's header (for the reverse question)
    unique: bool = False  # tables: this value appears once in its column
    aliases: tuple[str, ...] = ()  # what else names the subject: "accountant" for "Tobiah Renshaw (accountant)"


@dataclass
class Structure:
    passages: list[Passage] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)


def _inline_text(tok) -> str:
    """Plain text of an inline token, with line breaks kept (each line of a log is its own event)."""
    out = []
    for k, c in enumerate(tok.children or []):
        before = tok.children[k - 1] if k else None
        autolink = (
            c.type == "text" and before is not None and before.type == "link_open" and before.markup == "autolink"
        )
        if autolink:  # "<bugs@x.org>" stays bracketed: codemask reads it as an address in apposition
            out.append(f"<{c.content}>")
        elif c.type == "text":
            out.append(c.content)
        elif c.type == "code_inline":  # kept quoted: codemask asks it as a token, fields drop the quotes
            out.append(f"`{c.content}`")
        elif c.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif c.type == "image":
            out.append(c.content)
    return "".join(out).strip()


def _generic(heading: str) -> bool:
    """ "Budget", "Decisions", "Open questions": a section name, not a subject of its own."""
    words = heading.split()
    return (
        len(words) <= 3
        and all(w[:1].islower() or i == 0 for i, w in enumerate(words))
        and not any(ch.isdigit() for ch in heading)
    )


# "role: home NAS and media server" in a record: what a reader calls the record instead of its name
DESCRIBING_KEYS = frozenset({"role", "type", "kind", "description", "purpose"})
_DESCRIBED = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<what>[^()\d]{2,40})\)$")  # no date: "(12 March 2025)"


def split_name(heading: str) -> tuple[str, str | None]:
    """ "Tobiah Renshaw (accountant)" -> ("Tobiah Renshaw", "accountant"): a record's name and what it is."""
    m = _DESCRIBED.match(heading.strip())
    return (m.group("name"), m.group("what").strip()) if m else (heading, None)


def _subject(path: list[tuple[str, bool]], title: str, topic: str) -> str:
    """The subject a section's bullets talk about: its heading, qualified by its parent when generic. A record's
    heading (a section of "Key: value" lines: "## pumice", "## Tobiah Renshaw (accountant)") is its name however
    it is written."""
    if not path:
        return title
    head, record = path[-1]
    if record:
        return split_name(head)[0]
    if _generic(head):
        parent = path[-2][0] if len(path) > 1 else topic
        return f"{parent} {head.lower()}" if parent and parent != head else head
    return head


def _starts_record(tokens, i: int) -> bool:
    """Whether the section that starts at token i opens with a paragraph of "Key: value" lines."""
    if i + 1 >= len(tokens) or tokens[i].type != "paragraph_open":
        return False
    lines = [x for x in _inline_text(tokens[i + 1]).split("\n") if x.strip()]
    return len(lines) >= 2 and sum(bool(_KV.match(x)) for x in lines) * 2 > len(lines)


def _lines(text: str) -> list[str]:
    """A paragraph whose lines are log or "Key: value" lines is itemized; wrapped prose is joined back."""
    lines = [x.strip() for x in text.split("\n") if x.strip()]
    itemized = sum(bool(_LOG.match(x) or _KV.match(x)) for x in lines)
    return lines if len(lines) > 1 and itemized * 2 >= len(lines) else [" ".join(lines)]


# a key has no article: "Pay the property charge: €212.40" is an instruction with a colon, not a record's key
_ARTICLE = re.compile(r"\b(?:the|a|an|my|our|your|its|their)\b", re.I)
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")  # a task list's "- [ ] ..." / "- [x] ...": markup, not words of the item


# "Odile Brakspear (chair), Ravindra Kolluri, Hana Szymborska (scribe)": a list of people, some with their role
_NAME_ITEM = re.compile(r"^[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){1,3}(?:\s*\((?P<role>[^()]{1,40})\))?$")
_ROLE_WORDS = re.compile(r"^[a-z][a-z-]*(?:\s[a-z][a-z-]*)?$")
_AGENT = re.compile(r"(?:er|or|ant|ent|ist|ian|ee|ary|ess)$")  # treasurer, moderator, accountant, trainee ...
_ROLE_NOUNS = frozenset({"chair", "lead", "host", "head", "chief", "guest", "scribe", "intern", "captain", "coach"})
_ROLE_NOUNS |= frozenset({"clerk", "deputy", "delegate", "judge", "sponsor", "contact", "proxy", "mentor", "owner"})


def _role_noun(role: str) -> bool:
    """ "chair", "note taker", "accountant" name what a person is there; "remote", "absent", "notes" (a plural),
    "finance" (a department) do not."""
    if not _ROLE_WORDS.match(role):
        return False
    last = role.split()[-1]
    lemmas = getAllLemmas(last)
    if "ADJ" in lemmas or lemmas.get("NOUN", (last,))[0] != last:
        return False
    return last in _ROLE_NOUNS or bool(_AGENT.search(last))


def _role_fields(value: str, subject: str) -> list[Field]:
    """The roles of a list of at least two names ("Attendees: ..."): each an attribute of the section's subject
    (the meeting) whose value is the person."""
    items = [i.strip() for i in re.split(r"[,;]\s*|\s+and\s+", value) if i.strip()]
    names = [m for m in map(_NAME_ITEM.match, items) if m]
    if len(items) < 2 or len(names) < 2 or 2 * len(names) < len(items):
        return []
    out = []
    for m in names:
        role = (m.group("role") or "").strip()
        if role and _role_noun(role):
            out.append(Field(subject, role, m.group(0)[: m.start("role")].rstrip(" ("), "role"))
    return out


def _line_items(text: str, heading: str | None, kind: str, list_id: int, subject: str, out: Structure) -> None:
    if kind == "bullet":
        text = _CHECKBOX.sub("", text)
    for line in _lines(text):
        amount = _AMOUNT.match(line) if kind == "bullet" and len(line.split()) <= 6 else None
        if amount and _UNIT.search(amount.group("amount") + " "):
            # "150 ml double cream", "3 eggs" in a list: how much of a thing its section (a recipe, an order) has
            thing = amount.group("thing").rstrip(".;,")
            out.fields.append(Field(subject, thing.lower(), amount.group("amount").strip(), "amount"))
            continue
        m = _LOG.match(line)
        if m and len(m.group("text").split()) >= 2:
            message = _LEVEL.sub("", m.group("text"))
            fields = _log_fields(message, _ISO_TIME.sub(r"\1", m.group("date")))
            # key=value pairs: fields, not a sentence to parse
            out.passages.append(
                Passage(message, heading=subject, date=m.group("date"), kind="log", record=bool(fields))
            )
            out.fields += fields
            continue
        kv = _KV.match(line)
        if kv and len(kv.group("key").split()) <= 4 and not _ARTICLE.search(kv.group("key")):
            value = plain(kv.group("value").strip())
            out.fields += _role_fields(value, subject)
            if words_in(value) <= MAX_FIELD_WORDS and not value.endswith((".", "!", "?")):
                out.fields.append(Field(subject, kv.group("key").strip().lower(), value.rstrip(";,"), "field"))
            else:  # a long value is prose, but its key says what it is about ("Notice period: 56 days in ...")
                line = f"{kv.group('key').strip()}: {value}"
                label = kv.group("key").strip()
                out.passages.append(Passage(line, heading=subject, kind=kind, list_id=list_id, label=label))
            continue
        if kind == "bullet" and (d := _DEFINITION.match(line)) and len(d.group("term").split()) <= 5:
            line = manual.definition_sentence(d.group("term").strip(), d.group("text").strip())
        out.passages.append(Passage(line, heading=heading if kind == "prose" else subject, kind=kind, list_id=list_id))


def _log_fields(text: str, date: str) -> list[Field]:
    """A log line's key=value pairs as fields of its event: "INFO done job=offsite-weekly ... duration=70m18s" on
    2025-03-09 -> the duration of "the offsite-weekly job done on 9 March 2025" is 70m18s. The event is named by
    its first pair and the message's verb, as a reader names it, and with the log's own date as another name."""
    pairs = list(_KV_TOKEN.finditer(text))
    if len(pairs) < 2:
        return []
    words = text[: pairs[0].start()].split()
    raw = " ".join([*words, pairs[0].group(0), "on", date])
    event, aliases = raw, ()
    verb = _participle(words[0]) if len(words) == 1 else None
    if verb:
        first = pairs[0]
        named = f"{first.group('value')} {first.group('key').replace('_', ' ')} {verb}"
        event, aliases = f"the {named} on {spoken_date(date)}", (f"{named} on {date}",)
    return [
        Field(event, p.group("key").replace("_", " ").lower(), p.group("value"), "field", aliases=aliases)
        for p in pairs[1:]
    ]


def _participle(word: str) -> str | None:
    """ "start" -> "started", "done" -> "done"; None for a word that is no verb ("ERROR", "giving")."""
    w = word.lower()
    lemmas = getAllLemmas(w, upos="VERB").get("VERB")
    if not word.isalpha() or not lemmas:
        return None
    forms = getInflection(lemmas[0], "VBN")
    if forms and w in forms:
        return w
    return forms[0] if forms and w == lemmas[0] else None


def spoken_date(iso: str) -> str:
    """ "2025-03-09" -> "9 March 2025" (how people say a day); anything else as it is."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", iso)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return iso
    return f"{int(m.group(3))} {MONTHS[int(m.group(2)) - 1]} {m.group(1)}"


def _table(rows: list[list[str]], subject: str, out: Structure) -> None:
    if len(rows) < 2 or len(rows[0]) < 2:
        return
    header, body = rows[0], [r for r in rows[1:] if r and r[0]]
    if len(header) > 2 and body and all(re.fullmatch(r"[#\d.]*", r[0]) for r in body):
        # a "#" / row-number column names no row: the next column does ("2 has what owner?" -> the item's owner)
        header, body = header[1:], [r[1:] for r in body if len(r) > 1 and r[1]]
    key = _header_noun(header[0])
    label = _label_column(header, body)
    for j, col in enumerate(header[1:], 1):
        values = [_cell(r[j]) if j < len(r) else "" for r in body]
        attr = _header_noun(col)
        for r, v in zip(body, values):
            if v and words_in(v) <= MAX_FIELD_WORDS and col:
                # the reverse question ("Which date has the leg X?") only for a short value that names the row
                unique = values.count(v) == 1 and words_in(v) <= 3
                aliases = (_cell(r[label]),) if label and j != label else ()
                out.fields.append(Field(r[0], attr, v, "table", key_column=key, unique=unique, aliases=aliases))
            if v and len(v.split()) >= 4 and sum(ch.isalpha() for ch in v) > len(v) / 2:
                # a remark in a cell ("Feb reduced to pay for the car service") is read like a note about its row
                out.passages.append(Passage(f"{r[0]}: {v}", heading=subject, kind="bullet", label=r[0]))


def _label_column(header: list[str], body: list[list[str]]) -> int | None:
    """When the first column does not tell the rows apart (two legs on "Mon 19 May"), the first column of short
    capitalized names that does ("Ferry Port Ossary → Skellan Island") names each row too."""
    firsts = [r[0] for r in body]
    if len(set(firsts)) == len(firsts):
        return None
    for j in range(1, len(header)):
        cells = [_cell(r[j]) if j < len(r) else "" for r in body]
        if len(set(cells)) == len(cells) and all(
            c[:1].isupper() and words_in(c) <= MAX_FIELD_WORDS and sum(ch.isalpha() for ch in c) > len(c) / 2
            for c in cells
        ):
            return j
    return None


_KEEP_CASE = re.compile(
    r"^(?:[A-Z0-9]{2,}s?|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*)$"
)


def _header_noun(header: str) -> str:
    """A column header as a noun in a question: "Jan actual" -> "Jan actual", "RAM" -> "RAM", "Owner" -> "owner"."""
    return " ".join(w if _KEEP_CASE.match(w) else w.lower() for w in header.split())


_MARKS = {"✅": "yes", "✔": "yes", "✓": "yes", "☑": "yes", "❌": "no", "✗": "no", "✘": "no", "❎": "no"}


def _cell(text: str) -> str:
    """A table cell as an answer: check marks read as yes/no; cells with no letter or digit say nothing."""
    text = text.strip()
    if text in _MARKS:
        return _MARKS[text]
    return text if any(ch.isalnum() for ch in text) else ""


def _manual(text: str, out: Structure) -> None:
    """A plain-text manual (pydoc, man page; see manual.py): an entry's description is said of its name, "(default:
    X)" is a field, a "term - text" line a definition."""
    for item in manual.read(text):
        if item.kind == "default":
            out.fields.append(Field(item.name, "default", item.text, "field"))
            continue
        line = re.sub(r"^[-*•]\s+", "", item.text)
        if item.kind == "entry":
            line = manual.entry_sentence(item.name, line)
        elif (d := _DEFINITION.match(line)) and len(d.group("term").split()) <= 3:
            line = manual.definition_sentence(d.group("term").strip(), d.group("text").strip())
        out.passages.append(Passage(line, heading=item.name or None, kind=item.kind))


_RULER = re.compile(r"^=+(?:[ \t]+=+)+[ \t]*$")  # a reST simple table's rule: "=====  ======" (two columns or more)
_REST_REF = re.compile(r"`([^`\n]+)`_{1,2}")


def rest_tables(text: str) -> str:
    """reStructuredText's simple tables as pipe tables, which the Markdown reader reads as tables (READMEs of
    Python packages are often reST). A table is rule, header, rule, rows, rule; its columns are the rule's runs of
    "=". A table without a header (rule, rows, rule) has no column names to ask with: its rules are dropped."""
    lines = text.split("\n")
    rules = [i for i, line in enumerate(lines) if _RULER.match(line)]
    out, done = list(lines), set()
    for a, b, c in zip(rules, rules[1:], rules[2:]):
        if a in done or b - a != 2 or any(not lines[k].strip() for k in range(b + 1, c)):
            continue
        starts = [m.start() for m in re.finditer(r"=+", lines[a])]

        def cells(line: str) -> list[str]:
            spans = zip(starts, starts[1:] + [len(line)])
            return [_REST_REF.sub(r"\1", line[s:e]).strip().replace("|", "\\|") for s, e in spans]

        table = ["", "| " + " | ".join(cells(lines[a + 1])) + " |", "|" + " --- |" * len(starts)]
        table += ["| " + " | ".join(cells(lines[k])) + " |" for k in range(b + 1, c)] + [""]
        out[a] = "\n".join(table)
        for k in range(a + 1, c + 1):
            out[k] = None
        done.update((a, b, c))
    return "\n".join(x for x in out if x is not None)


def read_structure(doc: Document) -> Structure:
    out = Structure()
    for key, value in (doc.meta or {}).items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if text and len(text.split()) <= MAX_FIELD_WORDS * 2:
            out.fields.append(Field(doc.title, key.lower(), text, "frontmatter"))
    if manual.is_manual(doc.text):  # indentation is its structure: Markdown would read it as code
        _manual(doc.text, out)
        return out
    path: list[tuple[int, str, bool]] = []
    records: dict[str, str | None] = {}  # a record's name -> what its heading says it is
    topic = topic_of(doc.title, doc.text)
    tokens = _MD.parse(rest_tables(doc.text))
    list_depth, list_id, row, rows, i = 0, 0, None, None, 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open":
            level = int(t.tag[1])
            text = plain(_inline_text(tokens[i + 1]))
            record = _starts_record(tokens, i + 3)
            path = [(lv, h, r) for lv, h, r in path if lv < level] + [(level, text, record)]
            if record:
                records.setdefault(*split_name(text))
            i += 3
            continue
        subject = _subject([(h, r) for _, h, r in path], doc.title, topic)
        heading = path[-1][1] if path else None
        if t.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
            list_id += 1
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif t.type == "table_open":
            rows = []
        elif t.type == "tr_open":
            row = []
        elif t.type == "tr_close" and rows is not None:
            rows.append(row)
        elif t.type == "table_close" and rows is not None:
            _table(rows, subject, out)
            rows = None
        elif t.type == "inline" and rows is not None and row is not None:
            row.append(plain(_inline_text(t)))
        elif t.type == "inline":
            kind = "bullet" if list_depth else "prose"
            _line_items(_inline_text(t), heading, kind, list_id if list_depth else -1, subject, out)
        i += 1
    _describe_records(out, records)
    return out


def _describe_records(out: Structure, records: dict[str, str | None]) -> None:
    """A record's fields also get the names a reader uses for it: what its heading says it is and its "role:"
    line. A description two records share names neither."""
    said: dict[str, list[str]] = {name: [w] if w else [] for name, w in records.items()}
    for f in out.fields:
        if f.kind == "field" and f.subject in said and f.attribute in DESCRIBING_KEYS:
            said[f.subject].append(f.value)
    counts: dict[str, int] = {}
    for names in said.values():
        for n in set(map(str.lower, names)):
            counts[n] = counts.get(n, 0) + 1
    for k, f in enumerate(out.fields):
        if f.kind == "field" and f.subject in said and f.attribute not in DESCRIBING_KEYS:
            names = tuple(n for n in said[f.subject] if counts[n.lower()] == 1 and n.lower() != f.value.lower())
            out.fields[k] = dataclasses.replace(f, aliases=names)
