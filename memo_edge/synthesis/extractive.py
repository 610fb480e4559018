"""The `extractive` generator: deterministic question-answer pairs from the corpus text, no LLM.

The paper's five steps, done offline:
1. facts: markdown structure (notes.py) -> prose passages and attribute fields; passages are cleaned
   (prose.py: parenthesized birth/death facts, quotes) and parsed by spaCy (nlp.py); every fact-bearing clause
   is asked about each of its parts, in several phrasings (qgen.py); fields become attribute questions.
2. consolidation: per entity and document, one answer that gathers its facts (linking.py).
3. self-containment: subject pronouns and "the <category>" are replaced by the name they stand for
   (mentions.py); clauses whose subject stays vague are dropped and counted; quality.py filters the rest.
4. entity surfacing: questions that describe an entity by two or three facts without naming it.
5. cross-document synthesis: facts about one entity from two documents, and two-hop rewrites.
It never invents an answer that is not in the text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from lemminflect import getAllLemmas

from ..corpus import ChunkingConfig, chunk_document
from ..records import Chunk, Document
from .cast import CastFact, cast_facts, cast_questions, performed
from .anchors import for_section, with_document
from .cloze import cloze_pairs
from .codemask import CodeMask, is_placeholder
from .constructions import (
    imperative_pairs,
    instruction,
    noun_phrase_pairs,
    parenthetical_value_pairs,
    phrase_tokens,
    version_floor_pairs,
)
from .facts import clause_facts
from .phrasings import fact_questions, full_name_variants
from .lexicon import CATEGORY_NOUNS
from .dataset import Pair
from .linking import Predicate, bridge_pairs, consolidated_pairs, crossdoc_pairs, descriptions, entity_pairs
from .mentions import DocContext, EntityIndex, ent_at, full_names, topic_of
from .nlp import parse
from .notes import Field, Passage, read_structure
from .prose import LifeFact, clean, resolve_relative_years, year_of
from .clauses import ClauseReader
from .insitu import InSitu
from .qgen import QA, RANGE_ENDS, Writer, symmetric_reverse
from .quality import rejection
from .statements import Statements, is_markup, states_something
from .text import normalize, possessive, spelled_out

PROMPT_VERSION = "extractive-v15"
MAX_SENTENCE_WORDS = 80
_NOT_PROSE = re.compile(r"[{}<>|\\`@^~]|https?:|www\.|\s//|=")


@dataclass
class ExtractiveResult:
    pairs: list[Pair]
    stats: dict = field(default_factory=dict)
    per_doc: dict[str, dict] = field(default_factory=dict)  # doc_id -> {words, sentences, sentences_with_pairs}
    reserve: list[Pair] = field(default_factory=list)  # fill-ins for spans whose wh-question may not survive


@dataclass
class _Unit:
    """One passage of one document, cleaned, with what it needs for questions."""

    doc: Document
    passage: Passage
    text: str
    life: list[LifeFact]
    parsed: object = None
    cast: list[CastFact] = field(default_factory=list)
    labelled: list[tuple[str, str, str]] = field(default_factory=list)  # "(version 7)": read before cleaning
    section: str = ""  # a "Key: clause" line's section heading ("ldg-db-03"): what the clause is said of


def usable_sentence(text: str) -> bool:
    words = text.split()
    return 3 <= len(words) <= MAX_SENTENCE_WORDS and not _NOT_PROSE.search(text)


class _ChunkFinder:
    """Which chunk of a document a sentence came from (chunks are word windows over the document text)."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self.keys = [_squash(c.text) for c in chunks]

    def __call__(self, text: str) -> str:
        probe = _squash(" ".join(text.split()[:6]))
        for c, k in zip(self.chunks, self.keys):
            if probe and probe in k:
                return c.chunk_id
        return self.chunks[0].chunk_id


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _units(
    docs: list[Document], codes: CodeMask, topics: dict[str, str]
) -> tuple[list[_Unit], list[tuple[Document, Field]]]:
    units, fields = [], []
    for d in docs:
        st = read_structure(d)
        fields += [(d, f) for f in st.fields]
        plays = performed(d.text, d.title)
        topic = topics[d.doc_id]
        for p in st.passages:
            masked = codes.mask(resolve_relative_years(p.text, d.date))
            text, life = clean(masked, topic)
            cast = cast_facts(p.text) if plays else []
            units.append(_Unit(d, p, text, life, cast=cast, labelled=parenthetical_value_pairs(masked)))
    return units, fields


def _code_entities(parsed, codes: CodeMask) -> None:
    """A placeholder is one name (a PRODUCT, never a person or a place), whatever NER guessed around it."""
    from spacy.tokens import Span  # spaCy is the [synth] extra; nlp.parse has already imported it

    marks = {t.i for t in parsed if is_placeholder(t.text)}
    if not marks:
        return
    kept = [e for e in parsed.ents if not any(i in marks for i in range(e.start, e.end))]
    parsed.ents = sorted(kept + [Span(parsed, i, i + 1, label="PRODUCT") for i in marks], key=lambda e: e.start)


_RANGE_LABELS = {"DATE", "TIME", "MONEY", "QUANTITY", "PERCENT", "CARDINAL"}


def _split_ranges(parsed) -> None:
    """ "moves from 5 April to 26 April 2025": the recognizer reads one DATE "5 April to 26 April 2025"; a range
    is two values, each an answer of its own ("from what date", "to what date")."""
    from spacy.tokens import Span

    out = []
    for e in parsed.ents:
        cut = next((t for t in e if t.lower_ in RANGE_ENDS and e.start < t.i < e.end - 1), None)
        if e.label_ in _RANGE_LABELS and cut is not None:
            out += [Span(parsed, e.start, cut.i, label=e.label_), Span(parsed, cut.i + 1, e.end, label=e.label_)]
        else:
            out.append(e)
    parsed.ents = out


