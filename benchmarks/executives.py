"""Executives side by side on one memory: does the protocol ever break, what does each cost, what does it score?

    python -m benchmarks.executives [--executives none,oracle,local,local-unconstrained,llama] [--memory PACK]
                                    [--n N] [--quick] [--musique-memory PACK] [--work DIR]

Per executive, on the demo questions (and MuSiQue's test questions when a memory built from their paragraphs is
given with --musique-memory): the share of stage decisions whose first reply was usable, how many replies were read
by the stage's schema and how many only by the lenient reader, unparsed replies, repair rounds, fallback answers,
the protocol's wall time and EM/F1.

- none: the memory answers the question alone; oracle: the gold decomposition, the memory's answers substituted
  hop by hop (no executive replies to count);
- local: `local:PACK` with SmolLM2-135M-Instruct exported to an int8 pack (cached in --work), decoding under each
  stage's schema; local-unconstrained: the same executive made with schema=False (`--no-executive-schema`), writing
  freely. Each row's label comes from what the executive reports (accepted_format json_schema: "constrained");
- llama: llama-cpp-python's server (`[llama]` extra) serving SmolLM2-135M-Instruct's GGUF, sent the schema.

The memory is --memory, or the demo corpus built with `memo build`'s defaults (cached in --work; minutes to an hour
on two cores). A 135M executive is not expected to reason well: the point is that the protocol never breaks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.llama_server import LlamaServer, missing_modules
from memo_edge.protocol import ProtocolConfig, run_protocol

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "memo_edge" / "demo"
EXECUTIVES = ("none", "oracle", "local", "local-unconstrained", "llama")
COUNTS = ("decisions", "first_try", "schema", "lenient", "unparsed", "repairs", "fallbacks")


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.executives", description=__doc__.split("\n\n")[0])
    p.add_argument("--executives", default=",".join(EXECUTIVES))
    p.add_argument("--memory", type=Path, default=None, help="memory pack for the demo questions (default: built)")
    p.add_argument("--musique-memory", type=Path, default=None, help="memory pack built from MuSiQue's paragraphs")
    p.add_argument("--n", type=int, default=None, help="questions per dataset (default all demo, 30 MuSiQue)")
    p.add_argument("--quick", action="store_true", help="5 questions, 1 turn each of pinning and seeking")
    p.add_argument("--entity-turns", type=int, default=2)
    p.add_argument("--answer-turns", type=int, default=2)
    p.add_argument("--exec-max-tokens", type=int, default=1024, help="as in tests/test_llama_server.py")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", type=Path, default=report.RESULTS_DIR / "cache" / "executives")
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv)
    a.executives = [e.strip() for e in a.executives.split(",") if e.strip()]
    bad = [e for e in a.executives if e not in EXECUTIVES]
    if bad:
        p.error(f"--executives: unknown {bad}; expected some of {', '.join(EXECUTIVES)}")
    if a.quick:
        a.n = a.n or 5
        a.entity_turns = a.answer_turns = 1
    return a


def demo_memory(work: Path) -> Path:
    """The demo corpus built with memo build's defaults, cached (and resumed) in work/."""
    from memo_edge.build import build
    from memo_edge.config import BuildConfig

    cfg = BuildConfig(corpus=DEMO / "corpus", out=work / "demo-memory", work_dir=work / "demo-memory.build")
    return build(cfg, log=lambda m: print(m, file=sys.stderr), progress=False)


def instruct_pack(work: Path) -> Path:
    """SmolLM2-135M-Instruct as an int8 pack, the local executive (exported once)."""
    from memo_edge.models import SMOLLM2, pull

    out = work / "smollm2-135m-instruct-int8"
    if not (out / "manifest.json").is_file():
        from memo_edge.export import export_pack

        export_pack(pull(SMOLLM2), out, precision="int8", verify=False, progress=False)
    return out


def items_for(dataset: str, n: int | None):
    from memo_edge.datasets import load, split_rows
    from memo_edge.records import load_eval_items

    if dataset == "demo":
        return load_eval_items(DEMO / "questions.jsonl")[:n]
    bench = load("musique")
    return split_rows(bench.items, "test")[: n or 30]


