"""train(): reflections -> a MEMORY checkpoint directory. One code path for a laptop CPU and `accelerate launch`."""

from __future__ import annotations

import hashlib
import json
import math
import os
import contextlib
import random
import shutil
import signal
import time
from pathlib import Path

import torch
from rich.console import Console

from memo_edge.atomic import atomic_dir, write_json, write_jsonl
from memo_edge.errors import MemoError
from memo_edge.models import resolve_model
from memo_edge.procstats import peak_rss_mb
from memo_edge.prompt import MemoryPrompt
from memo_edge.records import load_eval_items
from memo_edge.settings import env, variable

from . import state as st
from .accelerator import bf16_available, make_accelerator
from .batches import Prefetch, build_step, epoch_order, to_device
from .config import TrainConfig, needs_checkpointing
from .data import Splits, fingerprint, make_splits, memory_prompt_for, read_reflections, tokenize_examples
from .estimate import Estimate
from .evaluate import answer, recall_report
from .models import (
    add_lora,
    apply_liger,
    attention_impl,
    check_method,
    fused_linear_ce,
    load_model,
    load_tokenizer,
    merged_from_adapter,
    n_params,
    quiet_transformers,
)
from .mix import mix_in
from .packing import packed_loss
from .progress import TrainBar

KILL_ENV = variable("train_kill_after_step")  # tests: SIGKILL ourselves right after this optimizer step
# benchmarks: profile optimizer steps 6-9 with torch.profiler and write the op table to "$MEMO_TRAIN_PROFILE.txt"
PROFILE_ENV = variable("train_profile")


def make_scheduler(opt, cfg: TrainConfig, total: int):
    """Linear warm-up over warmup_ratio of the steps, then constant, cosine or linear decay. Not transformers'
    get_scheduler: its warm-up starts at lr 0 (a wasted first step), which on the tiny continual-replay setup moved
    old-set recall after the update from 15/18 to 10/18 (measured); this one starts at 1/(warm+1) of the peak."""
    warm = math.ceil(cfg.warmup_ratio * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        t = (step - warm) / max(1, total - warm)
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * t))
        if cfg.schedule == "linear":
            return 1 - t
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, f)


def _optimizer(model, cfg: TrainConfig, fused: bool = False):
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel for all parameters. On CUDA it replaces foreach's dozens of launches per step; on a CPU
    # (where torch's default is the per-tensor loop) it took 51 vs 345 ms per step on the 135M with 2 cores
    # (benchmarks/optimizer_step.py), where the optimizer had been ~14% of a CPU training step.
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, **({"fused": True} if fused else {}))


