"""`memo eval`: answer EM/F1 (official MuSiQue normalization), overall and per hop count.

Executives: `none` (the memory answers the question directly), `oracle` (follows each question's gold
decomposition, substituting #1, #2 with the memory's own earlier answers: measures the memory's multi-hop recall
without a large LLM), or anything `memo ask --executive` accepts (an OpenAI-compatible URL, `local:PACK`).
With a judge URL, an OpenAI-compatible LLM also grades every answer (memo_edge/judge.py), as in the MeMo paper.
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import MemoError
from .judge import JudgeConfig, judge_predictions
from .metrics import best_em_f1
from .progress import track
from .protocol import ProtocolConfig
from .records import EvalItem
from .runtime.ask import AskService
from .runtime.config import ExecutiveConfig, LoadConfig
from .runtime.executives import from_config
from .runtime.memory import Memory

_REF = re.compile(r"#(\d+)")


def substitute_refs(question: str, answers: Sequence[str]) -> str:
    """Replace #k with the k-th earlier answer (1-based), as in MuSiQue's question_decomposition."""

    def sub(m: re.Match) -> str:
        k = int(m.group(1))
        return answers[k - 1].strip().rstrip(".") if 1 <= k <= len(answers) else m.group(0)

    return _REF.sub(sub, question)


def oracle_answers(items: Sequence[EvalItem], answer_batch: Callable[[list[str]], list[str]]) -> list[dict]:
    """Walk all decompositions in lock-step so each hop is one batched memory call across questions."""
    chains = [[s.question for s in it.decomposition] or [it.question] for it in items]
    got: list[list[str]] = [[] for _ in items]
    asked: list[list[str]] = [[] for _ in items]
    for hop in range(max(len(c) for c in chains)):
        idx = [i for i, c in enumerate(chains) if hop < len(c)]
        qs = [substitute_refs(chains[i][hop], got[i]) for i in idx]
        for i, q, a in zip(idx, qs, answer_batch(qs)):
            asked[i].append(q)
            got[i].append(a)
    return [
        {"predicted_answer": g[-1], "steps": [{"question": q, "answer": a} for q, a in zip(s, g)]}
        for s, g in zip(asked, got)
    ]


def score(items: Sequence[EvalItem], predictions: Sequence[dict]) -> dict:
    per_hop: dict[int, list[tuple[float, float]]] = defaultdict(list)
    rows = []
    for it, pred in zip(items, predictions):
        em, f1 = best_em_f1(pred["predicted_answer"], [it.answer, *it.answer_aliases])
        per_hop[it.hops].append((em, f1))
        rows.append(
            {
                "id": it.id,
                "question": it.question,
                "gold": it.answer,
                "hops": it.hops,
                "em": em,
                "f1": round(f1, 4),
                **pred,
            }
        )
    n = max(len(rows), 1)
    return {
        "n": len(rows),
        "em": sum(r["em"] for r in rows) / n,
        "f1": sum(r["f1"] for r in rows) / n,
        "per_hop": {
            str(h): {"n": len(v), "em": sum(e for e, _ in v) / len(v), "f1": sum(f for _, f in v) / len(v)}
            for h, v in sorted(per_hop.items())
        },
        "predictions": rows,
    }


