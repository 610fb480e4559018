"""Rebuild RESULTS.md's generated tables from the result files, so no figure there is typed by hand.

    python -m benchmarks.results_md [--check]      (make results)

A generated table sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` in benchmarks/RESULTS.md; this
command rewrites what is between the markers from benchmarks/results/*.json and leaves the prose around them alone.
Every row names the commit (with `+dirty` when the tree had uncommitted changes), the date and the host's CPU of the
run it came from. `--check` exits 1 when RESULTS.md differs from what the result files give (a stale table).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from benchmarks.report import RESULTS_DIR, markdown_table

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)


def _load(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def provenance(doc: dict) -> str:
    c = doc.get("commit") or {}
    sha = (c.get("sha") or "unknown")[:7] + ("+dirty" if c.get("dirty") else "")
    cpu = (doc.get("machine") or {}).get("model_name", "?")
    return f"{sha}, {doc.get('date_utc', '?')} UTC, {cpu}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def coverage_table() -> str:
    """Coverage of gold answers per dataset and split, the current generator beside the one before issue 22."""
    now, before = _load("synthesis_coverage"), _load("synthesis_coverage-4719cd5")
    if now is None or "commit" not in now:
        return "_no result file with provenance: run `python -m benchmarks.synthesis_coverage`_\n"
    old = {(r["dataset"], r["split"]): r for r in (before or {}).get("rows", [])}
    rows = []
    for r in now["rows"]:
        o = old.get((r["dataset"], r["split"]), {})
        gold = r.get("hops", r.get("questions"))
        rows.append(
            [
                r["dataset"],
                r["split"],
                gold,
                r["reflections"],
                r.get("per_100_words"),
                f"**{_pct(r['coverage'])}** ({_pct(o.get('coverage'))})",
                _pct(r.get("coverage_typed")),
                _pct(r.get("in_text", r.get("in_answers"))),
                f"{_pct(r.get('stating_sentence_yield'))} / {_pct(r.get('sentence_yield'))} ({_pct(o.get('sentence_yield'))})",
                r.get("phrasings_per_fact", "-"),
                _pct(r.get("filter_pass")),
            ]
        )
    cols = [
        "dataset",
        "split",
        "gold answers",
        "pairs",
        "pairs / 100 words",
        "**covered** (before)",
        "by a wh-question (no fill-in)",
        "in text / inside an answer",
        "stating sentences / all sentences yielding (before: all)",
        "phrasings per fact",
        "pass the filter",
    ]
    src = f"Now: {provenance(now)}."
    if before:
        src += f" Before: the generator of {provenance(before)}."
    return markdown_table(cols, rows) + f"\n\n{src}\n"


def _recall_rows():
    """(result file, row) of every memory_recall result file that carries its commit (a run from before result files
    carried their commit is not shown)."""
    for path in sorted(RESULTS_DIR.glob("memory_recall*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "commit" in doc:
            yield from ((doc, r) for r in doc["rows"])


_CURVE_KEYS = ("heldout_em", "trained_em", "dev_em", "test_em")


def recall_table() -> str:
    """Memory-only recall and abstention of memories built with `memo build`'s defaults (a row says where a run
    trained for fewer epochs), one row per run file."""
    rows = []
    for doc, r in _recall_rows():
        s, ab, t = r["single_hop"], r.get("abstain") or {}, r.get("train") or {}
        # the same memory with the model alone (no known-terms rule), where the run measured it
        raw, rab = r.get("single_hop_model_only"), r.get("abstain_model_only") or {}
        ruled = bool(r.get("abstain_rule"))
        epochs, seed = ((doc.get("settings") or {}).get(k) for k in ("epochs", "seed"))
        rows.append(
            [
                r["dataset"]
                + (f", {epochs} epochs (not the default)" if epochs else "")
                + (f", training seed {seed}" if seed else ""),
                r["reflections"],
                t.get("wall_s", "-"),
                s["n"],
                f"**{s['em']:.3f}** / {s['f1']:.3f}"
                + (f" (model alone {raw['em']:.3f} / {raw['f1']:.3f})" if raw and ruled else ""),
                f"{r['multi_oracle']['em']:.3f}" if "multi_oracle" in r else "-",
                (f"{ab['idk_on_absent']:.3f} (n {ab['absent_n']})" if ab else "-")
                + (f" (model alone {rab['idk_on_absent']:.3f})" if rab and ruled else ""),
                (f"{ab['false_idk_on_answerable']:.3f}" if ab else "-")
                + (f" (model alone {rab['false_idk_on_answerable']:.3f})" if rab and ruled else ""),
                provenance(doc),
            ]
        )
    if not rows:
        return "_no result file with provenance: run `python -m benchmarks.memory_recall`_\n"
    cols = [
        "corpus (questions)",
        "reflections",
        "train wall s",
        "1-hop n",
        "1-hop EM / F1",
        "multi EM, oracle",
        "I don't know on absent",
        "false I don't know",
        "run",
    ]
    return markdown_table(cols, rows) + "\n"


def epoch_curve_table() -> str:
    """memory_recall --probe runs: EM by epoch of training's held-out phrasings (what picks the epoch) and of the
    genre's dev and test questions asked of the same model (torch, greedy, no known-terms rule)."""
    rows = []
    for doc, r in _recall_rows():
        t = r.get("train") or {}
        for p in t.get("epoch_curve") or []:
            kept = " (kept)" if p["epoch"] == t.get("best_epoch") else ""
            rows.append(
                [
                    r["dataset"],
                    f"{p['epoch']} of {t.get('epochs')}{kept}",
                    *(f"{p[k]:.3f}" if p.get(k) is not None else "-" for k in _CURVE_KEYS),
                    provenance(doc),
                ]
            )
    if not rows:
        return "_no result file with an epoch curve: run `python -m benchmarks.memory_recall --probe`_\n"
    cols = ["corpus", "epoch", "held-out phrasings EM", "trained EM", "dev questions EM", "test questions EM", "run"]
    return markdown_table(cols, rows) + "\n"