def run_executive(name: str, memory, items, cfg: ProtocolConfig, a) -> dict:
    from memo_edge.evaluate import oracle_answers, score

    if name == "oracle":
        t0 = time.perf_counter()
        preds = oracle_answers(items, lambda qs: [c.text.strip() for c in memory.complete(qs, temperature=None)])
        wall = time.perf_counter() - t0
        s = score(items, preds)
        return {"executive": "oracle", "n": s["n"], "em": s["em"], "f1": s["f1"], "wall_s": wall, "per_question_s": []}
    executive, server = None, None
    if name in ("local", "local-unconstrained"):
        from memo_edge.runtime.executives import LocalExecutive

        schema = name == "local"
        executive = LocalExecutive(str(instruct_pack(a.work)), threads=a.threads, seed=0, schema=schema)
    elif name == "llama":
        from memo_edge.executives import OpenAIExecutive
        from memo_edge.models import pull_gguf

        server = LlamaServer(pull_gguf(log=lambda *x: None), threads=a.threads).__enter__()
        executive = OpenAIExecutive(server.url, model="smollm2", timeout_s=600, max_retries=1)
    try:
        answers, per_q = [], []
        for it in items:
            t0 = time.perf_counter()
            answers.append(run_protocol(it.question, memory, executive, config=cfg))
            per_q.append(time.perf_counter() - t0)
    finally:
        if server is not None:
            executive.close()
            server.__exit__()
    preds = [{"predicted_answer": x.final_answer, "status": x.status} for x in answers]
    s = score(items, preds)
    counts = {k: sum(x.executive_replies.get(k, 0) for x in answers) for k in COUNTS}
    formats = sorted({x.executive_format or "-" for x in answers})
    label = name
    if name.startswith("local"):
        label = "local 135M " + ("constrained" if formats == ["json_schema"] else "unconstrained")
    elif name == "llama":
        label = "llama.cpp server 135M, schema"
    return {
        "executive": label,
        "n": s["n"],
        "em": s["em"],
        "f1": s["f1"],
        "wall_s": sum(per_q),
        "per_question_s": per_q,
        "replies": counts,
        "response_format": formats,
        "fallback_answers": sum(x.status == "fallback" for x in answers),
        "first_try_share": counts["first_try"] / counts["decisions"] if counts["decisions"] else None,
    }


def main(argv=None) -> int:
    from memo_edge.runtime import Memory

    a = parse(argv)
    cfg = ProtocolConfig(
        entity_turns=a.entity_turns, answer_turns=a.answer_turns, exec_max_tokens=a.exec_max_tokens, seed=0
    )
    if "llama" in a.executives and missing_modules():
        print(
            f"skipping llama: missing {', '.join(missing_modules())} (pip install 'memo-edge[llama]')", file=sys.stderr
        )
        a.executives.remove("llama")
    a.work.mkdir(parents=True, exist_ok=True)
    datasets = [("demo", a.memory or demo_memory(a.work))]
    if a.musique_memory:
        datasets.append(("musique", a.musique_memory))
    doc = report.header("executives", protocol=cfg.model_dump(), n=a.n, threads=a.threads)
    doc["rows"] = []
    for dataset, pack in datasets:
        memory = Memory.load(pack, threads=a.threads, abstain=False)  # the protocol as measured before the rule
        items = items_for(dataset, a.n)
        for name in a.executives:
            print(f"{dataset}: {name} on {len(items)} questions...", file=sys.stderr)
            row = {"dataset": dataset, "memory": str(pack), **run_executive(name, memory, items, cfg, a)}
            doc["rows"].append(row)
    columns, rows = table(doc["rows"])
    report.print_table("executives: does the protocol hold, what does it cost", columns, rows)
    report.save(a.out, "executives", doc, markdown=report.markdown_table(columns, rows))
    report.emit({k: doc[k] for k in ("benchmark", "commit", "settings")} | {"rows": [slim(r) for r in doc["rows"]]})
    return 0


def slim(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("per_question_s", "memory")}


def table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """The table RESULTS.md shows (benchmarks.results_md.executives_table) and the benchmark prints."""
    columns = [
        "dataset",
        "executive",
        "n",
        "first reply usable",
        "schema / lenient / unparsed replies",
        "repair rounds",
        "fallback answers",
        "response_format",
        "protocol s (median per question)",
        "EM / F1",
    ]
    out = []
    for r in rows:
        c = r.get("replies")
        share = r.get("first_try_share")
        out.append(
            [
                r["dataset"],
                r["executive"],
                r["n"],
                "-" if share is None else f"{100 * share:.1f}% of {c['decisions']}",
                f"{c['schema']} / {c['lenient']} / {c['unparsed']}" if c else "-",
                c["repairs"] if c else "-",
                r.get("fallback_answers", "-"),
                ", ".join(r.get("response_format") or ["-"]),
                f"{r['wall_s']:.1f} ({statistics.median(r['per_question_s']):.2f})"
                if r.get("per_question_s")
                else f"{r['wall_s']:.1f}",
                f"{r['em']:.3f} / {r['f1']:.3f}",
            ]
        )
    return columns, out


if __name__ == "__main__":
    sys.exit(main())
