"""The lenient reader: what each stage's reply means, read by what it contains.

Every reply ends up here, whichever way it was read: one that is exactly schema-valid (replies.schema_reply) and
one found in prose, fences or broken JSON (memo_edge.jsonreply). A schema-valid reply holds only on-list values
(`decision` is an enum there), so what follows matters for unconstrained executives: renamed fields, strings for
objects, and off-list `decision` words, mapped by the intent they state when the other fields make it clear. What
no schema can say (a non-empty list, an answer to go with "answer") is checked here for both.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from ..jsonreply import ReplyError
from .quoting import shown
from .replies import PinningReply, SeekingReply

ParseError = ReplyError  # a reply the executive is asked to repair (memo_edge.jsonreply's error, one type)


def _as_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "yes", "1")
    return bool(v)


def _questions(v: Any) -> list[dict]:
    """sub_questions / grounding_questions: strings or {"question", "candidate"?} objects -> normalized dicts."""
    if v is None:
        return []
    if isinstance(v, (str, dict)):
        v = [v]
    if not isinstance(v, list):
        raise ParseError("questions must be a list")
    out = []
    for item in v:
        if isinstance(item, str) and item.strip():
            out.append({"question": item.strip(), "candidate": None})
        elif isinstance(item, dict):
            q = item.get("question") or item.get("q") or item.get("sub_question")
            if isinstance(q, str) and q.strip():
                c = item.get("candidate") or item.get("entity")
                out.append(
                    {"question": q.strip(), "candidate": c.strip() if isinstance(c, str) and c.strip() else None}
                )
    return out


def _candidates(v: Any) -> list[dict]:
    out = []
    for item in v if isinstance(v, list) else []:
        if isinstance(item, str) and item.strip():
            out.append({"name": item.strip(), "evidence": ""})
        elif isinstance(item, dict):
            name = item.get("name") or item.get("entity") or item.get("candidate")
            if isinstance(name, str) and name.strip():
                out.append({"name": name.strip(), "evidence": str(item.get("evidence", ""))[:300]})
    return out


def _notes(v: Any) -> list[str]:
    items = v if isinstance(v, list) else [v] if v else []
    return [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in items if x][:20]


def _first(obj: dict, *keys: str) -> Any:
    """The first present, non-empty value among synonymous keys (executives rename fields)."""
    for k in keys:
        v = obj.get(k)
        if v not in (None, "", [], {}):
            return v
    return None


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, (dict, list)):
        return None
    t = str(v).strip()
    return t or None


# On-list `decision` values are the reply models' enums; a schema-constrained executive writes nothing else.
PINNING_DECISIONS = get_args(PinningReply.model_fields["decision"].annotation)  # continue, exhaust
SEEKING_DECISIONS = get_args(SeekingReply.model_fields["decision"].annotation)  # continue, answer

# What an unconstrained executive writes instead, by the intent it states; the reply's other fields decide what is
# done with it.
_INTENT = (
    dict.fromkeys(
        (
            "answer answered final final_answer done finish finished complete completed stop confirm confirmed "
            "found resolve resolved"
        ).split(),
        "answer",
    )
    | dict.fromkeys(
        "continue ask more next search probe explore continue_asking keep_going investigate query".split(), "continue"
    )
    | dict.fromkeys("exhaust exhausted give_up giveup none nothing no_more stuck skip".split(), "exhaust")
)


def _decision_word(v: Any) -> str:
    return "_".join(str(v or "").strip().lower().replace("-", " ").split())


def parse_grounding(obj: dict) -> dict:
    qs = _questions(_first(obj, "grounding_questions", "questions", "sub_questions"))
    if not qs:
        raise ParseError("'grounding_questions' must be a non-empty list of {\"question\": ...}")
    return {"grounding_questions": qs}


def parse_pinning(obj: dict) -> dict:
    entity = _text(_first(obj, "confirmed_entity", "entity"))
    confirmed = _as_bool(obj.get("entity_confirmed", False)) and entity is not None
    subs = _questions(_first(obj, "sub_questions", "questions"))
    answer = _text(_first(obj, "final_answer", "answer"))
    word = _decision_word(obj.get("decision"))
    fixed = []
    intent = _INTENT.get(word)
    if word in PINNING_DECISIONS:
        decision = word
    elif intent == "answer" and entity is not None:
        # "decision": "answer" with a named entity: the executive has pinned it (the rejected reply)
        decision, confirmed = "continue", True
    elif intent in ("answer", "exhaust"):
        decision = "exhaust"  # done asking about the entity, none confirmed: move on to answer seeking
    elif intent == "continue" or confirmed or subs:
        decision = "continue"
    elif answer:
        decision = "exhaust"
    else:
        raise ParseError(
            f'\'decision\' must be "continue" or "exhaust" (got {shown(obj.get("decision"))}), with '
            "sub_questions, or entity_confirmed with confirmed_entity"
        )
    if decision == "continue" and not (confirmed or subs):
        decision = "exhaust"  # "continue" with nothing to ask and nothing confirmed: done pinning
    if word and word != decision:
        fixed.append(f"decision {shown(obj.get('decision'))} read as {'confirm' if confirmed else decision!r}")
    out = {
        "entity_confirmed": confirmed,
        "confirmed_entity": entity,
        "sub_questions": subs,
        "decision": decision,
        "candidates": _candidates(obj.get("candidates")),
        "known_facts": _notes(obj.get("known_facts")),
        "answer": answer,
        "fixed": fixed,
    }
    return out


def parse_seeking(obj: dict) -> dict:
    word = _decision_word(obj.get("decision"))
    intent = _INTENT.get(word)
    subs = _questions(_first(obj, "sub_questions", "questions"))
    answer = _text(_first(obj, "answer", "final_answer"))
    if word == "answer" and answer:
        decision = "answer"
    elif word == "continue" and subs:
        decision = "continue"
    elif answer and (intent in ("answer", "exhaust") or not subs):
        decision = "answer"  # a usable answer and nothing (else) to ask
    elif subs:
        decision = "continue"  # e.g. "answer" without an answer but with questions, or an unknown word
    elif word == "answer":
        raise ParseError("decision \"answer\" needs a non-empty 'answer'")
    elif word == "continue":
        raise ParseError("decision \"continue\" needs non-empty 'sub_questions'")
    else:
        raise ParseError(
            f'\'decision\' must be "continue" or "answer" (got {shown(obj.get("decision"))}), with '
            "'sub_questions' or 'answer'"
        )
    fixed = [f"decision {shown(obj.get('decision'))} read as {decision!r}"] if word != decision else []
    return {
        "decision": decision,
        "sub_questions": subs,
        "answer": answer if decision == "answer" else None,
        "fixed": fixed,
    }


def parse_final(obj: dict) -> dict:
    fa = _text(_first(obj, "final_answer", "answer"))
    if fa is None:
        raise ParseError("'final_answer' must be a non-empty string")
    return {"final_answer": fa, "justification": str(obj.get("justification") or "").strip()}