def grammar_table() -> str:
    """JSON-schema grammar libraries' cost per token beside the engine's decode step, and the engine constrained."""
    doc = _load("grammar_cost")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.grammar_cost PACK`_\n"
    runs = (doc.get("engine") or {}).get("runs", {})
    free_ms = runs.get("free", {}).get("ms_per_token")
    rows = []
    for lib, r in doc["libraries"].items():
        if "skipped" in r:
            rows.append([lib, r["skipped"], *["-"] * 7])
            continue
        for name, x in r["schemas"].items():
            rows.append(
                [
                    f"{lib} {r.get('version') or ''}".strip(),
                    name,
                    f"{r['tokenizer_s']:.2f}" + (f" (+{r['import_s']:.1f} import)" if "import_s" in r else ""),
                    f"{x['compile_s'] * 1e3:.1f}",
                    f"{x['mask_us']:.1f}",
                    f"{x['apply_us']:.1f}",
                    f"{x['advance_us']:.1f}",
                    f"**{x['total_us']:.1f}**",
                    _pct(x["total_us"] / 1e3 / free_ms) if free_ms else "-",
                ]
            )
    cols = [
        "library",
        "schema",
        "tokenizer s",
        "compile ms",
        "mask µs/token",
        "apply µs",
        "advance µs",
        "**total µs/token**",
        "of a decode step",
    ]
    out = markdown_table(cols, rows) + "\n\n"
    if runs:
        eng = [
            [
                name,
                f"{r['ms_per_token']:.2f}" if r.get("ms_per_token") else "-",
                r.get("tokens", "-"),
                f"{r['grammar_ms_per_token']:.3f}" if r.get("grammar_ms_per_token") is not None else "-",
                f"**{_pct(r.get('grammar_share'))}**",
                "-" if r.get("overhead") is None else f"{100 * r['overhead']:+.1f}%",
                {True: "yes", False: "NO", None: "-"}[r.get("parses")],
            ]
            for name, r in runs.items()
        ]
        cols = [
            "engine run",
            "decode ms/token",
            "tokens",
            "grammar ms/token",
            "**grammar / free step**",
            "step vs free",
            "parses",
        ]
        out += markdown_table(cols, eng) + "\n\n"
    load = (doc.get("machine") or {}).get("load_avg_1m")
    pack = Path(doc["settings"].get("pack", "?")).name
    out += (
        f"Pack {pack} ({(doc.get('engine') or {}).get('precision', '?')}), {doc['settings'].get('threads')} threads, "
    )
    out += f"load average {load} at the start. {provenance(doc)}.\n"
    return out


def _em(split: dict) -> str:
    return f"{split['em']:.3f} / {split['f1']:.3f} (n {split['n']})"


def training_ab_table() -> str:
    """The training-inputs A/B (benchmarks/training_ab.py): one row per arm, the same questions paired."""
    doc = _load("training_ab")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.training_ab`_\n"
    rows = []
    for r in doc["rows"]:
        c, w, ab = r["counts"], r.get("paired") or {}, r["abstain"]
        wins = sum(v["wins"] for v in w.values())
        losses = sum(v["losses"] for v in w.values())
        rows.append(
            [
                r["arm"],
                ", ".join(f"{k} {v}" for k, v in r["config"].items()) or "defaults",
                f"{c['train']} + {c.get('text_examples', 0)} + {c.get('profile_examples', 0)}",
                r["train_wall_s"],
                f"{r['train']['best_epoch']} ({r['train']['recall_f1']:.3f})",
                f"**{_em(r['test'])}**",
                _em(r["dev"]),
                "-" if r["arm"] == "baseline" else f"{wins} / {losses}",
                f"{ab['idk_on_absent']:.3f} (n {ab['absent_n']})",
                f"{ab['false_idk_on_answerable']:.3f}",
            ]
        )
    cols = [
        "arm",
        "training change",
        "examples: pairs (IDK included) + text + profiles",
        "train wall s",
        "best epoch (held-out F1)",
        "**test EM / F1**",
        "dev EM / F1",
        "right where baseline wrong / reverse (test + dev)",
        "I don't know on absent",
        "false I don't know",
    ]
    s = doc.get("settings") or {}
    src = (
        f"{doc['reflections']} reflections from {', '.join(s.get('docs', []))}; {s.get('epochs')} epochs, "
        f"{s.get('threads') or 'default'} torch threads. Run: {provenance(doc)}."
    )
    return markdown_table(cols, rows) + f"\n\n{src}\n"