def _vote_pronoun_topics(units: list[_Unit], index: EntityIndex, topics: dict[str, str]) -> None:
    """A document that opens with its topic as the subject and then says "he"/"she" is about a person."""
    first: dict[str, _Unit] = {}
    shes: dict[str, int] = {}
    for u in units:
        first.setdefault(u.doc.doc_id, u)
        shes[u.doc.doc_id] = shes.get(u.doc.doc_id, 0) + sum(
            t.lower_ in ("he", "she") and t.dep_ in ("nsubj", "nsubjpass") for t in u.parsed
        )
    for doc_id, u in first.items():
        topic = topics[doc_id]
        sents = list(u.parsed.sents)
        last = topic.split()[-1] if topic.split() else ""
        # the topic's last name opens the document ("Quinn was ..."); "II" or "(film)" are no names
        if shes[doc_id] and sents and len(last) > 2 and last.isalpha() and last.lower() in sents[0].text.lower()[:120]:
            index.vote_person(topic)


def _with_subject(text: str, sent, ctx: DocContext, bullet: bool = False) -> str:
    """ "Trusted by NASA for Mars missions since 2020!": a statement whose sentence names no subject (a participle
    or adjective fragment, not an instruction) is about its document: "attrs: Trusted by NASA ...". So is a bullet
    with no verb at all, a feature list's item ("* CPython and PyPy implementations" -> "wrapt: CPython and PyPy
    implementations."): alone it says nothing."""
    root = sent.root
    fragment = root.tag_ in ("VBN", "VBG", "JJ") and not any(
        c.dep_ in ("nsubj", "nsubjpass", "expl", "csubj") for c in root.children
    )
    fragment = fragment or (bullet and not any(t.pos_ in ("VERB", "AUX") for t in sent) and ":" not in text)
    return f"{ctx.topic}: {text}" if fragment and ctx.topic_nameable and not text.startswith(ctx.topic) else text


# openers that say "what the sentence before said": "To do so use inject_into_ssl()", "Otherwise ..."
_LEANS_ON_PREVIOUS = re.compile(
    r"^(?:to do (?:so|this|that)|doing (?:so|this|that)|in (?:this|that) case|if so|if not|otherwise|"
    r"for (?:this|that) reason|as a result|because of (?:this|that))\b",
    re.I,
)


def _self_contained(text: str, sent, previous: str) -> str:
    """A statement that leans on the sentence before it ("To do so use the inject_into_ssl() function.", "This
    means you can hook h11 up to any network API.") is stored with that sentence: alone it says nothing a reader can
    use (a seed-61 hand-read failure). The paper's step 3, self-containment fixing, for statements."""
    first = sent[0]
    leans = _LEANS_ON_PREVIOUS.match(sent.text.lstrip()) or (
        first.lower_ in ("this", "that", "these", "those") and first.dep_ in ("nsubj", "nsubjpass")
    )
    if not leans or not previous:
        return text
    return f"{previous if previous.endswith(('.', '!', '?')) else previous + '.'} {text}"


def _labelled_clause(unit: _Unit) -> str | None:
    """ "Notes: Tax return paperwork has to reach him by 31 October": the text after a "Key:" label, to be parsed
    alone (with the label in front the parser reads the key as the subject and the sentence yields nothing)."""
    label = unit.passage.label
    prefix = f"{label}: " if label else ""
    if not prefix or not unit.text.startswith(prefix):
        return None
    rest = unit.text[len(prefix) :]
    return rest if len(rest.split()) >= 4 else None


def _section_name(heading: str | None, title: str) -> str:
    """The thing a section is about, as its heading names it: "Tobiah Renshaw (accountant)" -> "Tobiah Renshaw";
    none for the document's own title or a heading too long to be a name."""
    name = _PARENTHETICAL.sub("", heading or "").strip()
    return name if name and name != title and len(name.split()) <= MAX_SUBJECT_WORDS else ""


_PRONOUNS = {"he", "she", "him", "her", "his", "hers"}


def _unnamed_subject(sent, ctx: DocContext) -> bool:
    """The sentence's main subject is a common-noun thing no name stands in for ("the finance export")."""
    subj = next((c for c in sent.root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    return (
        subj is not None
        and subj.pos_ == "NOUN"
        and any(c.dep_ in ("det", "poss") for c in subj.children)
        and ctx.stand_in(subj) is None
    )


def _section_context(u: _Unit, index: EntityIndex) -> DocContext:
    """A "Key: clause" line is about its section's thing: "Notes: Tax return paperwork has to reach him by 31
    October" under "## Tobiah Renshaw (accountant)" -> him is Tobiah Renshaw, a name of two or three words."""
    words = u.section.split()
    if 2 <= len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words):
        if any(t.lower_ in _PRONOUNS for t in u.parsed):
            index.vote_person(u.section)
    return DocContext(u.section, index)


def _states(sent) -> bool:
    """The sentence's root is a verb with its own subject (a clause, not a fragment like "56 days in writing")."""
    r = sent.root
    return r.pos_ in ("VERB", "AUX") and any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in r.children)


MAX_SUBJECT_WORDS = 6  # a section heading that names a subject ("Team", "Jonas Weber (backup)") is short


def _fragment_text(unit: _Unit) -> str | None:
    """A bullet or log line without a subject ("joined in 2021") is about its section: give it that subject."""
    doc = unit.parsed
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or not unit.passage.heading:
        return None
    if any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in root.children):
        return None
    if is_placeholder(doc[0].text):  # "`on_file` runs for every uploaded file": the code token is the subject
        return None
    subject = unit.passage.heading
    if len(subject.split()) > MAX_SUBJECT_WORDS:
        return None  # "# kept by hand-copying the interesting lines out of ...": a comment line, no subject
    if root.tag_ in ("VBD", "VBZ", "VBP"):
        return f"{subject} {unit.text[:1].lower()}{unit.text[1:]}"
    if root.tag_ == "VBN":
        return f"{subject} was {unit.text[:1].lower()}{unit.text[1:]}"
    return None