def _run_id(cfg: TrainConfig, data_fp: str, base_dir: Path) -> str:
    base_cfg = (base_dir / "config.json").read_text() if (base_dir / "config.json").is_file() else ""
    blob = json.dumps([cfg.fingerprint_fields(), data_fp, str(base_dir.resolve()), base_cfg], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _stored_prompt(ckpt: Path) -> MemoryPrompt | None:
    p = ckpt / "memory_prompt.json"
    return MemoryPrompt.model_validate_json(p.read_text()) if p.is_file() else None


def _old_reflections(init_from: Path, share: float, seed: int):
    """The old memory's reflections (stored by train() in every checkpoint) and the replayed sample of them."""
    from memo_edge.records import load_reflections

    p = init_from / "train_reflections.jsonl"
    if not p.is_file():
        if share:
            raise MemoError(f"{init_from}: no train_reflections.jsonl to replay (was it made by memo train?)")
        return [], []
    old = [r for r in load_reflections(p) if r.type != "idk"]
    rng = random.Random(seed)
    k = min(len(old), round(share * len(old)))
    return old, rng.sample(old, k)


class _Run:
    """The state of one training run; methods are the phases of train()."""

    def __init__(
        self, reflections_path: Path, out_dir: Path, cfg: TrainConfig, progress: bool, corpus: Path | None = None
    ):
        self.t0 = time.time()
        self.out_dir, self.reflections_path = Path(out_dir), Path(reflections_path)
        self.corpus = Path(corpus) if corpus else None
        check_method(cfg.method)
        self.rows = read_reflections(self.reflections_path)
        quiet_transformers()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        cfg = cfg.model_copy(update={"bf16": bf16_available()}) if cfg.bf16 is None else cfg
        self.acc = make_accelerator(bool(cfg.bf16))
        self.main = self.acc.is_main_process
        self.console = Console(stderr=True, quiet=not (progress and self.main))
        if not self.console.is_terminal:
            self.console.width = 160  # log files: one line per message
        self.progress = progress and self.main
        self.init_from = resolve_model(cfg.init_from) if cfg.init_from else None
        self.base_dir = self.init_from or resolve_model(cfg.base)
        self.tok = load_tokenizer(self.base_dir)
        self.prompt = (_stored_prompt(self.init_from) if self.init_from else None) or memory_prompt_for(self.tok)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        # Weights stay fp32 (autocast does the bf16 math); QLoRA's 4-bit base computes in bf16 on CUDA.
        self.attn = attention_impl(cfg.attention)
        self.model = load_model(
            self.base_dir, cfg.method, bf16=bool(cfg.bf16) and cfg.method == "qlora", attn_impl=self.attn
        )
        self.n_params = n_params(self.model)
        on_cuda = torch.cuda.is_available()
        mem = torch.cuda.get_device_properties(0).total_memory if on_cuda else 0
        if cfg.gradient_checkpointing is None:
            cfg = cfg.model_copy(update={"gradient_checkpointing": needs_checkpointing(cfg.method, self.n_params, mem)})
        self.cfg = cfg
        self.attn = getattr(self.model.config, "_attn_implementation", None) or self.attn
        self.timing = {"forward_s": 0.0, "backward_s": 0.0, "optimizer_s": 0.0, "eval_s": 0.0, "save_s": 0.0}

    # ---- data -------------------------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        cfg = self.cfg
        self.old_all, replay = _old_reflections(self.init_from, cfg.replay, cfg.seed) if self.init_from else ([], [])
        self.splits: Splits = make_splits(self.rows, cfg)
        self.splits.train += replay
        self.splits.counts["replayed"] = len(replay)
        self.examples, self.skipped = tokenize_examples(self.splits.train, self.tok, self.prompt, cfg.max_seq_len)
        if not self.examples:
            raise MemoError(
                f"{self.reflections_path}: no trainable examples: all {len(self.splits.train)} are longer "
                f"than max_seq_len={cfg.max_seq_len} tokens"
            )
        mixed = mix_in(self.splits.train, len(self.examples), self.corpus, self.tok, self.prompt, cfg)
        self.examples += mixed.examples
        self.skipped += mixed.skipped
        self.splits.counts.update(mixed.counts)
        if self.skipped:
            self.console.print(f"[yellow]skipped {len(self.skipped)} reflections longer than {cfg.max_seq_len} tokens")
        rng = random.Random(cfg.seed + 1)
        present = [r for r in self.splits.train if r.type != "idk"]
        self.train_sample = rng.sample(present, min(cfg.eval_train_sample, len(present)))
        self.old_sample = rng.sample(self.old_all, min(cfg.eval_train_sample, len(self.old_all)))
        self.data_fp = fingerprint(self.splits.train)
        probe = env().train_probe
        self.probe = load_eval_items(probe) if probe else []
        # the corpus only where its text is trained on: a run without text resumes whatever the corpus
        data_id = fingerprint(self.rows) + (f"+text:{mixed.corpus_fingerprint}" if mixed.corpus_fingerprint else "")
        self.run_id = _run_id(cfg, data_id, self.base_dir)

    # ---- model / optimizer ------------------------------------------------------------------------------------
    def prepare_model(self) -> None:
        cfg = self.cfg
        if cfg.method in ("lora", "qlora"):
            torch.manual_seed(cfg.seed)
            self.model = add_lora(self.model, cfg)
        if cfg.gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.config.use_cache = False
        self.fused_ce = None
        if cfg.liger:
            apply_liger(self.model)
            self.fused_ce = fused_linear_ce(self.acc)
        self.world = self.acc.num_processes
        self.steps_per_epoch = math.ceil(len(self.examples) / (cfg.batch_size * cfg.grad_accum * self.world))
        self.total_steps = cfg.epochs * self.steps_per_epoch
        ds = getattr(self.acc.state, "deepspeed_plugin", None)
        if ds is not None:
            # No dataloader for accelerate to infer it from: one packed batch per process per step.
            ds.deepspeed_config["train_micro_batch_size_per_gpu"] = 1
            ds.deepspeed_config["gradient_accumulation_steps"] = 1
        sharded = self.acc.distributed_type.value in ("FSDP", "DEEPSPEED")
        opt = _optimizer(
            self.model, cfg, fused=self.acc.device.type in ("cuda", "cpu") and not sharded and cfg.method != "qlora"
        )
        self.scheduler = make_scheduler(opt, cfg, self.total_steps)
        self.model, self.opt = self.acc.prepare(self.model, opt)
        self.acc.register_for_checkpointing(self.scheduler)

    # ---- resume -----------------------------------------------------------------------------------------------
    def load_resume(self) -> dict:
        work = st.work_dir(self.out_dir)
        prog = None if self.cfg.fresh else st.load_progress(work)
        if prog and prog.get("run_id") != self.run_id:
            self.console.print(
                "[yellow]the resume state in this directory is from a different run "
                "(data, base or config changed): starting over"
            )
            prog = None
        if prog:
            self.acc.load_state(prog["_dir"])
            st.truncate_metrics(work, prog["global_step"]) if self.main else None
            self.console.print(
                f"resuming from step {prog['global_step']} of {self.total_steps} "
                f"(epoch {prog['epoch'] + 1}, checkpoint in {work})"
            )
            return prog
        if self.main:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        self.acc.wait_for_everyone()
        return {
            "run_id": self.run_id,
            "epoch": 0,
            "step_in_epoch": 0,
            "global_step": 0,
            "history": [],
            "best": None,
            "train_time_s": 0.0,
            "tokens": 0,
            "example_tokens": 0,
        }

    # ---- evaluation -------------------------------------------------------------------------------------------
    def eval_tokens(self, sets: dict) -> int:
        """Generation budget: the longest gold answer + 8 tokens (a longer answer cannot be an exact match), so an
        untrained model that never stops does not make early evaluations slow."""
        golds = [r.answer for rows in sets.values() for r in rows] + [self.prompt.idk_answer]
        golds += [a for it in self.probe for a in (it.answer, *it.answer_aliases)]
        longest = max(len(self.tok(g, add_special_tokens=False)["input_ids"]) for g in golds)
        return min(self.cfg.eval_max_new_tokens, longest + 8)

    def evaluate(self, sets: dict) -> dict:
        model = self.acc.unwrap_model(self.model)
        sharded = self.world > 1
        max_new = self.eval_tokens(sets)

        def answer_fn(qs):
            if not sharded:
                return answer(model, self.tok, self.prompt, qs, max_new, self.cfg.eval_batch_size)
            from accelerate.utils import gather_object

            per = math.ceil(len(qs) / self.world)
            mine = qs[self.acc.process_index * per : (self.acc.process_index + 1) * per] or qs[:1]
            got = answer(
                model,
                self.tok,
                self.prompt,
                mine + [mine[-1]] * (per - len(mine)),
                max_new,
                self.cfg.eval_batch_size,
                synced_gpus=True,
            )
            return gather_object(got[: len(mine)] if mine is not qs[:1] else [])[: len(qs)]

        # The same autocast as the training steps: matmuls in bf16 where the hardware has it; the weights are cast
        # once per check (autocast caches casts of trainable leaf tensors until the context closes), not per token.
        with self.acc.autocast():
            return recall_report(
                model,
                self.tok,
                self.prompt,
                sets,
                max_new,
                self.cfg.eval_batch_size,
                answer_fn=answer_fn,
                probe=self.probe,
            )

    def eval_sets(self) -> dict:
        return {"heldout": self.splits.heldout, "train": self.train_sample, "idk_eval": self.splits.idk_eval}

    # ---- the loop ---------------------------------------------------------------------------------------------
    def build(self, order: list[int], s: int):
        cfg = self.cfg
        return build_step(
            self.examples,
            order,
            s,
            batch_size=cfg.batch_size,
            grad_accum=cfg.grad_accum,
            world=self.world,
            rank=self.acc.process_index,
            packing=cfg.packing,
            share_prefix=not self.attn.startswith("flash"),
            max_row_tokens=cfg.max_row_tokens,
            pad_id=self.tok.pad_token_id or 0,
        )

    def step(self, step) -> torch.Tensor:
        """One optimizer step over the step's micro-batches; returns this process's mean token loss ON THE DEVICE.

        Each micro-batch's summed loss is scaled by processes / (label tokens of the whole step, all processes):
        after DDP's gradient average that is exactly the token-mean loss of one big batch, whatever grad_accum.
        Nothing here reads a value back from the device; the timings are exact on a CPU (synchronous), on a GPU they
        are the host's launch time only.
        """
        tm, now = self.timing, time.perf_counter
        scale = self.world / step.global_labels
        total = None
        n = len(step.micro)
        for i, (batch, weight) in enumerate(step.micro):
            sync = self.world == 1 or i == n - 1
            with contextlib.nullcontext() if sync else self.acc.no_sync(self.model):
                t = now()
                loss_sum, _ = packed_loss(self.model, batch, self.attn, self.fused_ce)
                t2 = now()
                self.acc.backward(loss_sum * (weight * scale))
                tm["forward_s"] += t2 - t
                tm["backward_s"] += now() - t2
            total = loss_sum.detach() if total is None else total + loss_sum.detach()
        t = now()
        self.acc.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
        self.opt.step()
        self.scheduler.step()
        self.opt.zero_grad(set_to_none=True)
        tm["optimizer_s"] += now() - t
        return total / max(1, step.labels)

    def flush(self, pending: list[dict], prog: dict, bar: TrainBar, work: Path, desc: str) -> None:
        """Read the pending steps' losses back in ONE device sync, then write their metrics lines (no fsync)."""
        if not pending:
            return
        losses = torch.stack([r.pop("loss_t") for r in pending]).float().cpu().tolist()
        t = time.perf_counter()
        dt, self.clock = t - self.clock, t
        prog["train_time_s"] += dt
        self.session_train_s += dt
        tokens = sum(r["computed_tokens"] for r in pending)
        ex_tokens = sum(r["example_tokens"] for r in pending)
        wall = time.time()
        for r, loss in zip(pending, losses):
            # tokens_per_s: the average over the steps of this read-back (one step on a CPU, log_every on a GPU)
            r.update(loss=loss, tokens_per_s=tokens / dt, example_tokens_per_s=ex_tokens / dt, time=wall)
            self.ep_losses.append(loss)
        if self.main:
            st.append_metrics(work, pending)
        bar.update(losses[-1], tokens / dt, desc=desc, advance=len(pending))
        self.flushes.append((prog["global_step"], prog["train_time_s"]))
        self.maybe_refine(prog, bar)
        pending.clear()

    def maybe_refine(self, prog: dict, bar: TrainBar) -> None:
        """Replace the prior estimate by the measured s/step once two flush points past the first step exist."""
        if self.estimate.s_per_step is not None or len(self.flushes) < 2 or prog["global_step"] < 3:
            return
        (s0, t0), (s1, t1) = self.flushes[0], self.flushes[-1]
        self.estimate.refine(s_per_step=(t1 - t0) / (s1 - s0), after_steps=s1)
        self.log_estimate(prog, bar)

    def log_estimate(self, prog: dict, bar: TrainBar) -> None:
        bar.note(self.estimate.line())
        if self.main:
            st.append_metrics(
                st.work_dir(self.out_dir), {"kind": "estimate", "step": prog["global_step"], **self.estimate.as_dict()}
            )

    def fit(self, prog: dict) -> dict:
        cfg, work = self.cfg, st.work_dir(self.out_dir)
        self.flushes: list[tuple[int, float]] = []
        self.session_train_s = 0.0
        hooks = env()
        self.profiler = _StepProfiler(hooks.train_profile)
        log_every = cfg.log_every
        with TrainBar(self.total_steps, prog["global_step"], self.progress, self.console) as bar:
            self.log_estimate(prog, bar)
            for epoch in range(prog["epoch"], cfg.epochs):
                order = epoch_order(len(self.examples), cfg.seed, epoch)
                start = prog["step_in_epoch"] if epoch == prog["epoch"] else 0
                desc = f"epoch {epoch + 1}/{cfg.epochs}"
                self.ep_losses, pending = [], []
                batches = Prefetch(
                    lambda s: self.build(order, s),
                    range(start, self.steps_per_epoch),
                    pin=self.acc.device.type == "cuda",
                )
                self.clock = time.perf_counter()
                try:
                    for s, step in batches:
                        self.profiler.tick(prog["global_step"])
                        loss = self.step(to_device(step, self.acc.device))
                        prog["global_step"] += 1
                        prog["tokens"] += step.tokens
                        prog["example_tokens"] += step.example_tokens
                        pending.append(
                            {
                                "kind": "step",
                                "step": prog["global_step"],
                                "epoch": epoch + 1,
                                "loss_t": loss,
                                "lr": self.scheduler.get_last_lr()[0],
                                "rows": sum(int(b.input_ids.shape[0]) for b, _ in step.micro),
                                "row_len": max(int(b.input_ids.shape[1]) for b, _ in step.micro),
                                "computed_tokens": step.tokens,
                                "example_tokens": step.example_tokens,
                            }
                        )
                        save = (
                            cfg.save_every_steps
                            and prog["global_step"] % cfg.save_every_steps == 0
                            and s < self.steps_per_epoch - 1
                        )
                        kill = hooks.train_kill_after_step == prog["global_step"]
                        if len(pending) >= log_every or save or kill or s == self.steps_per_epoch - 1:
                            self.flush(pending, prog, bar, work, desc)
                        if save:
                            st.save_state(self.acc, work, {**prog, "epoch": epoch, "step_in_epoch": s + 1})
                            self.clock = time.perf_counter()
                        if kill:
                            os.kill(os.getpid(), signal.SIGKILL)
                finally:
                    batches.close()
                self.end_epoch(epoch, self.ep_losses, prog, bar)
        return prog

    def end_epoch(self, epoch: int, losses: list[float], prog: dict, bar: TrainBar) -> None:
        cfg, work = self.cfg, st.work_dir(self.out_dir)
        t = time.perf_counter()
        checked = cfg.checked(epoch + 1)
        rep = self.evaluate(self.eval_sets()) if checked else None
        eval_s = time.perf_counter() - t
        self.timing["eval_s"] += eval_s
        row = {
            "kind": "epoch",
            "step": prog["global_step"],
            "epoch": epoch + 1,
            "train_loss": sum(losses) / max(1, len(losses)) if losses else None,
            "eval_s": round(eval_s, 3),
        }
        if rep:
            row.update(rep)
        # the history (memo_train.json) keeps the scores; metrics.jsonl keeps every set's examples and probe answer
        prog["history"].append({k: v for k, v in row.items() if k not in ("sets", "probe")})
        if rep and "probe" in rep:
            prog["history"][-1]["probe"] = rep["probe"]["by_group"]
        if self.main:
            st.append_metrics(work, row)
        t = time.perf_counter()
        best = prog["best"]
        if rep and (best is None or rep["score"] > best["score"] or not cfg.keep_best):
            prog["best"] = {"epoch": epoch + 1, "score": rep["score"]}
            st.save_weights(self.acc, self.model, self.tok, work / "best")
        bar.note(_epoch_line(row))
        if cfg.resume_state or cfg.keep_state:
            st.save_state(self.acc, work, {**prog, "epoch": epoch + 1, "step_in_epoch": 0})
        save_s = time.perf_counter() - t
        self.timing["save_s"] += save_s
        prog.update(epoch=epoch + 1, step_in_epoch=0)
        prog.setdefault("checks_s", []).append(round(eval_s + save_s, 3))
        if checked and self.estimate.check_s is None:
            self.estimate.refine(check_s=eval_s + save_s)
            self.log_estimate(prog, bar)


class _StepProfiler:
    """torch.profiler over a few steps past the warm-up, on request (PROFILE_ENV): where a step's time goes."""

    FIRST, LAST = 5, 9

    def __init__(self, prefix: str | None):
        self.prefix, self.prof = prefix, None

    def tick(self, done: int) -> None:
        if not self.prefix:
            return
        if done == self.FIRST and self.prof is None:
            from torch.profiler import ProfilerActivity, profile

            acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
            self.prof = profile(activities=acts)
            self.prof.__enter__()
            self.t0 = time.perf_counter()
        elif done == self.LAST and self.prof is not None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            wall = time.perf_counter() - self.t0
            self.prof.__exit__(None, None, None)
            ka = self.prof.key_averages()
            key = "self_device_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
            busy = sum(getattr(e, "self_device_time_total", 0) for e in ka) / 1e6 if torch.cuda.is_available() else None
            head = f"steps {self.FIRST + 1}-{self.LAST}: wall {wall:.3f} s" + (
                f", GPU kernels {busy:.3f} s ({100 * busy / wall:.0f}% busy)" if busy is not None else ""
            )
            Path(self.prefix + ".txt").write_text(
                head
                + "\n"
                + ka.table(sort_by=key, row_limit=25)
                + "\n"
                + ka.table(sort_by="self_cpu_time_total", row_limit=25)
            )
            self.prefix, self.prof = None, None


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _epoch_line(row: dict) -> str:
    if "recall_em" not in row:
        return f"epoch {row['epoch']}: loss {_fmt(row['train_loss'])}  (recall is checked from epoch --eval-from, every --eval-every)"
    return (
        f"epoch {row['epoch']}: loss {_fmt(row['train_loss'])}  held-out EM/F1 {_fmt(row['recall_em'])}/"
        f"{_fmt(row['recall_f1'])}  trained EM {_fmt(row['train_em'])}  IDK on absent {_fmt(row['idk_rate'])}  "
        f"false IDK {_fmt(row['false_idk_rate'])}  (check {row['eval_s']:.1f} s)"
    )


def _finish(run: _Run, prog: dict, old_before: dict | None) -> dict:
    """Write CKPT_DIR atomically: best-epoch weights, prompt, provenance, metrics, plot."""
    cfg, work, acc = run.cfg, st.work_dir(run.out_dir), run.acc
    best_epoch = prog["best"]["epoch"]
    final = next(h for h in prog["history"] if h["epoch"] == best_epoch)
    old_after = None
    if run.old_sample:
        from .evaluate import recall_report as rr

        model = _final_model(run, work)
        sets = {"train": run.old_sample}
        old_after = rr(model, run.tok, run.prompt, sets, run.eval_tokens(sets), cfg.eval_batch_size)
    summary = {
        "best_epoch": best_epoch,
        "recall_em": final["recall_em"],
        "recall_f1": final["recall_f1"],
        "train_em": final["train_em"],
        "train_f1": final["train_f1"],
        "idk_rate": final["idk_rate"],
        "false_idk_rate": final["false_idk_rate"],
        "final_loss": prog["history"][-1]["train_loss"],
        "steps": prog["global_step"],
        "epochs": cfg.epochs,
        "train_time_s": round(prog["train_time_s"], 1),
        "tokens_per_s": prog["tokens"] / max(prog["train_time_s"], 1e-9),
        "example_tokens_per_s": prog["example_tokens"] / max(prog["train_time_s"], 1e-9),
        "wall_s": round(time.time() - run.t0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "skipped": len(run.skipped),
        "n_params": run.n_params,
        **_time_split(run),
    }
    if old_before is not None:
        summary["old_recall_before"] = {"em": old_before["train_em"], "f1": old_before["train_f1"]}
        summary["old_recall_after"] = {"em": old_after["train_em"], "f1": old_after["train_f1"]}
    if acc.is_main_process:
        _write_checkpoint(run, prog, summary)
    acc.wait_for_everyone()
    return {**summary, "out_dir": str(run.out_dir), "history": prog["history"]}


def _time_split(run: _Run) -> dict:
    """Where this process's time went (this invocation only, not earlier runs before a resume).

    host_share: the part of the steps' wall time spent outside forward, backward and the optimizer (batch building,
    logging, the loop itself); exact on a CPU, where every op is synchronous. On a GPU the timers only see kernel
    launches, so it is left out there (benchmarks/gpu_training.py measures GPU utilization instead).
    """
    tm = {k: round(v, 2) for k, v in run.timing.items()}
    steps_s = run.session_train_s
    compute = run.timing["forward_s"] + run.timing["backward_s"] + run.timing["optimizer_s"]
    checks = run.timing["eval_s"] + run.timing["save_s"]
    out = {
        "timing": {**tm, "steps_s": round(steps_s, 2)},
        "checks_share": round(checks / max(1e-9, time.time() - run.t0), 4),
        "host_share": None,
        "attention": run.attn,
        "optimizer": "adamw-fused" if getattr(run.opt, "optimizer", run.opt).defaults.get("fused") else "adamw",
        "peak_gpu_mb": _peak_gpu_mb(),
        "effective_batch": run.cfg.batch_size * run.cfg.grad_accum * run.world,
        "estimate": run.estimate.as_dict(),
    }
    if run.acc.device.type == "cpu" and steps_s > 0:
        out["host_share"] = round(max(0.0, 1 - compute / steps_s), 4)
    return out


def _peak_gpu_mb() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None


def _final_model(run: _Run, work: Path):
    if run.cfg.method == "full":
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(str(work / "best"))
    return merged_from_adapter(run.base_dir, work / "best")


def _write_checkpoint(run: _Run, prog: dict, summary: dict) -> None:
    cfg, work = run.cfg, st.work_dir(run.out_dir)
    with atomic_dir(run.out_dir) as tmp:
        if cfg.method == "full":
            for f in (work / "best").iterdir():
                os.replace(f, tmp / f.name)
        else:
            shutil.copytree(work / "best", tmp / "adapter")
            if cfg.merge:
                _final_model(run, work).save_pretrained(str(tmp))
            else:
                for f in (work / "best").iterdir():
                    os.replace(f, tmp / f.name)
        run.tok.save_pretrained(str(tmp))
        write_json(tmp / "memory_prompt.json", run.prompt.model_dump())
        present = [r for r in run.rows + run.splits.train if r.type != "idk"]
        seen, keep = set(), []
        for r in run.old_all + present:
            if (r.question, r.answer) not in seen:
                seen.add((r.question, r.answer))
                keep.append(r.model_dump())
        write_jsonl(tmp / "train_reflections.jsonl", keep)
        shutil.copy(work / "metrics.jsonl", tmp / "metrics.jsonl")
        write_json(tmp / "memo_train.json", _provenance(run, prog, summary))
        _plot(tmp)
        if cfg.keep_state and (work / "state").is_dir():
            os.replace(work / "state", tmp / "state")


def _provenance(run: _Run, prog: dict, summary: dict) -> dict:
    card_path = run.reflections_path.with_name(run.reflections_path.stem + ".card.json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return {
        "format": "memo-train-v1",
        "run_id": run.run_id,
        "base": run.cfg.base,
        "base_dir": str(run.base_dir),
        "init_from": str(run.init_from) if run.init_from else None,
        "root_base_dir": _root_base(run),
        "method": run.cfg.method,
        "merged": run.cfg.method == "full" or run.cfg.merge,
        "reflections": str(run.reflections_path),
        "reflections_fingerprint": fingerprint(run.rows),
        "corpus_fingerprint": card.get("corpus_fingerprint"),
        "corpus": _corpus(card),
        "generator": card.get("generator"),
        "counts": run.splits.counts,
        "skipped": run.skipped,
        "config": run.cfg.model_dump(),
        "memory_prompt_version": run.prompt.version,
        "metrics": summary,
        "history": prog["history"],
        "torch": torch.__version__,
        "device": str(run.acc.device),
        "processes": run.acc.num_processes,
    }


def _corpus(card: dict) -> dict:
    """What the memory covers, for the pack's manifest (memo mcp describes its tools with it): the corpus's
    document count and its first titles, from the synthesis card."""
    rows = (card.get("coverage") or {}).get("per_document") or []
    titles = [r.get("title") or r.get("source") for r in rows if isinstance(r, dict)]
    return {"documents": card.get("documents"), "titles": [t for t in titles if t][:50]}


def _root_base(run: _Run) -> str:
    """The pretrained model at the start of a chain of continual updates (what merge subtracts)."""
    if run.init_from and (run.init_from / "memo_train.json").is_file():
        prev = json.loads((run.init_from / "memo_train.json").read_text())
        return prev.get("root_base_dir") or prev.get("base_dir") or str(run.base_dir)
    return str(run.base_dir)


def _plot(ckpt: Path) -> None:
    try:
        from .plot import plot_metrics
    except ImportError:
        return
    plot_metrics(ckpt / "metrics.jsonl", ckpt / "training.png")


def _prior_estimate(run: _Run, prog: dict) -> Estimate:
    cfg = run.cfg
    first = run.build(epoch_order(len(run.examples), cfg.seed, 0), 0)
    checks = sum(1 for e in range(prog["epoch"], cfg.epochs) if cfg.checked(e + 1))
    trainable = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
    return Estimate.prior(
        steps=run.total_steps - prog["global_step"],
        checks=checks,
        tokens_per_step=first.tokens,
        n_params=run.n_params,
        n_trainable=trainable,
        device=run.acc.device.type,
        bf16=bool(cfg.bf16),
        check_questions=len(run.splits.heldout) + len(run.train_sample) + len(run.splits.idk_eval),
    )


def _up_to_date(out_dir: Path, run_id: str) -> dict | None:
    p = Path(out_dir) / "memo_train.json"
    if p.is_file() and not st.work_dir(out_dir).exists():
        try:
            prov = json.loads(p.read_text())
        except json.JSONDecodeError:
            return None
        if prov.get("run_id") == run_id:
            return {**prov["metrics"], "out_dir": str(out_dir), "history": prov.get("history", []), "up_to_date": True}
    return None


def train(
    reflections_path, out_dir, config: TrainConfig | None = None, progress: bool = True, corpus: Path | None = None
) -> dict:
    """Fine-tune the MEMORY model on reflections; write CKPT_DIR (see the module docs); return the metrics.

    `corpus`: the documents the reflections were made from, needed when config.text_fraction > 0.

    Rerunning after an interruption resumes from the last checkpoint inside out_dir; rerunning after success
    with the same data and config returns the stored metrics without training.
    """
    run = _Run(Path(reflections_path), Path(out_dir), config or TrainConfig(), progress, corpus)
    run.prepare_data()
    done = _up_to_date(run.out_dir, run.run_id)
    if done and not run.cfg.fresh:
        run.console.print(f"{run.out_dir}: already trained on this data with this config (use --fresh to retrain)")
        return done
    old_before = None
    if run.old_sample:
        sets = {"train": run.old_sample}
        old_before = recall_report(run.model, run.tok, run.prompt, sets, run.eval_tokens(sets), run.cfg.eval_batch_size)
    run.prepare_model()
    accum = f" x {run.cfg.grad_accum} accumulated" if run.cfg.grad_accum > 1 else ""
    run.console.print(
        f"training {run.cfg.method} on {len(run.examples)} examples "
        f"({run.splits.counts['idk_train_generated']} IDK, {run.splits.counts['text_examples']} document text, "
        f"{run.splits.counts['profile_examples']} profiles), {run.cfg.epochs} epochs x "
        f"{run.steps_per_epoch} steps, batch {run.cfg.batch_size}{accum}, lr {run.cfg.lr:g} "
        f"({run.cfg.schedule}); held-out {len(run.splits.heldout)}, absent-entity "
        f"{len(run.splits.idk_eval)}; {run.attn} attention on {run.acc.device}"
    )
    prog = run.load_resume()
    run.estimate = _prior_estimate(run, prog)
    prog = run.fit(prog)
    return _finish(run, prog, old_before)
