"""Run the export's checks on a freshly built ONNX pack and return (metrics, providers tested)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from memo_edge.errors import MemoError
from memo_edge.pack import Pack

from .checkpoint import Checkpoint
from .config import ExportConfig
from .report import Reporter
from .verify import TorchReference, check_parity, cut_at_stops, heldout_slice, near_tie, parity_prompts, recall

RECALL_MAX_NEW = 48
BATCH = 16


def _engine(pack: Pack):
    try:
        from memo_edge.runtime import Engine
    except ImportError as e:
        return None, f"the runtime engine is not importable ({e})"
    # fp16 is meant for CUDA: let the runtime pick it when a GPU is present; everything else is checked on CPU
    provider = None if pack.manifest.precision == "fp16" else "cpu"
    try:
        return Engine(pack, provider=provider), None
    except MemoError as e:
        return None, str(e)


def verify_onnx_pack(
    pack: Pack, ckpt: Checkpoint, cfg: ExportConfig, reflections: Path | None, rep: Reporter
) -> tuple[dict[str, Any], list[str]]:
    m = pack.manifest
    engine, why = _engine(pack)
    if engine is None:
        if cfg.precision != "fp16":
            raise MemoError(
                f"{ckpt.root}: the exported {cfg.precision} graph does not load in onnxruntime on CPU ({why})"
            )
        # fp16 targets the CUDA execution provider; the CPU provider lacks fp16 kernels for some fused ops.
        warnings.warn(f"fp16 pack not verified here: {why}", stacklevel=2)
        return {"verify": {"status": "skipped", "reason": why}}, []
    stop_ids = set(m.special_tokens.stop_token_ids)
    held = heldout_slice(reflections, cfg.heldout, cfg.heldout_seed) if reflections and cfg.heldout else []
    with rep.step("loading the checkpoint in torch for the fp32 reference"):
        ref = TorchReference(ckpt.root, pack.path("tokenizer"))
    prompts = parity_prompts(m.prompt, [r.question for r in held], cfg.parity_prompts)
    with rep.step(f"greedy parity, ONNX {cfg.precision} vs torch fp32, {len(prompts)} prompts"):
        parity = check_parity(engine, ref, prompts, cfg.parity_tokens, stop_ids)
    bad = [r for r in parity["rows"] if not r["equal"] and not near_tie(r)]
    if cfg.precision == "fp32" and bad:
        raise MemoError(
            f"{ckpt.root}: fp32 ONNX greedy tokens differ from torch on {len(bad)}/{len(prompts)} prompts "
            f"(first after {bad[0]['matching_prefix']} equal tokens, torch's top-2 logit margin there "
            f"{bad[0]['torch_top2_margin']:.3g}); export refused"
        )
    metrics: dict[str, Any] = {"verify": {"status": "ok", "parity": parity}}
    if held:
        metrics["recall"] = _recall(engine, ref, held, cfg, m, stop_ids, rep)
    metrics["onnxruntime_genai"] = (
        genai_check(pack.root, engine, prompts[0])
        if cfg.precision != "fp16"
        else {"status": "skipped", "reason": "fp16 genai_config targets the CUDA provider"}
    )
    return metrics, [engine.providers[0]]


def _recall(engine, ref: TorchReference, held: list, cfg: ExportConfig, m, stop_ids, rep: Reporter) -> dict:
    prompts = [m.prompt.render(r.question) for r in held]
    golds = [r.answer for r in held]
    onnx_answers: list[str] = []
    # the reflections the memory was trained on (sampled): does the pack still know what training taught it?
    what = f"recall on {len(held)} sampled training reflections"
    with rep.bar(f"{what}, ONNX {cfg.precision}", len(held)) as adv:
        for i in range(0, len(prompts), BATCH):
            chunk = prompts[i : i + BATCH]
            outs = engine.generate(
                chunk,
                max_new_tokens=RECALL_MAX_NEW,
                prefix=m.prompt.prefix,
                stop_token_ids=sorted(stop_ids),
                stop=list(m.prompt.stop),
            )
            onnx_answers += [c.text.strip() for c in outs]
            adv(len(chunk))
    out = {"n": len(held), "seed": cfg.heldout_seed, cfg.precision: recall(onnx_answers, golds)}
    if cfg.precision != "fp32":
        with rep.bar(f"{what}, torch fp32 (batched)", len(held)) as adv:
            raw = ref.answers(prompts, RECALL_MAX_NEW, stop_ids, progress=adv)
        torch_answers = [cut_at_stops(a, m.prompt.stop) for a in raw]
        out["fp32"] = recall(torch_answers, golds)
        out["agreement_with_fp32"] = sum(a == b for a, b in zip(onnx_answers, torch_answers)) / len(held)
    got = out[cfg.precision]
    line = f"   {what}: EM {got['em']:.2f} / F1 {got['f1']:.2f} ({cfg.precision})"
    if "fp32" in out and cfg.precision != "fp32":
        line += f", EM {out['fp32']['em']:.2f} / F1 {out['fp32']['f1']:.2f} (torch fp32)"
        line += f", {out['agreement_with_fp32']:.0%} identical answers"
    rep.log(line)
    return out


def genai_check(root: Path, engine, prompt: str, max_new: int = 8) -> dict[str, Any]:
    """The pack must load in onnxruntime-genai as-is; its greedy tokens should match our engine's."""
    try:
        import onnxruntime_genai as og
    except ImportError:
        return {"status": "skipped", "reason": "onnxruntime-genai is not installed"}
    try:
        model = og.Model(str(root))
        tok = og.Tokenizer(model)
        params = og.GeneratorParams(model)
        ids = engine.encode(prompt)
        params.set_search_options(do_sample=False, max_length=len(ids) + max_new)
        gen = og.Generator(model, params)
        gen.append_tokens([ids])
        out: list[int] = []
        while not gen.is_done():
            gen.generate_next_token()
            out.append(int(gen.get_next_tokens()[0]))
        del gen, tok
    except Exception as e:  # onnxruntime-genai raises plain RuntimeError with its own message
        return {"status": "failed", "reason": str(e).splitlines()[0][:200]}
    ours = engine.generate([prompt], max_new_tokens=max_new, stop_token_ids=[])[0].token_ids
    n = min(len(out), len(ours))
    return {"status": "ok", "tokens_equal_engine": out[:n] == list(ours)[:n], "tokens": n}