def _said_of_topic(unit: _Unit, topic: str) -> str | None:
    """ "attrs is the Python package that ... Trusted by NASA for Mars missions since 2020!": a sentence that is a
    bare participle phrase after one about the document's subject is said of it ("attrs is trusted by NASA ...").
    Only where the document has a name and the sentence before names it."""
    sents = list(unit.parsed.sents)
    out, changed = [], False
    for k, sent in enumerate(sents):
        root = sent.root
        bare = (
            root.tag_ == "VBN"
            and root.i == sent.start
            and not any(c.dep_ in ("nsubj", "nsubjpass", "expl", "auxpass", "aux") for c in root.children)
        )
        if bare and k and topic and topic.lower() in sents[k - 1].text.lower() and len(topic.split()) <= 3:
            out.append(f"{topic} is {sent.text[:1].lower()}{sent.text[1:]}")
            changed = True
        else:
            out.append(sent.text)
    return " ".join(out) if changed else None


def _bare_verb(word: str) -> bool:
    """ "review", "depart": the word is a verb's bare form ("reviews", "logs" are not)."""
    return getAllLemmas(word, upos="VERB").get("VERB") == (word,)


def _instruction_texts(sent) -> list[str]:
    """ "Review Ravindra's PR #412 before Thursday's rehearsal", "Expose FunctionAuth from the public API": an
    instruction whose capitalized verb the parser read as a name (the root is then the object, and the sentence
    yields only fill-ins). The texts to re-parse it from, in order: the verb in lowercase, then after "Please"
    (which the instruction constructions skip)."""
    if instruction(sent) is not None:
        return []
    first = sent[0]
    word = first.text
    if not (word[:1].isupper() and word.isalpha() and len(word) > 2) or first.ent_type_ in ("DATE", "TIME"):
        return []  # "Wed 21 May: ..." is a day, not the verb "wed"
    if not _bare_verb(word.lower()):
        return []  # not a verb's bare form ("Logs", "Notes")
    if any(t.tag_ in ("VBD", "VBZ", "VBP", "MD") for t in sent) or (len(sent) > 1 and sent[1].like_num):
        return []  # a clause of its own ("Book lovers meet on Fridays"), or "Drop 3: ..."
    if all(t.text[:1].isupper() for t in sent if t.is_alpha and not t.is_stop):
        return []  # a label in title case ("Source Code", "Keep-Alive & Connection Pooling"), not an instruction
    lowered = word.lower() + sent.text[len(word) :]
    return [lowered, "Please " + lowered]


def _reparse_instructions(units: list[_Unit]) -> None:
    """Each sentence that is an instruction read as a name is parsed again alone, from the first of its texts that
    reads as an instruction with an object (every instruction construction asks one); the passage's other
    sentences keep their parse."""
    from spacy.tokens import Doc  # spaCy is the [synth] extra; nlp.parse has already imported it

    found = [(u, k, ts) for u in units for k, sent in enumerate(u.parsed.sents) if (ts := _instruction_texts(sent))]
    fixed: dict[tuple[int, int], object] = {}
    for attempt in (0, 1):
        tries = [(u, k, ts[attempt]) for u, k, ts in found if (id(u), k) not in fixed]
        for (u, k, _), doc in zip(tries, parse([t for *_, t in tries])):
            sents = list(doc.sents)
            root = sents[0].root if len(sents) == 1 else None
            if root is not None and instruction(sents[0]) is not None and any(c.dep_ == "dobj" for c in root.children):
                fixed[id(u), k] = doc
    for u in {id(u): u for u, *_ in found}.values():
        parts = [fixed.get((id(u), k)) for k, _ in enumerate(u.parsed.sents)]
        if any(parts):
            u.parsed = Doc.from_docs([p or s.as_doc() for p, s in zip(parts, u.parsed.sents)])
            u.text = u.parsed.text