def executives_table() -> str:
    """Per executive: replies usable on the first try, schema vs lenient reading, repairs, wall time, EM."""
    from benchmarks.executives import table

    doc = _load("executives")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.executives`_\n"
    columns, rows = table(doc["rows"])
    p = doc.get("settings", {}).get("protocol", {})
    budgets = (
        f"{p.get('entity_turns')} pinning and {p.get('answer_turns')} seeking turns, executive replies of at most "
        f"{p.get('exec_max_tokens')} tokens"
    )
    return markdown_table(columns, rows) + f"\n\n{provenance(doc)}; {budgets}.\n"


def handread_table() -> str:
    """The hand-read sample of reflections: what was read, the count by type, and every failure with its reason."""
    path = RESULTS_DIR / "handread-test-genres.jsonl"
    if not path.is_file():
        return "(no hand-read sample)\n"
    head, *pairs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ok = sum(p["verdict"] == "ok" for p in pairs)
    by_type: dict[str, list[int]] = {}
    for p in pairs:
        # a blank is asked two ways: its fill-in ("What fills the blank ...") and in place ("In T, ... what ...?")
        kind = p["type"] if p["type"] != "cloze" or p["question"].startswith("What fills") else "cloze, in place"
        by_type.setdefault(kind, [0, 0])[p["verdict"] == "ok"] += 1
    lines = [
        f"{head['sample']}; read by {head['reader']}: **{ok} of {len(pairs)} correct and well-formed "
        f"({100 * ok / max(1, len(pairs)):.0f}%)**; before: {head.get('previous', '-')}.",
        "",
        markdown_table(["type", "ok", "read"], [[t, str(v[1]), str(v[0] + v[1])] for t, v in sorted(by_type.items())]),
        "",
        "Failures:",
        "",
    ]
    lines += [f"- {p['question']} -> {p['answer'][:80]} ({p.get('why', 'bad')})" for p in pairs if p["verdict"] != "ok"]
    return "\n".join(lines) + "\n"


def base_dequant_table() -> str:
    """The base model's de-quantized fp32 checkpoint beside its Q4_1 GGUF run by llama.cpp (same token ids)."""
    doc = _load("base_dequant")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.base_dequant`_\n"
    rows = [
        [
            text,
            r["tokens"],
            f"{r['ppl_fp32']:.2f}",
            f"{r['ppl_q4_1']:.2f}",
            f"**{r['ppl_ratio']:.3f}**",
            f"**{_pct(r['top1_agreement'])}**",
            f"{_pct(r['top1_acc_fp32'])} / {_pct(r['top1_acc_q4_1'])}",
            f"{r['kl_per_token']:.4f}",
        ]
        for text, r in doc["perplexity"].items()
    ]
    cols = [
        "held-out text",
        "tokens",
        "perplexity fp32",
        "perplexity Q4_1",
        "**Q4_1 / fp32**",
        "**same greedy token**",
        "next token right: fp32 / Q4_1",
        "KL fp32 ‖ Q4_1 per token",
    ]
    rc, tk, s = doc["recall"], doc["tokenization"], doc["settings"]
    n = rc["questions"]
    flips = [x["question"] for x in doc.get("answers", []) if x["right_fp32"] != x["right_q4_1"]]
    out = markdown_table(cols, rows) + "\n\n"
    out += (
        f"General-knowledge recall ({n} questions, chat template, greedy, {s['new_tokens']} tokens): fp32 "
        f"**{round(rc['fp32'] * n)}/{n}**, Q4_1 **{round(rc['q4_1'] * n)}/{n}**, the same answer tokens on "
        f"{round(rc['same_answer'] * n)}/{n}" + (f"; right for one only: {'; '.join(flips)}" if flips else "") + ". "
    )
    differing = ", ".join(tk["docs_differing"]) or "none"
    out += (
        f"llama.cpp's own tokenization differs from the HF tokenizer's on documents: {differing}; on "
        f"{tk['prompts_differing']} of {tk['prompts_checked']} chat prompts (both models got the HF ids). Documents: "
        f"{', '.join(s['docs'])}; windows of {s['window']} tokens (at most {s['max_windows']} per document), "
        f"{s['threads']} threads, load average {(doc.get('machine') or {}).get('load_avg_1m')} at the start. "
        f"Run: {provenance(doc)}.\n"
    )
    return out


