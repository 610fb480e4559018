"""Export per precision: size on disk, export time, load time, and recall on the demo set.

    python -m benchmarks.export_sizes [CKPT] [--precisions fp32,int8,int4] [--gguf f16,q8_0] [--out DIR] [--quick]

CKPT defaults to the pulled base SmolLM2 (sizes and load times are real; its recall of the fictional demo facts is
not meaningful). Give a checkpoint trained on the demo corpus (e.g. demo-build.build/checkpoint) to compare recall.
Recall = EM/F1 of the memory answering every single-hop fact of the demo questions' gold decompositions directly
(`#1`-style references filled with the gold answers), greedy, through the same runtime a laptop uses; GGUF rows go
through llama.cpp when llama-cpp-python is installed. Everything runs side by side in one process on one machine.
Prints a table, saves a PNG, and prints ONE JSON document as the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

DEMO_QUESTIONS = Path(__file__).resolve().parent.parent / "memo_edge" / "demo" / "questions.jsonl"


def demo_facts(limit: int = 0) -> list[tuple[str, list[str]]]:
    """(question, gold answers) for every decomposition step, with #k replaced by step k's gold answer."""
    from memo_edge.records import load_eval_items

    seen, facts = set(), []
    for item in load_eval_items(DEMO_QUESTIONS):
        answers: list[str] = []
        for i, step in enumerate(item.decomposition):
            q = re.sub(
                r"#(\d+)",
                lambda m: answers[int(m.group(1)) - 1] if int(m.group(1)) <= len(answers) else m.group(0),
                step.question,
            )
            answers.append(step.answer)
            golds = [step.answer] + (item.answer_aliases if i == len(item.decomposition) - 1 else [])
            if q not in seen and step.answer:
                seen.add(q)
                facts.append((q, golds))
    return facts[:limit] if limit else facts


def score(preds: list[str], golds: list[list[str]]) -> dict:
    from memo_edge.metrics import best_em_f1

    pairs = [best_em_f1(p, g) for p, g in zip(preds, golds)]
    n = max(1, len(pairs))
    return {"em": round(sum(e for e, _ in pairs) / n, 3), "f1": round(sum(f for _, f in pairs) / n, 3)}