def generate(
    docs: list[Document],
    chunking: ChunkingConfig = ChunkingConfig(),
    progress=None,
    statements: bool = True,
    cloze: bool = True,
) -> ExtractiveResult:
    """Candidate pairs for a corpus (before the quality filter, de-duplication and ambiguity removal)."""
    codes = CodeMask()
    topics = {d.doc_id: topic_of(d.title, d.text) for d in docs}  # once per document: it searches the whole text
    units, fields = _units(docs, codes, topics)
    for u, parsed in zip(units, parse([u.text for u in units])):
        u.parsed = parsed
    labelled = [(u, t) for u in units if (t := _labelled_clause(u))]
    for (u, t), parsed in zip(labelled, parse([t for _, t in labelled])):
        # "Notes: Tax return paperwork has to reach him by ...", "notes: Do not run VACUUM FULL ...": the label is
        # no subject of the clause or the instruction after it
        if all(_states(s) or instruction(s) is not None for s in parsed.sents):
            u.text, u.parsed = t, parsed
            u.section = _section_name(u.passage.heading, u.doc.title)
    refixed = [(u, t) for u in units if u.passage.kind != "prose" and (t := _fragment_text(u))]
    refixed += [(u, t) for u in units if u.passage.kind == "prose" and (t := _said_of_topic(u, topics[u.doc.doc_id]))]
    for (u, t), parsed in zip(refixed, parse([t for _, t in refixed])):
        u.text, u.parsed = t, parsed
    _reparse_instructions(units)
    for u in units:
        _code_entities(u.parsed, codes)
        _split_ranges(u.parsed)
    index = EntityIndex()
    for d in docs:
        index.add_title(topics[d.doc_id])
    for placeholder, category in codes.categories.items():
        index.categories[placeholder.lower()][category] += 100  # "Which option ...", not "Which company ..."
    for u in units:
        index.observe(u.parsed)
    for u in units:
        for f in u.life:
            index.vote_person(f.subject)
    _vote_pronoun_topics(units, index, topics)

    pairs: list[Pair] = []
    predicates: list[Predicate] = []
    per_doc: dict[str, dict] = {}
    by_doc: dict[str, list[_Unit]] = {}
    for u in units:
        by_doc.setdefault(u.doc.doc_id, []).append(u)
    stats = dict.fromkeys(
        (
            "sentences",
            "sentences_with_pairs",
            "sentences_with_typed_pairs",
            "sentences_skipped",
            "stating_sentences",
            "stating_sentences_with_pairs",
            "clauses",
        ),
        0,
    )
    said = Statements()
    reserve: list[Pair] = []
    skipped: dict[str, int] = {}
    lists: dict[tuple[str, int], list[_Unit]] = {}
    finders: dict[str, _ChunkFinder] = {}  # one per document: its lists and fields use it too
    for d in docs:
        chunk_of = finders[d.doc_id] = _ChunkFinder(chunk_document(d, chunking))
        writer = Writer(index, DocContext(topics[d.doc_id], index))
        doc_ctx = writer.ctx
        counts = per_doc.setdefault(
            d.doc_id,
            {
                "title": d.title,
                "source": d.source,
                "words": len(d.text.split()),
                "sentences": 0,
                "sentences_with_pairs": 0,
                "pairs": 0,
            },
        )
        first = len(pairs)
        heading = None
        for u in by_doc.get(d.doc_id, []):
            writer.ents = ent_at(u.parsed)
            if u.passage.heading != heading:  # "it" after a heading is no thing of the section before
                heading, doc_ctx.last_thing = u.passage.heading, None
            for f in u.life:
                pairs += _life_pairs(f, d, chunk_of(u.text))
            pairs += [Pair(q, a, "direct", [d.doc_id], [chunk_of(u.text)], slot=slot) for q, a, slot in u.labelled]
            for f in u.cast:
                pairs += [
                    Pair(q, a, "direct", [d.doc_id], [chunk_of(u.text)], short=k > 0, slot=slot)
                    for k, (q, a, slot) in enumerate(cast_questions(f, writer.ctx.topic))
                ]
            made_any = False
            previous = ""  # the paragraph's last sentence, as stated: what "To do so" or "This" leans on
            for sent in u.parsed.sents:
                if is_markup(sent.text):
                    continue  # ".. code-block:: python3": reST the Markdown reader keeps; no sentence of the text
                stats["sentences"] += 1
                counts["sentences"] += 1
                thing_before = doc_ctx.last_thing
                before = said.filed
                if usable_sentence(sent.text) and not u.passage.record:
                    writer.in_document = False
                    writer.ctx = _section_context(u, index) if u.section else doc_ctx
                    if u.section:  # "reach him": the section's person, in every question of the line
                        writer.resolve_pronouns(sent)
                    made = _sentence_pairs(writer, sent, u, d, chunk_of(sent.text), predicates, stats)
                    writer.ctx = doc_ctx
                    common = sent[0].text if sent[0].pos_ not in ("PROPN", "X") and sent[0].text.isalpha() else ""
                    if u.section:  # "notes: Do not run VACUUM FULL ..." under "## ldg-db-03"
                        made = [for_section(p, u.section, common) for p in made]
                    else:
                        made = [with_document(p, writer.ctx.topic, writer.in_document, common) for p in made]
                else:  # too long or not prose: kept as a statement only
                    stats["sentences_skipped"] += 1
                    made = []
                asks = cloze and not u.passage.record  # a record's values are its fields' answers already
                blanks, held = _cloze(writer, sent, made, d.doc_id, chunk_of(sent.text)) if asks else ([], [])
                reserve += held
                stated = _with_subject(
                    writer.render(list(sent), lower_first=False), sent, writer.ctx, u.passage.kind == "bullet"
                )
                said.add(
                    sent,
                    _self_contained(stated, sent, previous),
                    d.doc_id,
                    writer.ctx.topic,
                    chunk_of(sent.text),
                    writer.render,
                    # what "you" can or must do is advice drawn from the sentence, not its statement
                    asked=any(" you " not in f" {p.question} " for p in made),
                )
                previous = stated
                writer.subst.clear()
                writer.title_toks.clear()
                if doc_ctx.last_thing == thing_before and _unnamed_subject(sent, doc_ctx):
                    # "the finance export has to be checked ... It lands in ...": "it" is the export, which has
                    # no name the sentence's questions used; not the last named thing ("Version 6" two sentences
                    # before): the pronoun stays
                    doc_ctx.last_thing = None
                pairs += made + blanks
                made_any |= bool(made)
                stats["sentences_with_typed_pairs"] += bool(made)
                yielded = bool(made) or bool(blanks) or (statements and said.filed > before)
                states = states_something(sent)
                stats["stating_sentences"] += states
                stats["stating_sentences_with_pairs"] += states and yielded
                if yielded:
                    stats["sentences_with_pairs"] += 1
                    counts["sentences_with_pairs"] += 1
            if u.passage.kind == "bullet" and not made_any:
                lists.setdefault((d.doc_id, u.passage.list_id), []).append(u)
        names = full_names([u.parsed for u in by_doc.get(d.doc_id, [])], writer.ctx.topic, index)
        _name_in_full(pairs[first:], names)
        pairs += full_name_variants(pairs[first:], names)
        for k, v in writer.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
        if progress:
            progress(1)
    for items in lists.values():
        pairs += _list_pairs(items, finders[items[0].doc.doc_id])
    for d, f in fields:
        pairs += _field_pairs(f, d, finders[d.doc_id], topics[d.doc_id])
    for p in pairs:
        p.step = "facts"
    descs = descriptions(pairs, index)
    linked = (
        entity_pairs(predicates)
        + crossdoc_pairs(predicates)
        + bridge_pairs(pairs, descs)
        + consolidated_pairs(predicates)
    )
    linked += said.pairs() if statements else []
    for p in pairs:
        for doc_id in p.doc_ids:
            if doc_id in per_doc:
                per_doc[doc_id]["pairs"] += 1
    stats.update(
        {
            "clauses_skipped": skipped,
            "facts": len(predicates),
            "fields": len(fields),
            "passages": len(units),
            "bullet_lists_asked_as_lists": len(lists),
        }
    )
    out = pairs + linked
    for p in out + reserve:
        p.question, p.answer = codes.restore(p.question), codes.restore(p.answer)
        if p.type not in ("statement", "consolidated"):
            p.answer = minimal_answer(p.answer)
    out += _spelled_out(out)
    stats["code_tokens"] = len(codes.originals)
    return ExtractiveResult(out, stats, per_doc, reserve)


