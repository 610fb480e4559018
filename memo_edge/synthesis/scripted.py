"""A scripted GENERATOR: answers the pipeline's prompts with valid JSON built by the extractive rules.

It stands in for an LLM behind a real OpenAI-compatible test server (tests/openai_server.py) in the tests and the
throughput benchmark: replies are deterministic functions of the prompt, so two runs can be compared call by call.
"""

from __future__ import annotations

import json
import re

from ..corpus import content_id
from ..records import Document
from .extractive import generate

_TEXT = re.compile(r'Text:\n"""\n(.*?)\n"""', re.S)
_SOURCE = re.compile(r'Source text:\n"""\n(.*?)\n"""', re.S)
_HEADER = re.compile(r"Document title: (.*)\nDocument date: (.*)")
_QA = re.compile(r"^Question: (.*)\nAnswer: (.*)$", re.M)
_PAIR = re.compile(r"^(\d+)\. Q: (.*?) A: (.*)$", re.M)
_DOC = re.compile(r"^\[(D\d+)\] (.*?) \(date: (.*?)\)\n(.*?)(?=\n\n\[D\d+\] |\Z)", re.S | re.M)
_BAD_START = re.compile(r"^(He|She|It|They|This|These|Its|His|Her)\b")


def _user_prompt(body: dict) -> str:
    users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
    return users[0] if users else ""


def _doc(title: str, text: str, date: str | None) -> Document:
    return Document(
        doc_id=content_id(title, text), title=title, text=text, date=None if date in (None, "unknown") else date
    )


def _pairs_for(title, text, date):
    return generate([_doc(title, text, date)]).pairs


def scripted_reply(body: dict) -> str:
    prompt = _user_prompt(body)
    header = _HEADER.search(prompt)
    title, date = (header.group(1), header.group(2)) if header else ("Untitled", None)
    if '"qa_pairs"' in prompt:
        text = _TEXT.search(prompt).group(1)
        want = "direct" if "Task (direct facts)" in prompt else "indirect"
        pairs = [p for p in _pairs_for(title, text, date) if p.type == want and not p.short][:8]
        return json.dumps({"qa_pairs": [{"question": p.question, "answer": p.answer} for p in pairs]})
    if '"consolidated_qa_pairs"' in prompt:
        items = _PAIR.findall(prompt)
        out = []
        for i in range(0, len(items) - 1, 2):
            (n1, q1, a1), (n2, q2, a2) = items[i], items[i + 1]
            out.append(
                {
                    "question": f"{q1.rstrip('?')}, and {q2[0].lower() + q2[1:]}",
                    "answer": f"{a1}; {a2}",
                    "combined_from": [int(n1), int(n2)],
                    "commonality": "same document",
                    "combination_size": 2,
                }
            )
        return json.dumps({"consolidated_qa_pairs": out[:4]})
    if '"is_self_contained"' in prompt:
        q, _ = _QA.search(prompt).groups()
        ok = not _BAD_START.match(q) and "this year" not in q.lower()
        return json.dumps({"is_self_contained": ok})
    if "Task (repair)" in prompt:
        q, a = _QA.search(prompt).groups()
        q = _BAD_START.sub(title, q).replace("this year", f"in {str(date)[:4]}")
        return json.dumps({"question": q, "answer": a})
    if '"entity_surfacing_qa_pairs"' in prompt:
        text = _TEXT.search(prompt).group(1)
        pairs = [p for p in _pairs_for(title, text, date) if p.type == "entity"][:4]
        return json.dumps(
            {
                "entity_surfacing_qa_pairs": [
                    {
                        "entity": p.answer,
                        "question": p.question,
                        "answer": p.answer,
                        "complexity": "two",
                        "facts_used": [p.question],
                    }
                    for p in pairs
                ]
            }
        )
    if '"crossdoc_qa_pairs"' in prompt:
        docs = [(alias, _doc(t, txt.strip().removesuffix(" ..."), d)) for alias, t, d, txt in _DOC.findall(prompt)]
        alias_of = {d.doc_id: a for a, d in docs}
        pairs = [p for p in generate([d for _, d in docs]).pairs if p.type == "crossdoc"][:4]
        return json.dumps(
            {
                "crossdoc_qa_pairs": [
                    {
                        "type": "converging",
                        "question": p.question,
                        "answer": p.answer,
                        "source_doc_ids": [alias_of[i] for i in p.doc_ids if i in alias_of],
                    }
                    for p in pairs
                ]
            }
        )
    return "I cannot help with that."