def dir_size(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def bench_onnx(pack: Path, facts, loads: int, threads: int) -> dict:
    from memo_edge.pack import Pack
    from memo_edge.runtime import Engine

    p = Pack.open(pack)  # verified once; load timings below measure the session + tokenizer only
    times = []
    for _ in range(loads):
        t = time.perf_counter()
        eng = Engine(p, threads=threads)
        times.append(time.perf_counter() - t)
    mp = eng.manifest.prompt
    t = time.perf_counter()
    out = eng.generate([mp.render(q) for q, _ in facts], max_new_tokens=32, prefix=mp.prefix)
    answer_s = time.perf_counter() - t
    return {
        "load_s": round(statistics.median(times), 3),
        "answer_s": round(answer_s, 2),
        "answers": [c.text.strip() for c in out],
    }


def bench_gguf(pack: Path, facts, loads: int, threads: int) -> dict:
    from memo_edge.export.gguf_pack import LlamaCppRunner
    from memo_edge.pack import Pack

    p = Pack.open(pack)
    times = []
    for _ in range(loads):
        t = time.perf_counter()
        runner = LlamaCppRunner(p.path("model"), threads=threads)
        times.append(time.perf_counter() - t)
    mp = p.manifest.prompt
    t = time.perf_counter()
    out = runner.generate(
        [mp.render(q) for q, _ in facts], max_new_tokens=32, stop_token_ids=p.manifest.special_tokens.stop_token_ids
    )
    answer_s = time.perf_counter() - t
    return {
        "load_s": round(statistics.median(times), 3),
        "answer_s": round(answer_s, 2),
        "answers": [c.text.strip() for c in out],
    }


def run(ckpt: Path, precisions: list[str], ggufs: list[str], facts, work: Path, loads: int, threads: int) -> list[dict]:
    from memo_edge.export import export_pack

    rows = []
    todo = [("onnx", p) for p in precisions] + [("gguf", p) for p in ggufs]
    for fmt, prec in todo:
        t = time.perf_counter()
        pack = export_pack(ckpt, work / f"{fmt}-{prec}", format=fmt, precision=prec, verify=False, progress=False)
        export_s = time.perf_counter() - t
        row = {
            "format": fmt,
            "precision": prec,
            "export_s": round(export_s, 1),
            "size_mb": round(dir_size(pack) / 1e6, 1),
        }
        if fmt == "onnx" and prec == "fp16":
            row["note"] = "fp16 targets the CUDA provider; not loaded on CPU"
            rows.append(row)
            continue
        try:
            res = (bench_onnx if fmt == "onnx" else bench_gguf)(pack, facts, loads, threads)
        except ImportError as e:
            row["note"] = f"not run: {e.name} not installed"
            rows.append(row)
            continue
        row.update(load_s=res["load_s"], answer_s=res["answer_s"], **score(res["answers"], [g for _, g in facts]))
        row["_answers"] = res["answers"]
        rows.append(row)
    ref = next((r for r in rows if r["format"] == "onnx" and r["precision"] == "fp32" and "_answers" in r), None)
    for r in rows:
        if ref and "_answers" in r:
            r["agree_fp32"] = round(sum(a == b for a, b in zip(r["_answers"], ref["_answers"])) / max(1, len(facts)), 3)
    for r in rows:
        r.pop("_answers", None)
    return rows


def plot(rows: list[dict], png: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = [f"{r['format']}\n{r['precision']}" for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].bar(names, [r["size_mb"] for r in rows])
    axes[0].set_title("size on disk (MB)")
    axes[1].bar(names, [r.get("load_s", 0) for r in rows])
    axes[1].set_title("load time (s)")
    axes[2].bar(names, [r.get("f1", 0) for r in rows])
    axes[2].set_title("recall F1 on demo facts")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return png


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt", nargs="?", help="checkpoint directory (default: pulled smollm2-135m-instruct)")
    ap.add_argument("--precisions", default="fp32,fp16,int8,int4")
    ap.add_argument("--gguf", default="f16,q8_0", help="GGUF precisions ('' to skip)")
    ap.add_argument("--loads", type=int, default=3, help="load-time repeats (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N demo facts")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--quick", action="store_true", help="tiny-random, fp32+int4+q8_0, 8 facts, 1 load")
    a = ap.parse_args(argv)
    from memo_edge.models import resolve_model

    if a.quick:
        ckpt = Path(a.ckpt) if a.ckpt else resolve_model("tiny-random")
        precisions, ggufs, limit, loads = ["fp32", "int4"], ["q8_0"], a.limit or 8, 1
    else:
        ckpt = Path(a.ckpt) if a.ckpt else resolve_model("smollm2-135m-instruct")
        precisions = [p for p in a.precisions.split(",") if p]
        ggufs = [p for p in a.gguf.split(",") if p]
        limit, loads = a.limit, a.loads
    facts = demo_facts(limit)
    with tempfile.TemporaryDirectory(prefix="export-sizes-") as tmp:
        rows = run(ckpt, precisions, ggufs, facts, Path(tmp), loads, a.threads)
    cols = ["format", "precision", "size_mb", "export_s", "load_s", "answer_s", "em", "f1", "agree_fp32", "note"]
    print(f"checkpoint: {ckpt}  demo facts: {len(facts)}  threads: {a.threads}")
    print(" | ".join(f"{c:>10}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r.get(c, '')):>10}" for c in cols))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    png = plot(rows, out / "export_sizes.png")
    print(
        json.dumps(
            {
                "benchmark": "export_sizes",
                "checkpoint": str(ckpt),
                "facts": len(facts),
                "quick": a.quick,
                "rows": rows,
                "png": str(png) if png else None,
            }
        )
    )


if __name__ == "__main__":
    main()