def _spelled_out(pairs: list[Pair]) -> list[Pair]:
    """A question with an abbreviated month or weekday ("the Feb actual of Groceries", "Sun 18 May") is asked
    again with it in full, as a user asks ("What did we spend on groceries in February?")."""
    out = []
    for p in pairs:
        if p.type in ("direct", "indirect") and (q := spelled_out(p.question)) != p.question:
            out.append(dataclasses.replace(p, question=q, short=True))
    return out


def _cloze(writer: Writer, sent, made: list[Pair], doc_id: str, chunk_id: str) -> tuple[list[Pair], list[Pair]]:
    """The spans of a sentence that no typed pair of it answers, asked as fill-ins (see cloze.py), and the reserve:
    fill-ins of the spans a typed pair does answer, used only where that pair does not survive the data set's
    de-duplication ("What is the version in attrs?" has two answers in one document and is dropped as ambiguous)."""
    writer.resolve_pronouns(sent)
    # a span whose only question the quality filter will drop is not asked: it gets its fill-in
    answered = {normalize(minimal_answer(p.answer)) for p in made if rejection(p) is None}
    fresh = cloze_pairs(sent, writer.render, writer.ctx.topic, set(answered))
    held = cloze_pairs(sent, writer.render, writer.ctx.topic, {normalize(a) for _, a, _ in fresh}, only=answered)
    return tuple(
        [Pair(q, a, "cloze", [doc_id], [chunk_id], slot=slot) for q, a, slot in found] for found in (fresh, held)
    )


def _sentence_pairs(
    writer: Writer, sent, u: _Unit, d: Document, chunk_id: str, predicates: list[Predicate], stats: dict
) -> list[Pair]:
    out: list[Pair] = []
    extra_date = u.passage.date if u.passage.kind == "log" else None
    writer.last_clauses = ClauseReader(writer).clauses(sent)
    for cl in writer.last_clauses:
        stats["clauses"] += 1
        qas = writer.pairs(cl) + _code_in_phrase(writer, cl) + _support_pairs(writer, cl)
        obj = next((a for a in cl.core if a.role == "dobj"), None)
        if obj is not None:
            qas += symmetric_reverse(cl, cl.subject_answer, writer.answer(obj)[0], writer)
        if extra_date:
            qas += _dated(writer, cl, extra_date)
        indirect = bool(writer.subst) and any(t.i in writer.subst for t in cl.subj.toks)
        reader = cl.subject_answer == "you"  # "you can create X": asked in the document ("In Truststore, ...")
        for qa in qas:
            p = Pair(
                qa.question,
                qa.answer,
                "indirect" if indirect else "direct",
                [d.doc_id],
                [chunk_id],
                short=qa.variant != "full",
                slot=_slot(qa),
            )
            out.append(with_document(p, writer.ctx.topic, always=True) if reader else p)
        predicates += _predicates(writer, cl, d.doc_id, chunk_id)
        writer.ctx.saw_subject(cl.subject_answer, writer.is_person(cl.subj.head))
    more = writer.np_pairs(sent)
    more += InSitu(writer).pairs(sent, {normalize(p.answer) for p in out} | {normalize(q.answer) for q in more})
    more += _instruction_pairs(writer, sent) + _relation_pairs(writer, writer.last_clauses)
    found = noun_phrase_pairs(sent, writer.render, writer.is_person, writer.ctx.topic)
    more += [QA(q, a, f"np|{name}|{normalize(q)}", "full") for q, a, name in found]
    more += [QA(q, a, slot, "full") for q, a, slot in version_floor_pairs(sent.text, writer.ctx.topic)]
    for qa in more:
        out.append(
            Pair(qa.question, qa.answer, "direct", [d.doc_id], [chunk_id], short=qa.variant != "full", slot=_slot(qa))
        )
    return out


_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")
_RECURRING = re.compile(r"(?<=\w)(?<!\bof),?\s+(?:every|each)\s+(?:year|month|week|day|morning|evening|night)$")
_TRAILING_ADDRESS = re.compile(r"(?<=[A-Za-z])\s*,?\s+[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")


def minimal_answer(answer: str) -> str:
    """A short answer without its parenthetical ("Priya Nair (joined 2019)" -> "Priya Nair"): the statement
    reflection of the same sentence carries that context."""
    short = _PARENTHETICAL.sub("", answer).strip(" ,;")
    short = _TRAILING_ADDRESS.sub("", short) if _TRAILING_ADDRESS.search(short) else short  # "Ann Lee a@b.org"
    short = _RECURRING.sub("", short)  # "31 October every year" -> "31 October": when, not how often
    return short if short else answer


def _code_in_phrase(writer: Writer, cl) -> list[QA]:
    """ "decode() accepts a `display=True` argument that ...": the clause asks for "a display=True argument"; the
    code token alone is the answer to "Which argument does decode() accept?"."""
    out = []
    for a in cl.core + cl.mods:
        head = a.head
        codes = [c for c in head.children if is_placeholder(c.text) and c.i < head.i]  # "a `display=True` argument"
        if len(codes) != 1 or head.pos_ != "NOUN" or a.role not in ("dobj", "prep"):
            continue
        code = codes[0].text
        which = f"which {head.lemma_.lower()}"
        front = f"{a.prep_word.capitalize()} {which}" if a.role == "prep" and a.prep_word else which.capitalize()
        q = writer.inverted(cl, front, a, short=False)
        if q:
            out.append(QA(q, code, f"code|{cl.verb.lemma_}|{cl.subject_text}|{head.lemma_}", "full"))
    return out


