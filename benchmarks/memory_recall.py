"""What a memory built with the defaults recalls of text nobody on the project wrote (MuSiQue, Wikipedia paragraphs
and crowd-written questions), next to the same measure on the demo corpus.

    python -m benchmarks.memory_recall [--n 30] [--datasets musique,demo,notes,techdocs,narrativeqa] [--split test]
                                       [--quick] [--work DIR]

Questions are split by position (dev = questions 0-99 of the file, test = 100-199; the genre corpora in
benchmarks/corpora carry their split per question); --split picks which are asked (test by default: report on test,
read misses only on dev). For notes and techdocs (benchmarks/corpora): the memory is built from the folder and asked
the split's questions memory-only; abstention is measured with the split's absent questions (general knowledge and
things the corpora never mention) and with the other genre's questions: the share answered "I don't know", beside
the share of answerable questions wrongly answered so. Both are measured twice on the same memory: with the
pack's known-terms rule (the runtime's default: a question whose content words the memory mostly never saw is
answered "I don't know" without running the model) and with the model alone (`abstain=False`), paired.

For MuSiQue: the N first 2-hop questions; the corpus is their supporting paragraphs; `memo build` with its defaults
(extractive reflections with no cap -> SmolLM2-135M full fine-tune -> int8 pack) builds the memory. Then:
- single-hop recall: every gold hop sub-question (MuSiQue's own decomposition, with "#1" replaced by the *gold*
  first answer, and "X >> relation" hops phrased "What is the relation of X?"), asked to the memory alone;
- multi-hop: the original questions, memory-only and with the oracle executive (gold decomposition, the memory's
  own answers substituted hop by hop).
For NarrativeQA: the memory is built from the stories' summaries and asked the split's crowd questions memory-only
(free-form answers: F1 is the figure to read). For the demo corpus the same build is scored on its 30 gold questions (there are no single-hop decompositions of
its own, so the 1-hop questions play that role). Builds are cached in --work and resume where they stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks import report
from memo_edge.datasets import split_rows

REPO = Path(__file__).resolve().parent.parent
CORPORA = Path(__file__).resolve().parent / "corpora"
GENRES = ("notes", "techdocs")


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory_recall", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="musique,demo")
    p.add_argument("--split", choices=("dev", "test"), default="test", help="questions asked (see above)")
    p.add_argument("--n", type=int, default=None, help="MuSiQue 2-hop questions (default 30; --quick 8)")
    p.add_argument("--quick", action="store_true", help="8 questions, 1 epoch: checks the plumbing, not recall")
    p.add_argument("--epochs", type=int, default=None, help="override the training default")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="override the training seed (data order, held-out split, init): builds of one commit with two seeds "
        "measure how far recall moves without any change to the code",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for training (1 is far faster than 2 when other jobs share the 2 cores)",
    )
    p.add_argument("--work", type=Path, default=report.RESULTS_DIR / "cache" / "memory_recall")
    p.add_argument(
        "--no-build",
        action="store_true",
        help="ask the memory already built in --work as it is (no synthesis, training or export: a pack re-exported "
        "by hand, e.g. with `memo export`, is asked unchanged); its build figures come from its work folder",
    )
    p.add_argument(
        "--probe",
        action="store_true",
        help="notes/techdocs: also ask the genre's dev and test questions after every recall check of training "
        "(the torch model, greedy, no known-terms rule) and report their EM epoch by epoch: how recall of users' "
        "questions moves with training length. Only watched: the epoch is still picked by held-out phrasings",
    )
    p.add_argument("--out", type=Path, default=report.RESULTS_DIR)
    a = p.parse_args(argv)
    a.n = a.n or (8 if a.quick else 30)
    if a.quick and a.epochs is None:
        a.epochs = 1
    return a


def musique_sets(n: int, root: Path, split: str = "test") -> dict:
    """corpus.jsonl (supporting paragraphs), hops.jsonl (single-hop items), questions.jsonl (multi-hop)."""
    from memo_edge import datasets
    from memo_edge.evaluate import substitute_refs
    from memo_edge.records import DecompositionStep, EvalItem

    rows = report_rows(datasets.benchdata_root() / datasets.FILES["musique"])
    rows = [r for r in split_rows(rows, split) if r["id"].startswith("2hop")][:n]
    paras, hops, items = {}, [], []
    for row in rows:
        by_idx = {p["idx"]: p for p in row["paragraphs"]}
        golds: list[str] = []
        steps = []
        for k, step in enumerate(row["question_decomposition"]):
            p = by_idx[step["paragraph_support_idx"]]
            paras[(p["title"], p["paragraph_text"])] = None
            q = datasets.naturalize_hop(substitute_refs(step["question"], golds))
            hops.append(EvalItem(id=f"{row['id']}-hop{k + 1}", question=q, answer=str(step["answer"]), hops=1))
            golds.append(str(step["answer"]))
            steps.append(
                DecompositionStep(question=datasets.naturalize_hop(step["question"]), answer=str(step["answer"]))
            )
        items.append(
            EvalItem(
                id=row["id"],
                question=row["question"],
                answer=str(row["answer"]),
                answer_aliases=[str(a) for a in row.get("answer_aliases", [])],
                hops=2,
                decomposition=steps,
            )
        )
    root.mkdir(parents=True, exist_ok=True)
    corpus = root / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "corpus.jsonl").write_text(
        "".join(json.dumps({"title": t, "text": x}) + "\n" for t, x in paras), encoding="utf-8"
    )
    for name, rows_ in (("hops.jsonl", hops), ("questions.jsonl", items)):
        (root / name).write_text("".join(r.model_dump_json() + "\n" for r in rows_), encoding="utf-8")
    return {
        "corpus": corpus,
        "hops": root / "hops.jsonl",
        "questions": root / "questions.jsonl",
        "paragraphs": len(paras),
    }


def genre_items(name: str, split: str) -> list:
    from memo_edge.records import EvalItem

    rows = report_rows(CORPORA / name / "questions.jsonl")
    return [EvalItem(**r) for r in rows if r["split"] == split]


def absent_items(split: str, other: str | None) -> list:
    """Questions the memory cannot answer: the corpora's absent questions, and the other genre's questions."""
    from memo_edge.records import EvalItem

    rows = [r for r in report_rows(CORPORA / "absent_questions.jsonl") if r["split"] == split]
    items = [EvalItem(id=f"{r['kind']}:{r['id']}", question=r["question"], answer="I don't know") for r in rows]
    if other:
        items += [
            it.model_copy(update={"id": f"other genre:{it.id}", "answer": "I don't know"})
            for it in genre_items(other, split)
        ]
    return items


def idk_rates(pack: Path, answerable: dict, absent: list, abstain: bool = True) -> dict:
    """Share of absent questions answered "I don't know", and of answerable ones answered so wrongly. `abstain`:
    with the pack's known-terms rule (the runtime's default) or the model alone."""
    from memo_edge.evaluate import evaluate
    from memo_edge.prompt import is_idk
    from memo_edge.runtime.config import LoadConfig

    preds = evaluate(pack, absent, executive="none", progress=False, load=LoadConfig(abstain=abstain))["predictions"]
    said = [is_idk(p["predicted_answer"]) for p in preds]
    false = [is_idk(p["predicted_answer"]) for p in answerable["predictions"]]
    kinds = {}
    for it, s_ in zip(absent, said):
        kinds.setdefault(it.id.split(":")[0], []).append(s_)
    return {
        "absent_n": len(absent),
        "idk_on_absent": round(sum(said) / max(1, len(said)), 3),
        "false_idk_on_answerable": round(sum(false) / max(1, len(false)), 3),
        "by_kind": {k: round(sum(v) / len(v), 3) for k, v in kinds.items()},
        "absent_predictions": [
            {"question": it.question, "predicted_answer": p["predicted_answer"]} for it, p in zip(absent, preds)
        ],
    }


def report_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def probe_file(name: str, work: Path) -> Path:
    """The genre's dev and test questions as one JSONL whose ids name their split ("test:td-12"), for training's
    probe (MEMO_TRAIN_PROBE)."""
    rows = report_rows(CORPORA / name / "questions.jsonl")
    path = work / "probe.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({**r, "id": f"{r['split']}:{r['id']}"}) + "\n" for r in rows), encoding="utf-8")
    return path


def epoch_curve(history: list[dict]) -> list[dict]:
    """Per checked epoch: held-out phrasings and trained questions (training's own checks) beside the probe's
    users' questions, by split."""
    return [
        {
            "epoch": h["epoch"],
            "heldout_em": h.get("recall_em"),
            "trained_em": h.get("train_em"),
            **{f"{g}_em": round(v["em"], 3) for g, v in h.get("probe", {}).items()},
        }
        for h in history
        if h.get("recall_em") is not None or h.get("train_em") is not None
    ]


def build_memory(
    corpus: Path,
    work: Path,
    epochs: int | None,
    threads: int | None,
    log,
    reuse: bool = False,
    probe: Path | None = None,
    seed: int | None = None,
) -> tuple[Path, dict]:
    from memo_edge.build import build
    from memo_edge.config import BuildConfig
    from memo_edge.errors import MemoError
    from memo_edge.settings import variable

    train = {k: v for k, v in (("epochs", epochs), ("threads", threads)) if v}
    if seed is not None:
        train["seed"] = seed
    if probe:
        train["eval_from"] = 1  # the recall-by-epoch curve asks the probe after every epoch
    cfg = BuildConfig(corpus=corpus, out=work / "pack", train=train)
    t0 = time.perf_counter()
    if reuse:
        if not (cfg.out / "manifest.json").is_file():
            raise MemoError(f"{cfg.out}: no pack to ask (--no-build needs a memory built in --work)")
        pack = cfg.out
    else:
        if probe:
            os.environ[variable("train_probe")] = str(probe)
        try:
            pack = build(cfg, log=log, progress=False)
        finally:
            os.environ.pop(variable("train_probe"), None)
    card = json.loads((cfg.work / "reflections.card.json").read_text())
    train = json.loads((cfg.work / "checkpoint" / "memo_train.json").read_text())
    m = train.get("metrics", {})
    curve = {"epoch_curve": epoch_curve(train.get("history", []))} if probe else {}
    return pack, {
        "reflections": card["reflections"],
        "build_wall_s": round(time.perf_counter() - t0, 1),
        "train": {
            "wall_s": m.get("wall_s"),
            "steps": m.get("steps"),
            "epochs": m.get("epochs"),
            "best_epoch": m.get("best_epoch"),
            "heldout_phrasing_em": m.get("recall_em"),
            "trained_em": m.get("train_em"),
            "examples": train.get("counts", {}).get("train"),
            **curve,
        },
    }


def score(pack: Path, path: Path | None, executive: str, items: list | None = None, abstain: bool = True) -> dict:
    from memo_edge.evaluate import evaluate
    from memo_edge.records import load_eval_items
    from memo_edge.runtime.config import LoadConfig

    items = items if items is not None else load_eval_items(path)
    r = evaluate(pack, items, executive=executive, progress=False, load=LoadConfig(abstain=abstain))
    return {
        "n": r["n"],
        "em": round(r["em"], 3),
        "f1": round(r["f1"], 3),
        "per_hop": r["per_hop"],
        "predictions": r["predictions"],
    }


def _abstain_rule(pack: Path) -> dict | None:
    """The pack's known-terms rule as its manifest states it (None: the pack has none, the model answers all)."""
    manifest = json.loads((Path(pack) / "manifest.json").read_text(encoding="utf-8"))
    return manifest.get("abstain")


def main(argv=None) -> dict:
    a = parse(argv if argv is not None else sys.argv[1:])
    from memo_edge.training.openmp import prefer_sleeping_threads

    prefer_sleeping_threads()  # as `memo build` does: builds here run in this process
    log = lambda *x: print(*x, file=sys.stderr)  # noqa: E731
    # the code and the machine as the run starts, not as it ends
    head = report.header(
        "memory_recall", n=a.n, epochs=a.epochs, seed=a.seed, split=a.split, datasets=a.datasets, probe=a.probe
    )
    rows = []
    for name in [x for x in a.datasets.split(",") if x]:
        work = a.work / (f"{name}-{a.split}-n{a.n}" if name == "musique" else name)
        if name in GENRES:
            probe = probe_file(name, work) if a.probe else None
            pack, build_info = build_memory(
                CORPORA / name / "docs", work, a.epochs, a.threads, log, a.no_build, probe=probe, seed=a.seed
            )
            single = score(pack, None, "none", items=genre_items(name, a.split))
            model_only = score(pack, None, "none", items=genre_items(name, a.split), abstain=False)
            other = next(g for g in GENRES if g != name)
            absent = absent_items(a.split, other)
            rows.append(
                {
                    "dataset": f"{name} ({a.split} questions)",
                    **build_info,
                    "single_hop": single,
                    "abstain": idk_rates(pack, single, absent),
                    # the same memory without the pack's known-terms rule: what the model alone does (paired)
                    "single_hop_model_only": {k: model_only[k] for k in ("n", "em", "f1")},
                    "abstain_model_only": idk_rates(pack, model_only, absent, abstain=False),
                    "abstain_rule": _abstain_rule(pack),
                }
            )
        elif name == "musique":
            sets = musique_sets(a.n, work / "data", a.split)
            pack, build_info = build_memory(sets["corpus"], work, a.epochs, a.threads, log, a.no_build, seed=a.seed)
            single = score(pack, sets["hops"], "none")
            rows.append(
                {
                    "dataset": f"musique ({a.n} 2-hop q, {sets['paragraphs']} paragraphs)",
                    **build_info,
                    "single_hop": single,
                    "multi_none": score(pack, sets["questions"], "none"),
                    "multi_oracle": score(pack, sets["questions"], "oracle"),
                }
            )
        elif name == "narrativeqa":
            # the stories' summaries (every split's: a question's story is the corpus), asked the split's questions
            from benchmarks.synthesis_coverage import genre_sets
            from memo_edge.records import EvalItem

            sets = genre_sets("narrativeqa", work / "data")
            pack, build_info = build_memory(sets["corpus"], work, a.epochs, a.threads, log, a.no_build, seed=a.seed)
            items = [
                EvalItem(**{k: q[k] for k in ("id", "question", "answer", "answer_aliases")})
                for q in sets["questions"][a.split]
            ]
            single = score(pack, None, "none", items=items)
            rows.append({"dataset": f"narrativeqa ({a.split} questions)", **build_info, "single_hop": single})
        elif name == "demo":
            demo = REPO / "memo_edge" / "demo"
            pack, build_info = build_memory(demo / "corpus", work, a.epochs, a.threads, log, a.no_build, seed=a.seed)
            multi = score(pack, demo / "questions.jsonl", "none")
            one = multi["per_hop"].get("1", {})
            rows.append(
                {
                    "dataset": "demo (ours, 12 documents)",
                    **build_info,
                    "single_hop": {
                        "n": one.get("n"),
                        "em": round(one.get("em", 0), 3),
                        "f1": round(one.get("f1", 0), 3),
                    },
                    "multi_none": multi,
                    "multi_oracle": score(pack, demo / "questions.jsonl", "oracle"),
                }
            )
    result = {
        **head,
        "rows": rows,
    }
    _table(rows)
    # one file per dataset list, so a run of one dataset does not overwrite another's
    name = "memory_recall-" + a.datasets.replace(",", "+") + f"-{a.split}"
    report.save(a.out, name, result)
    plot(rows, a.out / f"{name}.png")
    if any(r["train"].get("epoch_curve") for r in rows):
        plot_curves(rows, a.out / f"{name}-epochs.png")
    print(
        json.dumps(
            {
                "benchmark": "memory_recall",
                **{
                    r["dataset"].split()[0]: {
                        "single_hop_em": r["single_hop"]["em"],
                        "oracle_em": r.get("multi_oracle", {}).get("em"),
                        "idk_on_absent": r.get("abstain", {}).get("idk_on_absent"),
                        "false_idk": r.get("abstain", {}).get("false_idk_on_answerable"),
                        "reflections": r["reflections"],
                        "train_wall_s": r["train"].get("wall_s"),
                    }
                    for r in rows
                },
            }
        )
    )
    return result


def plot(rows: list[dict], path: Path) -> None:
    """Bars per corpus: 1-hop EM/F1, multi-hop EM memory-only and with the oracle executive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [
        ("1-hop EM", "single_hop", "em"),
        ("1-hop F1", "single_hop", "f1"),
        ("multi EM memory", "multi_none", "em"),
        ("multi EM oracle", "multi_oracle", "em"),
    ]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        xs = [k + i * width for k in range(len(bars))]
        ax.bar(xs, [(r.get(key) or {}).get(m) or 0 for _, key, m in bars], width, label=r["dataset"])
    ax.set_xticks([k + width * (len(rows) - 1) / 2 for k in range(len(bars))], [b[0] for b in bars])
    ax.set_ylim(0, 1)
    ax.set_title("memory built with memo build defaults: recall")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(rows: list[dict], path: Path) -> None:
    """--probe: EM by epoch of the held-out phrasings (what picks the epoch) beside users' dev and test questions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [r for r in rows if r["train"].get("epoch_curve")]
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, r in zip(axes[0], curves):
        pts = r["train"]["epoch_curve"]
        for key, label in (("heldout_em", "held-out phrasings"), ("dev_em", "dev questions"), ("test_em", "test")):
            ax.plot([p["epoch"] for p in pts], [p.get(key) for p in pts], marker="o", label=label)
        ax.axvline(r["train"].get("best_epoch") or 0, color="grey", linestyle=":", label="epoch kept")
        ax.set_title(r["dataset"], fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("EM (torch greedy, no known-terms rule)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        "corpus",
        "pairs",
        "train s",
        "1-hop n",
        "1-hop EM",
        "1-hop F1",
        "multi EM (memory)",
        "multi EM (oracle)",
        "IDK absent / false IDK",
        title="Recall of a memory built with the defaults",
    )
    for r in rows:
        s = r["single_hop"]
        t.add_row(
            r["dataset"],
            str(r["reflections"]),
            str(r["train"].get("wall_s", "-")),
            str(s["n"]),
            f"{s['em']:.3f}",
            f"{s['f1']:.3f}",
            f"{r['multi_none']['em']:.3f}" if "multi_none" in r else "-",
            f"{r['multi_oracle']['em']:.3f}" if "multi_oracle" in r else "-",
            f"{r['abstain']['idk_on_absent']:.3f} / {r['abstain']['false_idk_on_answerable']:.3f}"
            if "abstain" in r
            else "-",
        )
    Console(stderr=True).print(t)


if __name__ == "__main__":
    main()
