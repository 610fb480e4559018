"""An optional LLM judge for `memo eval`: does a prediction mean the same as the gold answer?

EM/F1 punish correct answers worded differently ("JFK" vs "John F. Kennedy"); the MeMo paper therefore also
reports an LLM judge. Any OpenAI-compatible chat endpoint works; one request per prediction, sent concurrently.
"""

from __future__ import annotations

import asyncio
import string
from collections import defaultdict
from collections.abc import Sequence

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .errors import MemoError
from .openai_client import ChatEndpoint, ChatError
from .records import EvalItem

# Our own wording. A one-word verdict keeps parsing trivial and the request cheap; the instructions spell out
# what "same meaning" covers, so that the judge neither rewards hedging nor punishes harmless paraphrase.
SYSTEM = (
    "You grade short answers to quiz questions. You get a question, its reference answer (possibly with other "
    "accepted forms of it) and a candidate answer. Decide whether the candidate answer says the same thing as "
    "the reference answer in the context of the question. Differences in spelling, capitalisation, articles, "
    "abbreviations, word order or harmless extra detail do not matter. A candidate that names something else, "
    "is vaguer than the question asks for, or lists several alternatives is not the same. "
    "Reply with exactly one word: yes or no."
)
MAX_TOKENS = 8  # room for "Yes." plus a stray token; the verdict is the first word


class JudgeConfig(BaseModel):
    """The LLM judge of `memo eval` (off unless judge_url is set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    judge_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1; "
        "comma-separate several) of an LLM that also judges each answer "
        "against the gold one (yes/no); adds a judge accuracy column.",
    )
    judge_model: str = Field("default", description="Model name sent to the judge endpoint.")
    judge_api_key_env: str = Field(
        "OPENAI_API_KEY", description="Environment variable holding the judge endpoint's API key."
    )
    judge_concurrency: int = Field(8, ge=1, description="Judge requests in flight at once.")
    judge_timeout_s: float = Field(60.0, gt=0, description="Seconds per judge request (the whole reply).")
    judge_retries: int = Field(4, ge=0, le=20, description="Retries per judge request on 429/5xx/timeouts.")

    def endpoint(self) -> ChatEndpoint | None:
        """The judge's endpoint, or None when no judge is configured; a malformed URL fails here."""
        if not self.judge_url:
            return None
        return make_endpoint(
            self.judge_url, self.judge_model, self.judge_api_key_env, self.judge_timeout_s, self.judge_retries
        )


def messages(item: EvalItem, predicted: str) -> list[dict]:
    """The chat for one prediction: the system rules, then the question, gold answer(s) and candidate."""
    aliases = [a for a in item.answer_aliases if a and a != item.answer]
    lines = [f"Question: {item.question}", f"Reference answer: {item.answer}"]
    if aliases:
        lines.append(f"Also accepted: {'; '.join(aliases)}")
    lines += [
        f"Candidate answer: {predicted.strip() or '(empty)'}",
        "",
        "Does the candidate answer mean the same as the reference answer? Reply yes or no.",
    ]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def parse_verdict(reply: str) -> bool | None:
    """True for yes, False for no, None when the first word is neither (models add dots, bold, capitals)."""
    words = (reply or "").split()
    if not words:
        return None
    return {"yes": True, "no": False}.get(words[0].strip(string.punctuation).lower())


def make_endpoint(
    url: str,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 60.0,
    max_retries: int = 4,
) -> ChatEndpoint:
    """Comma-separated URLs are spread round-robin, as for --executive; a malformed URL fails here, before the
    (slow) answering starts."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    return ChatEndpoint(
        urls=urls, model=model or "default", api_key_env=api_key_env, timeout_s=timeout_s, max_retries=max_retries
    )


async def _ask_all(endpoint: ChatEndpoint, chats: list[list[dict]], concurrency: int) -> list[str]:
    # One connection pool for all requests; the semaphore bounds requests in flight so a local server is not
    # flooded. A TaskGroup cancels the rest as soon as one request has failed for good (no point waiting).
    sem = asyncio.Semaphore(max(1, concurrency))
    async with httpx.AsyncClient(timeout=endpoint.timeout_s) as client:

        async def one(msgs: list[dict]) -> str:
            async with sem:
                return await endpoint.achat(msgs, temperature=0.0, max_tokens=MAX_TOKENS, client=client)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(m)) for m in chats]
    return [t.result() for t in tasks]


def _replies(endpoint: ChatEndpoint, chats: list[list[dict]], concurrency: int) -> list[str]:
    """Run the requests; any failure becomes one MemoError line naming the judge URL (exit code 2 in the CLI)."""
    if _loop_running():  # asyncio.run() would fail with a confusing RuntimeError
        raise MemoError("the LLM judge must be called outside a running event loop (use asyncio.to_thread)")
    try:
        return asyncio.run(_ask_all(endpoint, chats, concurrency))
    except ExceptionGroup as eg:  # the TaskGroup wraps the first failure
        err = eg.exceptions[0]
        if not isinstance(err, (ChatError, httpx.HTTPError, httpx.InvalidURL)):
            raise
        detail = " ".join(str(err).split())  # server error bodies may span lines
        raise MemoError(f"judge {', '.join(endpoint.urls)}: {detail}") from None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def judge_predictions(
    endpoint: ChatEndpoint, items: Sequence[EvalItem], predictions: Sequence[dict], concurrency: int = 8
) -> dict:
    """Ask the judge about every prediction; sets row["judge"] (bool) in place and returns the summary."""
    chats = [messages(it, str(p.get("predicted_answer", ""))) for it, p in zip(items, predictions)]
    verdicts = [parse_verdict(r) for r in _replies(endpoint, chats, concurrency)]
    per_hop: dict[int, list[bool]] = defaultdict(list)
    for it, pred, v in zip(items, predictions, verdicts):
        pred["judge"] = v is True  # an unparseable reply is not a "yes"; it is counted apart below
        per_hop[it.hops].append(pred["judge"])
    ok = [v is True for v in verdicts]
    return {
        "judge_accuracy": sum(ok) / max(len(ok), 1),
        "judge_model": endpoint.model,
        "unparsed": sum(v is None for v in verdicts),
        "per_hop": {str(h): {"n": len(v), "judge_accuracy": sum(v) / len(v)} for h, v in sorted(per_hop.items())},
    }


def judge(
    items: Sequence[EvalItem],
    predictions: Sequence[dict],
    url: str,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 8,
    timeout_s: float = 60.0,
    max_retries: int = 4,
) -> dict:
    """Convenience: make the endpoint and judge in one call."""
    endpoint = make_endpoint(url, model, api_key_env, timeout_s, max_retries)
    return judge_predictions(endpoint, items, predictions, concurrency)