_OFFERS = {"have", "add", "provide", "include", "offer", "gain", "bring", "get", "feature", "introduce"}
_DO_FORM = {"VBD": "did", "VBZ": "does", "VBP": "do"}


def _support_pairs(writer: Writer, cl) -> list[QA]:
    """ "HTTPX has support for both HTTP/1.1 and HTTP/2", "Version 3 adds support for Python 3.12": what is
    supported is the fact; the clause alone asks for "support for both ..." ("What does HTTPX have?"). Asked in the
    text's verb ("What does HTTPX have support for?") and, where the verb offers it (not "drops"), as the verb
    "support" ("What does HTTPX support?")."""
    obj = next((a for a in cl.core if a.role == "dobj" and a.head.lemma_.lower() == "support"), None)
    do = _DO_FORM.get(cl.tag)
    if obj is None or cl.aux or cl.neg or cl.passive or do is None:
        return []
    prep = next((c for c in obj.head.children if c.dep_ == "prep" and c.lower_ == "for"), None)
    pobj = next((g for g in prep.children if g.dep_ == "pobj"), None) if prep is not None else None
    if pobj is None:
        return []
    toks = [t for t in pobj.subtree if not (t.lower_ in ("both", "either") and t.i < pobj.i)]  # the whole list
    answer = writer.render(sorted(toks, key=lambda t: t.i), lower_first=False)
    if not answer:
        return []
    subj, verb = cl.subject_text, cl.verb.lemma_.lower()
    slot = f"support|{normalize(subj)}|{normalize(answer)}"
    out = [QA(f"What {do} {subj} {verb} support for?", answer, slot, "full")]
    if verb in _OFFERS:
        out.append(QA(f"What {do} {subj} support?", answer, slot, "relation"))
    return out


def _code_token(tok) -> str | None:
    """The one code token of the phrase headed by tok ("the --x configure option" -> --x), if it holds exactly one."""
    codes = [t for t in phrase_tokens(tok) if is_placeholder(t.text)]
    return codes[0].text if len(codes) == 1 else None


def _minimal_phrase(writer: Writer, tok) -> str:
    """An argument as an answer: a code token alone, else without its article."""
    toks = sorted(phrase_tokens(tok), key=lambda t: t.i)
    return _code_token(tok) or re.sub(r"^(?:the|a|an)\s+", "", writer.render(toks), flags=re.I)


def _instruction_pairs(writer: Writer, sent) -> list[QA]:
    """Instructions ("Send bug reports to X"), through the declared constructions."""

    def category(text: str) -> str | None:
        last = text.split()[-1].lower() if text.split() else ""
        return writer.index.category(text) or (last if last in CATEGORY_NOUNS else None)

    writer.resolve_pronouns(sent)  # "Install it with ...": "it" is the document's topic
    found = imperative_pairs(sent, writer.render, category, lambda tok: _minimal_phrase(writer, tok))
    return [QA(q, a, f"instruction|{name}|{normalize(q)}", "full") for q, a, name in found]


def _relation_pairs(writer: Writer, clauses) -> list[QA]:
    """Facts first: each clause's typed facts (facts.py), asked in the common relation words (phrasings.py)."""
    return fact_questions([f for cl in clauses for f in clause_facts(writer, cl, _code_token)])


def _name_in_full(pairs: list[Pair], names: dict[str, str]) -> None:
    """An answer that is a bare surname gets the full name the document gave it ("Peel" -> "Robert Peel")."""
    for p in pairs:
        full = names.get(p.answer.lower()) if " " not in p.answer else None
        if full and full.lower() not in p.question.lower():
            p.answer = full


def _slot(qa: QA) -> str:
    """Only a phrasing that leaves context out ("Where did X serve?") can clash with another fact's answer; a full
    question is judged by its own text (finalize compares both)."""
    return qa.slot if qa.variant in ("short", "stranded") else ""


def _dated(writer: Writer, cl, date: str) -> list[QA]:
    """A log line's date is when its event happened: "When did Maren approve the budget?" -> its date."""
    others = writer._others(cl, None, False)
    slot = f"logdate|{cl.verb.lemma_}|{cl.subject_text}|{others}"
    q = writer.inverted(cl, "When", None, short=False)
    out = [QA(q, date, slot, "full")] if q else []
    q2 = writer.inverted(cl, "On what date", None, short=False)
    if q2:
        out.append(QA(q2, date, slot, "date"))
    return out


def _predicates(writer: Writer, cl, doc_id: str, chunk_id: str) -> list[Predicate]:
    """Predicates about named entities, for entity / cross-document / consolidated questions."""
    out = []
    if not cl.subject_answer or not (writer._named(cl.subj) or cl.subj.head.i in writer.subst):
        return out
    who = "Who" if writer._who_like(cl.subj.head) else None
    pred = f"{writer.subject_form(cl)} {writer._others(cl, None, False)}".strip()
    if 2 <= len(pred.split()) <= 14:
        out.append(Predicate(cl.subject_answer, pred, doc_id, chunk_id, who or writer._subject_wh(cl)))
    obj = next((a for a in cl.core if a.role == "dobj"), None)
    pf = writer.passive_form(cl)
    if obj is not None and pf and writer._named(obj):
        name = writer.answer(obj)[0]
        pred = f"{pf} by {cl.subject_text} {writer._others(cl, obj, False)}".strip()
        if len(pred.split()) <= 14:
            wh = (
                "Who"
                if writer.is_person(obj.head)
                else (f"Which {writer.index.category(name)}" if writer.index.category(name) else "What")
            )
            out.append(Predicate(name, " ".join(pred.split()), doc_id, chunk_id, wh))
    return out