def evaluate(
    pack: str | Path,
    items: Sequence[EvalItem],
    executive: ExecutiveConfig | str = "none",
    batch_size: int = 8,
    progress: bool = True,
    judge: JudgeConfig | None = None,
    protocol: ProtocolConfig | None = None,
    load: LoadConfig | None = None,
) -> dict:
    """Answer every item and score it. `executive`: "none", "oracle", or an ExecutiveConfig (or its spec string);
    `judge`: an LLM judge (JudgeConfig with a judge_url); `protocol`: budgets for an LLM executive."""
    if isinstance(executive, str):
        executive = ExecutiveConfig(executive=executive)
    load = load or LoadConfig()
    judge_endpoint = (judge or JudgeConfig()).endpoint()  # before loading: a bad judge URL must not cost a run
    memory = Memory.load(pack, **load.engine_kwargs())
    spec = executive.executive
    t0 = time.perf_counter()
    if spec == "oracle":
        missing = [it.id for it in items if not it.decomposition]
        if missing:
            raise MemoError(f"question '{missing[0]}': field 'decomposition' is empty (the oracle executive needs it)")
        preds = oracle_answers(items, lambda qs: _batched(memory.answer, qs, batch_size))
    elif spec == "none":
        answers = _batched(memory.answer, [it.question for it in items], batch_size, progress)
        preds = [{"predicted_answer": a} for a in answers]
    else:
        service = AskService(memory, from_config(executive, threads=load.threads), protocol)
        preds = []
        for it in _track(items, progress, "asking"):
            ans = service.ask(it.question)  # a fallback answer is scored and counted below, not raised
            preds.append(
                {
                    "predicted_answer": ans.final_answer,
                    "status": ans.status,
                    **({"executive_error": ans.error} if ans.error else {}),
                }
            )
    result = score(items, preds)
    # Answers the protocol had to give without a working executive: scored, but counted and reported, so a dead
    # endpoint cannot pass for a weak model.
    fallbacks = [p for p in preds if p.get("status") == "fallback"]
    result.update(
        pack=str(pack),
        pack_id=memory.pack_id,
        executive=spec,
        wall_s=round(time.perf_counter() - t0, 3),
        fallbacks=len(fallbacks),
    )
    if fallbacks:
        print(
            f"warning: the executive failed on {len(fallbacks)} of {len(preds)} questions; those answers are "
            f"the protocol's fallback (first cause: {fallbacks[0].get('executive_error')})",
            file=sys.stderr,
        )
    if judge_endpoint is not None:  # after wall_s, which stays the memory's (and executive's) time alone
        try:
            result["judge"] = judge_predictions(
                judge_endpoint, items, result["predictions"], concurrency=judge.judge_concurrency
            )
        except MemoError as e:  # a judge that fails late must not throw away the answers already computed
            print(f"warning: judge skipped: {e}", file=sys.stderr)
            result["judge_error"] = str(e)
    return result


def _track(seq, progress: bool, what: str):
    return track(seq, what, enabled=progress)


def _batched(fn: Callable[[list[str]], list[str]], qs: list[str], size: int, progress: bool = False) -> list[str]:
    out: list[str] = []
    for start in _track(range(0, len(qs), size), progress, "answering"):
        out.extend(fn(qs[start : start + size]))
    return out


def print_table(result: dict, console=None) -> None:
    console = console or Console()
    jd = result.get("judge")
    t = Table(title=f"memo eval: {result['executive']} executive", show_lines=False)
    for col in ("split", "n", "EM", "F1") + (("judge",) if jd else ()):
        t.add_column(col, justify="right" if col != "split" else "left")
    t.add_row(
        "all",
        str(result["n"]),
        f"{result['em']:.3f}",
        f"{result['f1']:.3f}",
        *([f"{jd['judge_accuracy']:.3f}"] if jd else []),
    )
    for h, v in result["per_hop"].items():
        j = [f"{jd['per_hop'][h]['judge_accuracy']:.3f}" if h in jd["per_hop"] else "-"] if jd else []
        t.add_row(f"{h}-hop", str(v["n"]), f"{v['em']:.3f}", f"{v['f1']:.3f}", *j)
    captions = []
    if result.get("fallbacks"):
        captions.append(f"{result['fallbacks']} fallback answer(s): the executive failed")
    if jd:
        captions.append(
            f"judge: {jd['judge_model']}, {jd['unparsed']} unparsed repl{'y' if jd['unparsed'] == 1 else 'ies'}"
        )
    if captions:  # escaped: a model name like "x[awq]" must not be read as markup
        t.caption = escape("; ".join(captions))
    console.print(t)
