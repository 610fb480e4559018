"""Recall of a model in training: greedy answers to held-out / trained / absent-entity questions, in the exact
memory prompt the runtime sends. EM/F1 use MuSiQue normalization; IDK detection uses memo_edge.prompt.is_idk."""

from __future__ import annotations

import torch

from memo_edge.metrics import best_em_f1
from memo_edge.prompt import MemoryPrompt, is_idk
from memo_edge.records import EvalItem, Reflection


def stop_token_ids(tokenizer, prompt: MemoryPrompt) -> list[int]:
    ids = []
    for s in prompt.stop:
        t = tokenizer(s, add_special_tokens=False)["input_ids"]
        if len(t) == 1:
            ids.append(t[0])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))


@torch.no_grad()
def answer(
    model,
    tokenizer,
    prompt: MemoryPrompt,
    questions: list[str],
    max_new_tokens: int = 48,
    batch_size: int = 32,
    synced_gpus: bool = False,
) -> list[str]:
    """Greedy, batched (left padding), stopped at the prompt's stop token; answers in the order of `questions`.

    Questions are batched by prompt length (less padding per batch); generation stops when every row of a batch
    has stopped, so the cap max_new_tokens only costs where a model rambles.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    stops = stop_token_ids(tokenizer, prompt)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    encoded = [tokenizer(prompt.render(q), add_special_tokens=False)["input_ids"] for q in questions]
    order = sorted(range(len(questions)), key=lambda k: len(encoded[k]))
    out: list[str] = []
    for i in range(0, len(questions), batch_size):
        enc = [encoded[k] for k in order[i : i + batch_size]]
        L = max(map(len, enc))
        ids = torch.tensor([[pad] * (L - len(e)) + e for e in enc], device=device)
        mask = torch.tensor([[0] * (L - len(e)) + [1] * len(e) for e in enc], device=device)
        gen = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=stops,
            pad_token_id=pad,
            synced_gpus=synced_gpus,
        )
        for row in gen[:, L:].tolist():
            cut = next((k for k, t in enumerate(row) if t in stops), len(row))
            text = tokenizer.decode(row[:cut], skip_special_tokens=True)
            for s in prompt.stop:
                text = text.split(s, 1)[0]
            out.append(text.strip())
    if was_training:
        model.train()
    answers = [""] * len(questions)
    for k, a in zip(order, out):
        answers[k] = a
    return answers


def score(preds: list[str], rows: list[Reflection]) -> dict:
    if not rows:
        return {"n": 0, "em": None, "f1": None, "idk": None}
    ems, f1s = zip(*(best_em_f1(p, [r.answer]) for p, r in zip(preds, rows)))
    return {
        "n": len(rows),
        "em": sum(ems) / len(rows),
        "f1": sum(f1s) / len(rows),
        "idk": sum(is_idk(p) for p in preds) / len(rows),
    }


def recall_report(
    model,
    tokenizer,
    prompt: MemoryPrompt,
    sets: dict[str, list[Reflection]],
    max_new_tokens: int,
    batch_size: int,
    answer_fn=None,
    probe: list[EvalItem] | None = None,
) -> dict:
    """One generation pass over all sets; returns per-set scores and the headline rates.

    recall_em/f1: held-out present facts; train_em/f1: trained questions (memorization);
    idk_rate: absent-entity questions answered "I don't know"; false_idk_rate: present facts answered so.
    `probe`: outside questions asked in the same pass and reported apart ("probe"); they never enter the score.
    """
    answer_fn = answer_fn or (lambda qs: answer(model, tokenizer, prompt, qs, max_new_tokens, batch_size))
    names = [k for k, v in sets.items() if v]
    flat = [r for k in names for r in sets[k]]
    probe = probe or []
    asked = [r.question for r in flat] + [it.question for it in probe]
    preds = answer_fn(asked) if asked else []
    res, o = {}, 0
    for k in names:
        res[k] = score(preds[o : o + len(sets[k])], sets[k])
        res[k]["examples"] = [
            {"q": r.question, "gold": r.answer, "pred": p} for r, p in zip(sets[k][:3], preds[o : o + 3])
        ]
        o += len(sets[k])
    present = [res[k] for k in ("heldout", "train") if k in res]
    n_present = sum(p["n"] for p in present)
    report = {
        "recall_em": res.get("heldout", {}).get("em"),
        "recall_f1": res.get("heldout", {}).get("f1"),
        "train_em": res.get("train", {}).get("em"),
        "train_f1": res.get("train", {}).get("f1"),
        "idk_rate": res.get("idk_eval", {}).get("idk"),
        "false_idk_rate": (sum(p["idk"] * p["n"] for p in present) / n_present) if n_present else None,
        "sets": res,
    }
    report["score"] = selection_score(report["recall_f1"], report["train_f1"])
    if probe:
        report["probe"] = probe_report(preds[len(flat) :], probe)
    return report


def probe_report(preds: list[str], items: list[EvalItem]) -> dict:
    """EM/F1 (gold or any alias) of outside questions, by the group their id names before ":" ("test:q7" is in
    group test), and every answer. Benchmarks watch recall of users' questions epoch by epoch with it."""
    groups: dict[str, list[tuple[float, float]]] = {}
    answers = []
    for p, it in zip(preds, items):
        em, f1 = best_em_f1(p, [it.answer, *it.answer_aliases])
        groups.setdefault(it.id.split(":", 1)[0] if ":" in it.id else "all", []).append((em, f1))
        answers.append({"id": it.id, "pred": p, "em": em})
    by_group = {
        g: {"n": len(v), "em": sum(e for e, _ in v) / len(v), "f1": sum(f for _, f in v) / len(v)}
        for g, v in groups.items()
    }
    return {"by_group": by_group, "answers": answers}


def selection_score(heldout_f1: float | None, train_f1: float | None) -> float:
    """What the best epoch is picked by: recall of trained facts asked in held-out phrasings (what a user's own
    wording needs), not the trained questions, which only break ties (and stand in when nothing is held out)."""
    if heldout_f1 is None:
        return train_f1 or 0.0
    return heldout_f1 + 1e-3 * (train_f1 or 0.0)