_LIFE = {
    "born_date": ("When was {s} born", "What is the date of birth of {s}", "{s} was born when"),
    "died_date": ("When did {s} die", "What is the date of death of {s}", "{s} died when"),
    "born_place": ("Where was {s} born", "What is the place of birth of {s}", "{s} was born where"),
    "died_place": ("Where did {s} die", "What is the place of death of {s}", "{s} died where"),
}
_LIFE_YEAR = {
    "born_date": ("In what year was {s} born", "{s} was born in what year"),
    "died_date": ("In what year did {s} die", "{s} died in what year"),
}


def _life_pairs(f: LifeFact, d: Document, chunk_id: str) -> list[Pair]:
    """Birth and death facts; a place "Appleton, Wisconsin" is also asked as "Where in Wisconsin ...?"."""
    out = []
    town, _, region = f.value.partition(", ")
    if f.kind.endswith("place") and region and town[:1].isupper() and region[:1].isupper():
        verb = "was {s} born" if f.kind == "born_place" else "did {s} die"
        out.append(
            Pair(
                f"Where in {region} {verb.format(s=f.subject)}?",
                town,
                "direct",
                [d.doc_id],
                [chunk_id],
                slot=f"life-town|{f.kind}|{f.subject}",
            )
        )
    out += [
        Pair(
            t.format(s=f.subject) + "?",
            f.value,
            "direct",
            [d.doc_id],
            [chunk_id],
            short=k > 0,
            slot=f"life|{f.kind}|{f.subject}",
        )
        for k, t in enumerate(_LIFE[f.kind])
    ]
    year = year_of(f.value)
    if year and f.kind in _LIFE_YEAR:
        out += [
            Pair(
                t.format(s=f.subject) + "?",
                year,
                "direct",
                [d.doc_id],
                [chunk_id],
                short=k > 0,
                slot=f"life-year|{f.kind}|{f.subject}",
            )
            for k, t in enumerate(_LIFE_YEAR[f.kind])
        ]
    return out


def _field_pairs(f: Field, d: Document, chunk_of: _ChunkFinder, t: str) -> list[Pair]:
    """An attribute (table cell, "Key: value", front matter) asked three ways, and a unique table value asked
    back for its row. `t`: the document's name (mentions.topic_of)."""
    chunk_id = chunk_of(f"{f.subject} {f.value}")
    attr, subj, val = f.attribute, f.subject, f.value
    if f.kind == "amount":
        how = "How much" if any(ch.isalpha() for ch in val) or "%" in val else "How many"
        qs = [f"{how} {attr} does {subj} list?", f"{how} {attr} does {subj} call for?"]
        qs.append(f"What amount of {attr} does {subj} list?")
        slot = f"amount|{subj}|{attr}"
        return [Pair(q, val, "direct", [d.doc_id], [chunk_id], short=k > 0, slot=slot) for k, q in enumerate(qs)]
    if f.kind == "role":
        return _role_pairs(f, d.doc_id, chunk_id)
    header = ""  # "Depart", "Due": a header that is a verb or a state, no noun ("the depart of Sun 18 May")
    if _value_kind(val) and (_header_verb(attr) or attr.lower() in _STATE_HEADERS):
        header, attr = attr.lower(), f"{attr} {_value_kind(val)}"  # "the depart time of Sun 18 May"
    plural = attr.endswith("s") and not attr.endswith(("ss", "us", "is"))
    counted = plural and _COUNT.match(val) and " " not in attr
    if counted:  # "files=1843": the number of files, not "the files is"
        attr = f"number of {attr}"
    the = "" if attr.endswith("s") and f.kind == "frontmatter" else "the "
    be = "are" if "," in val and plural and not counted else "is"  # "12,400" is one count
    titled = f.kind == "table" and t and t != subj
    if titled:  # a row ("Gifts", "Sun 18 May") means nothing without its table: every question names the document
        qs = [
            f"In {t}, what {be} the {attr} of {subj}?",
            f"What {be} the {attr} of {subj} in {t}?",
            *([f"In {t}, what {be} {possessive(subj)} {attr}?"] if _possessable(subj) else []),
            f"According to {t}, what {be} the {attr} of {subj}?",
        ]
    else:
        has = f"{subj} has what {attr}?"
        qs = [
            f"What {be} {the}{attr} of {subj}?",
            f"What {be} {possessive(subj)} {attr}?",
            re.sub("^the ", "The ", has),
        ]
        if attr in _DURATION_KEYS:  # a log event's "duration=70m18s": "How long did the backup job take?"
            qs.append(f"How long did {subj} take?")
    qs += _when_questions(attr, subj, val, be, t if titled else "", header if header in _STATE_HEADERS else "")
    slot = f"field|{subj}|{attr}"
    out = [Pair(q, val, "direct", [d.doc_id], [chunk_id], short=k > 0, slot=slot) for k, q in enumerate(qs)]
    for a in f.aliases:  # its own slot: "Mon 19 May" names two rows, "Ferry Port Ossary → Skellan Island" one
        if titled:  # the row by its name cell: "the depart of Ferry Port Ossary → Skellan Island"
            aqs = [f"In {t}, what {be} the {attr} of {a}?", f"What {be} the {attr} of {a} in {t}?"]
            aqs += _when_questions(attr, a, val, be, t, header)
        else:  # the record by what it is: "the accountant's email"
            aqs = [f"What {be} the {attr} of {_described(a)}?", f"What {be} {possessive(_described(a))} {attr}?"]
            aqs += [f"How long did {_described(a)} take?"] if attr in _DURATION_KEYS else []
            aqs += _when_questions(attr, _described(a), val, be, "")
        aslot = f"field|{a}|{attr}"
        out += [Pair(q, val, "direct", [d.doc_id], [chunk_id], short=True, slot=aslot) for q in aqs]
    if f.kind == "table" and f.unique and f.key_column:
        rslot = f"field-rev|{attr}|{val}"
        where = f" in {d.title}" if titled else ""
        rev = [
            f"Which {f.key_column} has the {attr} {val}{where}?",
            f"The {attr} {val} belongs to which {f.key_column}{where}?",
        ]
        out += [Pair(q, subj, "indirect", [d.doc_id], [chunk_id], short=k > 0, slot=rslot) for k, q in enumerate(rev)]
    return out


