"""`memo eval`: answer EM/F1 (official MuSiQue normalization), overall and per hop count.

Executives: `none` (the memory answers the question directly), `oracle` (follows each question's gold
decomposition, substituting #1, #2 with the memory's own earlier answers: measures the memory's multi-hop recall
without a large LLM), or anything `memo ask --executive` accepts (an OpenAI-compatible URL, `local:PACK`).
With a judge URL, an OpenAI-compatible LLM also grades every answer (memo_edge/judge.py), as in the MeMo paper.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

from .errors import MemoError
from .metrics import best_em_f1
from .records import EvalItem

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
    return [{"predicted_answer": g[-1], "steps": [{"question": q, "answer": a} for q, a in zip(s, g)]}
            for s, g in zip(asked, got)]


def score(items: Sequence[EvalItem], predictions: Sequence[dict]) -> dict:
    per_hop: dict[int, list[tuple[float, float]]] = defaultdict(list)
    rows = []
    for it, pred in zip(items, predictions):
        em, f1 = best_em_f1(pred["predicted_answer"], [it.answer, *it.answer_aliases])
        per_hop[it.hops].append((em, f1))
        rows.append({"id": it.id, "question": it.question, "gold": it.answer, "hops": it.hops,
                     "em": em, "f1": round(f1, 4), **pred})
    n = max(len(rows), 1)
    return {
        "n": len(rows),
        "em": sum(r["em"] for r in rows) / n,
        "f1": sum(r["f1"] for r in rows) / n,
        "per_hop": {str(h): {"n": len(v), "em": sum(e for e, _ in v) / len(v), "f1": sum(f for _, f in v) / len(v)}
                    for h, v in sorted(per_hop.items())},
        "predictions": rows,
    }


def evaluate(pack: str | Path, items: Sequence[EvalItem], executive: str = "none",
             executive_model: str | None = None, batch_size: int = 8, progress: bool = True,
             judge_url: str | None = None, judge_model: str | None = None,
             judge_api_key_env: str = "OPENAI_API_KEY", judge_concurrency: int = 8, trusted_keys=None) -> dict:
    judge = None
    if judge_url:  # checked before loading the memory: a malformed judge URL should not cost an eval run
        from memo_edge.judge import make_endpoint

        judge = make_endpoint(judge_url, judge_model, api_key_env=judge_api_key_env)
    from memo_edge.runtime import Memory

    memory = Memory.load(pack, trusted_keys=trusted_keys)
    t0 = time.perf_counter()
    if executive == "oracle":
        missing = [it.id for it in items if not it.decomposition]
        if missing:
            raise MemoError(f"question '{missing[0]}': field 'decomposition' is empty (the oracle executive needs it)")
        preds = oracle_answers(items, lambda qs: _batched(memory.answer, qs, batch_size))
    elif executive == "none":
        answers = _batched(memory.answer, [it.question for it in items], batch_size, progress)
        preds = [{"predicted_answer": a} for a in answers]
    else:
        from memo_edge.executives import make_executive

        ex = make_executive(executive, model=executive_model)
        preds = []
        for it in _track(items, progress, "asking"):
            ans = memory.ask(it.question, executive=ex, allow_fallback=True)
            preds.append({"predicted_answer": ans.final_answer, "status": ans.status,
                          **({"executive_error": ans.error} if ans.error else {})})
    result = score(items, preds)
    # Answers the protocol had to give without a working executive: scored, but counted and reported, so a dead
    # endpoint cannot pass for a weak model.
    fallbacks = [p for p in preds if p.get("status") == "fallback"]
    result.update(pack=str(pack), pack_id=memory.pack_id, executive=executive, wall_s=round(time.perf_counter() - t0, 3),
                  fallbacks=len(fallbacks))
    if fallbacks:
        import sys

        print(f"warning: the executive failed on {len(fallbacks)} of {len(preds)} questions; those answers are "
              f"the protocol's fallback (first cause: {fallbacks[0].get('executive_error')})", file=sys.stderr)
    if judge is not None:  # after wall_s, which stays the memory's (and executive's) time alone
        from memo_edge.judge import judge_predictions

        try:
            result["judge"] = judge_predictions(judge, items, result["predictions"], concurrency=judge_concurrency)
        except MemoError as e:  # a judge that fails late must not throw away the answers already computed
            import sys

            print(f"warning: judge skipped: {e}", file=sys.stderr)
            result["judge_error"] = str(e)
    return result


def _track(seq, progress: bool, what: str):
    if not progress:
        return seq
    from rich.progress import track

    return track(seq, description=what, transient=True)


def _batched(fn: Callable[[list[str]], list[str]], qs: list[str], size: int, progress: bool = False) -> list[str]:
    out: list[str] = []
    for start in _track(range(0, len(qs), size), progress, "answering"):
        out.extend(fn(qs[start:start + size]))
    return out


def print_table(result: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    jd = result.get("judge")
    t = Table(title=f"memo eval: {result['executive']} executive", show_lines=False)
    for col in ("split", "n", "EM", "F1") + (("judge",) if jd else ()):
        t.add_column(col, justify="right" if col != "split" else "left")
    t.add_row("all", str(result["n"]), f"{result['em']:.3f}", f"{result['f1']:.3f}",
              *([f"{jd['judge_accuracy']:.3f}"] if jd else []))
    for h, v in result["per_hop"].items():
        j = [f"{jd['per_hop'][h]['judge_accuracy']:.3f}" if h in jd["per_hop"] else "-"] if jd else []
        t.add_row(f"{h}-hop", str(v["n"]), f"{v['em']:.3f}", f"{v['f1']:.3f}", *j)
    captions = []
    if result.get("fallbacks"):
        captions.append(f"{result['fallbacks']} fallback answer(s): the executive failed")
    if jd:
        captions.append(f"judge: {jd['judge_model']}, {jd['unparsed']} unparsed repl"
                        f"{'y' if jd['unparsed'] == 1 else 'ies'}")
    if captions:
        from rich.markup import escape  # a model name like "x[awq]" must not be read as markup

        t.caption = escape("; ".join(captions))
    console.print(t)
