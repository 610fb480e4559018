"""How long a run will take, said before its first step and refined from what it measures.

Before any step there is only the arithmetic: FLOPs per step (6 x parameters x computed tokens for full SFT, 4 x
parameters + 2 x trainable for LoRA: the frozen weights get no gradient) over a rate measured for this kind of device
(`PRIOR_FLOPS`). After the first steps the measured seconds per step replace the prior (the very first step is left
out: it allocates and warms kernels), and after the first check (recall evaluation + state save) its measured time
replaces the guess for the checks. Each estimate is printed, logged to metrics.jsonl and kept in memo_train.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Sustained training FLOP/s by device kind. cpu: SmolLM2-135M full SFT on the 2-core AVX512-BF16 VM of
# training/README.md ("Measured"); cuda: a conservative 20% of an H100/H200's bf16 peak, to be replaced by the
# first measured steps.
PRIOR_FLOPS = {"cpu-bf16": 1.3e11, "cpu-fp32": 0.6e11, "cuda": 2.0e14}
# Seconds per greedily answered question in a recall check (held-out, trained sample, absent entities). cpu: a
# 140-step SmolLM2-135M run of 2026-12-06 spent 29.5 s per check of ~96 questions on the 2-core host; before, checks
# were guessed as a quarter of an epoch's steps, which a small corpus made seconds (81 s predicted, 900 s taken).
PRIOR_CHECK_QUESTION_S = {"cpu": 0.3, "cuda": 0.03}


def flops_per_token(n_params: int, n_trainable: int) -> float:
    return 4.0 * n_params + 2.0 * n_trainable


@dataclass
class Estimate:
    steps: int  # optimizer steps left in this run (all of them for a fresh run)
    checks: int  # recall checks left
    initial_s: float  # before any step: steps x prior seconds per step (+ checks)
    basis: str
    s_per_step: float | None = None  # measured, steps after the first
    check_s: float | None = None  # measured, per check (evaluation + state save)
    refined_s: float | None = None
    refined_after_steps: int | None = None

    @classmethod
    def prior(
        cls,
        steps: int,
        checks: int,
        tokens_per_step: float,
        n_params: int,
        n_trainable: int,
        device: str,
        bf16: bool,
        check_questions: int = 96,
    ) -> "Estimate":
        kind = "cuda" if device.startswith("cuda") else ("cpu-bf16" if bf16 else "cpu-fp32")
        per_step = flops_per_token(n_params, n_trainable) * tokens_per_step / PRIOR_FLOPS[kind]
        # a prior until the first check is measured: its greedy answers at a measured rate per question
        check = check_questions * PRIOR_CHECK_QUESTION_S["cuda" if kind == "cuda" else "cpu"]
        basis = (
            f"{tokens_per_step:,.0f} computed tokens/step x {flops_per_token(n_params, n_trainable):.2g} "
            f"FLOP/token at ~{PRIOR_FLOPS[kind] / 1e9:,.0f} GFLOP/s ({kind})"
        )
        return cls(steps=steps, checks=checks, initial_s=steps * per_step + checks * check, basis=basis)

    def refine(self, s_per_step: float | None = None, check_s: float | None = None, after_steps: int = 0) -> float:
        if s_per_step is not None:
            self.s_per_step = s_per_step
            self.refined_after_steps = after_steps
        if check_s is not None:
            self.check_s = check_s
        per_step = self.s_per_step if self.s_per_step is not None else self.initial_s / max(1, self.steps)
        check = self.check_s if self.check_s is not None else 0.0
        self.refined_s = self.steps * per_step + self.checks * check
        return self.refined_s

    def line(self) -> str:
        if self.refined_s is None:
            return (
                f"expected training time: ~{_fmt(self.initial_s)} for {self.steps} steps and {self.checks} checks "
                f"(estimated from {self.basis}; refined after the first steps)"
            )
        parts = []
        if self.s_per_step is not None:
            parts.append(f"{self.steps} steps x {self.s_per_step:.3g} s measured")
        if self.check_s is not None:
            parts.append(f"{self.checks} checks x {self.check_s:.3g} s measured")
        return f"expected training time: ~{_fmt(self.refined_s)} ({' + '.join(parts)})"

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _fmt(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h")


# SmolLM2-135M-Instruct, the default MEMORY base (parameters counted by training/loop.py on the pulled checkpoint).
SMOLLM2_PARAMS = 134_515_008
PROMPT_TOKENS = 8  # chat markup around one question and answer (packing shares the system prefix per row)


def for_reflections(card: dict, n_params: int = SMOLLM2_PARAMS, train=None) -> dict:
    """What `memo train` will cost for a dataset card: examples, steps, and the prior estimate on this kind of CPU
    and on a CUDA GPU (the training log refines it from measured steps). `train`: the TrainConfig the CPU figure is
    for (memo build passes its [train] settings); None = the defaults."""
    from .config import TrainConfig
    from .data import NEVER_HELD_OUT, extra_examples, heldout_size, idk_eval_size, idk_examples

    n = int(card.get("reflections", 0))
    cpu, gpu = train or TrainConfig(), TrainConfig(preset="gpu")
    tokens = (
        PROMPT_TOKENS + card.get("question_length", {}).get("mean", 15) + card.get("answer_length", {}).get("mean", 5)
    )
    defaults = cpu.fingerprint_fields() == TrainConfig().fingerprint_fields()
    out = {"reflections": n, "tokens_per_example": round(tokens, 1), "settings": "defaults" if defaults else "given"}
    by_type = card.get("counts_by_type") or {}
    n_short = n - sum(by_type.get(t, 0) for t in NEVER_HELD_OUT)
    for name, cfg, device, bf16 in (("cpu", cpu, "cpu", True), ("cuda", gpu, "cuda", True)):
        # the same arithmetic as make_splits, so this line and training's own agree on the example count
        held = heldout_size(n_short, cfg.heldout_fraction, cfg.heldout_max)
        pairs = (n - held) + idk_examples(n - held, cfg.idk_fraction)
        shares = cfg.text_fraction + cfg.profile_fraction
        examples = pairs + sum(extra_examples(pairs, f, shares) for f in (cfg.text_fraction, cfg.profile_fraction))
        steps = cfg.epochs * -(-examples // cfg.batch_size)
        asked = held + cfg.eval_train_sample + idk_eval_size(held, cfg.heldout_max, cfg.idk_fraction)
        est = Estimate.prior(steps, cfg.epochs, tokens * cfg.batch_size, n_params, n_params, device, bf16, asked)
        out[name] = {
            "examples_per_epoch": examples,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "steps": steps,
            "seconds": round(est.initial_s),
            "basis": est.basis,
        }
    return out


def card_line(est: dict) -> str:
    c, g = est["cpu"], est["cuda"]
    # the gpu preset differs (batches of 8: more steps): say so, or "more steps on a GPU" reads as a mistake
    said = "the defaults" if est.get("settings", "defaults") == "defaults" else "the given settings"
    return (
        f"training with {said} (SmolLM2-135M full SFT): {c['examples_per_epoch']} examples x {c['epochs']} "
        f"epochs in batches of {c['batch_size']} = {c['steps']} steps, ~{_fmt(c['seconds'])} on a 2-core CPU (a "
        f"prior estimate; the training log refines it from measured steps); on a CUDA GPU `--preset gpu` gives "
        f"{g['epochs']} epochs in batches of {g['batch_size']} = {g['steps']} steps (no GPU rate measured yet)"
    )