# the verb a role is done with: "Who chaired the sync?" is how a reader asks for its chair
_ROLE_VERBS = {
    "chair": "chaired",
    "lead": "led",
    "host": "hosted",
    "moderator": "moderated",
    "facilitator": "facilitated",
    "organiser": "organised",
    "organizer": "organized",
    "presenter": "presented",
}


def _role_pairs(f: Field, doc_id: str, chunk_id: str) -> list[Pair]:
    """ "Attendees: Odile Brakspear (chair), ...": who had the role, in the role's noun and verb, and back."""
    role, subj, who = f.attribute, f.subject, f.value
    qs = [f"Who is the {role} of {subj}?", f"In {subj}, who is the {role}?", f"Who was the {role} of {subj}?"]
    if role in _ROLE_VERBS:
        qs.append(f"Who {_ROLE_VERBS[role]} {subj}?")
    out = [
        Pair(q, who, "direct", [doc_id], [chunk_id], short=k > 0, slot=f"role|{subj}|{role}") for k, q in enumerate(qs)
    ]
    back = [f"What is {possessive(who)} role in {subj}?", f"What role does {who} have in {subj}?"]
    out += [Pair(q, role, "indirect", [doc_id], [chunk_id], short=True, slot=f"role-of|{subj}|{who}") for q in back]
    return out


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY = r"(?:(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)[a-z]*,?\s+)?"
_DATE_VALUE = re.compile(
    rf"^{_DAY}(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}})$"
)
_TIME_VALUE = re.compile(r"^\d{1,2}[:.]\d{2}(?:\s?[ap]\.?m\.?)?$", re.I)


_DURATION_KEYS = {"duration", "elapsed", "runtime", "wall time", "took"}
_COUNT = re.compile(r"^\d{1,3}(?:,\d{3})*$|^\d+$")  # a bare count: "1843", "12,400"
_STATE_HEADERS = {"due", "done", "open", "closed", "booked", "paid"}  # a header that says what state a row is in


def _value_kind(val: str) -> str | None:
    return "time" if _TIME_VALUE.match(val) else "date" if _DATE_VALUE.match(val) else None


def _header_verb(attr: str) -> str | None:
    """ "Depart", "Arrive": a column header that is a verb and no noun (asked "What time does X depart?")."""
    w = attr.lower()
    return w if _bare_verb(w) and not getAllLemmas(w, upos="NOUN") else None


def _when_questions(attr: str, subj: str, val: str, be: str, titled: str, header: str = "") -> list[str]:
    """A date or a time is asked "when" / "at what time", as people ask for one ("When is the end date of the
    lease?"); a header that is a verb is asked with it ("What time does the ferry depart?", only for a row that
    has a name), one that is a state with its adjective ("When is the guide paid?"). `titled`: the document that
    names a table's rows."""
    kind = _value_kind(val)
    if kind is None:
        return []
    where = f"In {titled}, " if titled else ""
    wh = "at what time" if kind == "time" else "when"
    if header in _STATE_HEADERS:
        out = [f"{where}{wh} {be} {subj} {header}?"]
    elif header:
        out = [f"{where}{'what time' if kind == 'time' else 'when'} does {subj} {header}?"]
    elif kind == "time" and attr.endswith(" time"):  # "at what time is the start time of ...": asked already
        out = []
    else:
        out = [f"{where}{wh} {be} the {attr} of {subj}?"]
    return [q[:1].upper() + q[1:] for q in out]


_FUNCTION_WORDS = {"a", "an", "the", "of", "and", "in", "on", "for", "to", "at", "by", "with"}


def _possessable(subj: str) -> bool:
    """A row named by a name ("A Grammar of Small Engines") or a few words takes "'s"; one named by an action
    ("Get finance sign-off on the new cutover date") does not ("... cutover date's owner")."""
    words = subj.split()
    return len(words) <= 3 or all(w[:1].isupper() or not w[:1].isalpha() or w in _FUNCTION_WORDS for w in words)


def _described(what: str) -> str:
    """ "accountant" -> "the accountant", "GP" -> "the GP"; a name ("Dunmarren Harriers") or a possessive
    ("Aoife's football coach") takes no article."""
    words = what.split()
    name = len(words) > 1 and all(w[:1].isupper() or not w[:1].isalpha() for w in words)
    return what if name or words[0].endswith(("'s", "’s")) else f"the {what}"


def _list_pairs(items: list[_Unit], chunk_of: _ChunkFinder) -> list[Pair]:
    """Bullets that are no sentences ("- penicillin") are the items of their section: asked as one list."""
    u0 = items[0]
    heading, title = u0.passage.heading or u0.doc.title, u0.doc.title
    values = [u.text.rstrip(".;,") for u in items if 1 <= len(u.text.split()) <= 8]
    if not values or len(values) > 12:
        return []
    answer = ", ".join(values)
    d = u0.doc
    chunk_id = chunk_of(values[0])
    slot = f"list|{heading}"
    qs = [f"What is listed under {heading}?", f"Which items does the {heading} section list?"]
    if title and title.lower() not in heading.lower():
        qs.append(f"What is listed under {heading} in {title}?")
    return [Pair(q, answer, "direct", [d.doc_id], [chunk_id], short=k > 0, slot=slot) for k, q in enumerate(qs)]