def contention_table() -> str:
    """memo train's step rate with libgomp's default wait policy and with PASSIVE, with and without a busy core."""
    doc = _load("cpu_contention")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.cpu_contention`_\n"
    rows = []
    for load in ("quiet", "busy"):
        d, p = (doc["rows"][f"{pol}/{load}"]["example_tokens_per_s"] for pol in ("default", "passive"))
        label = "no process added" if load == "quiet" else "+ one process spinning on a core"
        rows.append([label, d, p, f"**{doc['passive_over_default'][load]}x**"])
    cols = ["machine", "OMP_WAIT_POLICY unset (example tok/s)", "PASSIVE (example tok/s)", "PASSIVE / unset"]
    s = doc.get("settings") or {}
    load = (doc.get("machine") or {}).get("load_avg_1m")
    return (
        markdown_table(cols, rows)
        + f"\n\n{s.get('steps')} steps per cell, {s.get('repeats')} repeat(s), {s.get('threads')} threads, load "
        f"average {load} at the start (what else ran: see the text above). Run: {provenance(doc)}.\n"
    )


def optimizer_table() -> str:
    """AdamW's step on the 135M's parameters: torch's CPU default, foreach, and fused (what the trainer uses)."""
    doc = _load("optimizer_step")
    if doc is None or "commit" not in doc:
        return "_no result file with provenance: run `python -m benchmarks.optimizer_step`_\n"
    res = doc["results"]
    slow = next(iter(res.values()))["step_s"]["median"]
    rows = [
        [
            name,
            f"{1e3 * r['step_s']['median']:.0f}",
            f"**{slow / r['step_s']['median']:.1f}x**",
            f"{1e3 * r['clip_s']['median']:.0f}",
            f"{r['max_abs_diff']:.1e}",
        ]
        for name, r in res.items()
    ]
    cols = ["AdamW implementation", "step ms (median)", "speed-up", "gradient clip ms", "max abs diff vs per-tensor"]
    s = doc["settings"]
    return (
        markdown_table(cols, rows)
        + f"\n\n{s['params'] / 1e6:.0f}M parameters, {s['threads']} threads, {s['repeats']} steps each, in turn. "
        f"Run: {provenance(doc)}.\n"
    )


TABLES = {
    "optimizer_step": optimizer_table,
    "synthesis_coverage": coverage_table,
    "memory_recall": recall_table,
    "epoch_curve": epoch_curve_table,
    "grammar_cost": grammar_table,
    "training_ab": training_ab_table,
    "executives": executives_table,
    "handread": handread_table,
    "base_dequant": base_dequant_table,
    "cpu_contention": contention_table,
}


def render(text: str) -> str:
    def fill(m: re.Match) -> str:
        make = TABLES.get(m.group("name"))
        body = make() if make else m.group("body")
        return f"{m.group(1)}{body}{m.group(4)}"

    return _BLOCK.sub(fill, text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.results_md", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    a = p.parse_args(argv)
    text = RESULTS_MD.read_text(encoding="utf-8")
    new = render(text)
    if a.check:
        stale = new != text
        print("RESULTS.md is stale: run `make results`" if stale else "RESULTS.md matches the result files")
        return int(stale)
    RESULTS_MD.write_text(new, encoding="utf-8")
    print(f"rewrote {len(_BLOCK.findall(new))} generated tables in {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
