"""GPU training benchmark: `memo train` full / LoRA / QLoRA / accelerate configs vs TRL's SFTTrainer, one run.

Made for one GPU machine that has torch, transformers, peft and accelerate but no package registry; the rest comes
from `.carry/` (python -m benchmarks.gpu_carry). No weights are needed: the bases are random-init models made from
SmolLM2-135M's config and from a SmolLM2-1.7B-shaped config (1.71B parameters). Every contender trains on the same
reflections (the demo corpus's, no held-out or IDK split, so the data are identical) in its own process, and
reports from its own logs:

    example tok/s   tokens of the unpacked examples per second of training steps (what both trainers must learn)
    computed tok/s  tokens the GPU actually ran (packed rows; ours shares one prompt prefix per row)
    MFU             computed tok/s x FLOPs/token (6N full, 4N + 2T LoRA) / the GPU's dense bf16 peak
    steady          rates over the steps after the first 20% (allocation, kernel warm-up left out)
    GPU util        nvidia-smi's utilization.gpu sampled every 200 ms over the training steps
    peak GPU mem    torch.cuda.max_memory_allocated in the trainer's process

    python -m benchmarks.gpu_training                 # on the GPU machine (~4-5 min on one H200)
    python -m benchmarks.gpu_training --quick --cpu   # the same code paths on tiny models, on a CPU (a test)

Goals (issue 12): 1.7B full SFT >= 35% MFU; >= 1.3x TRL's example tok/s on the same data and GPU; the 135M at least
8x the 1.7B's tokens/s. Prints a table, writes JSON + PNG next to --out, last stdout line JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Dense bf16 peak (no sparsity) by device name, from the vendors' data sheets.
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}
SHAPE_1P7B = dict(
    hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32
)
TINY = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
SMALL = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2)


# ---- setup ------------------------------------------------------------------------------------------------------
def use_carry(carry: Path) -> Path | None:
    """Unpack .carry/site.tar.gz once and put it first on the path of this process and its children."""
    tar = carry / "site.tar.gz"
    meta = carry / "carry.json"
    if not tar.is_file() or not meta.is_file():
        return None
    want = json.loads(meta.read_text())["python"]
    if want != f"{sys.version_info.major}.{sys.version_info.minor}":
        print(f"note: {carry} was built for Python {want}; not used by this Python", file=sys.stderr)
        return None
    site = carry / "site"
    if not site.is_dir():
        with tarfile.open(tar) as t:
            t.extractall(carry, filter="data")
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(site), os.environ.get("PYTHONPATH")) if x)
    return site


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for p in (
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "trl",
        "datasets",
        "liger-kernel",
        "bitsandbytes",
        "flash-attn",
        "deepspeed",
        "memo-edge",
    ):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def make_base(src: Path, dest: Path, shape: dict | None, on_gpu: bool) -> int:
    """Random-init model from src's config (reshaped by `shape`), saved in bf16 with src's tokenizer files."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if (dest / "config.json").is_file():
        return json.loads((dest / "n_params.json").read_text())["n_params"]
    cfg = AutoConfig.from_pretrained(str(src))
    for k, v in (shape or {}).items():
        setattr(cfg, k, v)
    if shape:
        cfg.head_dim = cfg.hidden_size // cfg.num_attention_heads
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    n = sum(p.numel() for p in model.parameters())
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dest))
    for f in src.iterdir():
        if f.is_file() and f.name != "config.json" and not f.name.endswith(".safetensors"):
            shutil.copy(f, dest / f.name)
    (dest / "n_params.json").write_text(json.dumps({"n_params": n}))
    del model
    return n


class GpuSampler:
    """nvidia-smi utilization.gpu every 200 ms in a thread, kept with wall times (empty without nvidia-smi)."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []
        self.proc = None
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE,
                text=True,
                stderr=subprocess.DEVNULL,
            )
        except (FileNotFoundError, PermissionError):
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.samples.append((time.time(), float(line.split(",")[0])))
            except ValueError:
                continue

    def mean(self, t0: float, t1: float) -> float | None:
        xs = [u for t, u in self.samples if t0 <= t <= t1]
        return round(sum(xs) / len(xs), 1) if xs else None

    def close(self) -> None:
        if self.proc:
            self.proc.terminate()


# ---- contenders -------------------------------------------------------------------------------------------------
def ours_cmd(c: dict, refl: Path, out: Path) -> list[str]:
    launch = [sys.executable, "-m", "memo_edge.training"]
    if c.get("accelerate"):
        launch = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(ROOT / "training" / "accelerate" / c["accelerate"]),
            "--num_processes",
            "1",
            "-m",
            "memo_edge.training",
        ]
    args = [
        str(refl),
        "-o",
        str(out),
        "--base",
        str(c["base_dir"]),
        "--method",
        c["method"],
        "--epochs",
        str(c["epochs"]),
        "--batch-size",
        str(c["batch"]),
        "--grad-accum",
        str(c.get("accum", 1)),
        "--eval-every",
        str(c["epochs"]),
        "--heldout-fraction",
        "0",
        "--idk-fraction",
        "0",
        "--no-resume-state",
        "--lr",
        "2e-5",
        "--fresh",
    ]
    if c.get("liger"):
        args.append("--liger")
    # the recipe the device's rows were measured with (the explicit flags above win over the preset's)
    lora = "-lora" if c["method"] != "full" else ""
    args += ["--preset", f"cpu{lora or '-default'}" if c.get("cpu") else f"gpu{lora}"]
    if c.get("cpu"):
        args += ["--no-bf16"]
    return launch + args


def steady_from_metrics(metrics: Path, skip: float = 0.2) -> dict:
    rows = [json.loads(ln) for ln in metrics.read_text().splitlines() if ln.strip()]
    steps = [r for r in rows if r.get("kind") == "step"]
    if not steps:
        return {}
    first = steps[int(len(steps) * skip)]["step"] if len(steps) >= 5 else steps[0]["step"]
    keep = [r for r in steps if r["step"] >= first]
    t = sum(r["computed_tokens"] / r["tokens_per_s"] for r in keep)
    return {
        "steady_tokens_per_s": sum(r["computed_tokens"] for r in keep) / t,
        "steady_example_tokens_per_s": sum(r["example_tokens"] for r in keep) / t,
        "t_first_step": steps[0]["time"] - steps[0]["computed_tokens"] / steps[0]["tokens_per_s"],
        "t_last_step": steps[-1]["time"],
        "steps": len(steps),
    }


def run_ours(c: dict, refl: Path, work: Path, timeout: float, profile_dir: Path | None) -> dict:
    out = work / c["name"].replace(" ", "_").replace("/", "_")
    env = dict(os.environ)
    prof = profile_dir / f"profile-{out.name}.txt" if profile_dir else None
    if prof:
        env["MEMO_TRAIN_PROFILE"] = str(prof.with_suffix(""))
    # cwd = the scratch dir: from the repo root, `memo_edge` would resolve to the source folder, which lacks the
    # installed package's memo_edge.training (package-dir mapping); the carried wheel or the venv has it.
    p = subprocess.run(ours_cmd(c, refl, out), capture_output=True, text=True, timeout=timeout, env=env, cwd=work)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:300], "stderr_tail": p.stderr[-2000:]}
    m = json.loads(p.stdout.strip().splitlines()[-1])
    r = {
        "example_tokens_per_s": m["example_tokens_per_s"],
        "tokens_per_s": m["tokens_per_s"],
        "peak_gpu_mb": m.get("peak_gpu_mb"),
        "train_time_s": m["train_time_s"],
        "wall_s": m["wall_s"],
        "steps": m["steps"],
        "attention": m.get("attention"),
        "effective_batch": m.get("effective_batch"),
        "estimate": m.get("estimate"),
        "timing": m.get("timing"),
        "train_em": m.get("train_em"),
    }
    r.update(steady_from_metrics(out / "metrics.jsonl"))
    if prof and prof.is_file():
        r["profile_head"] = prof.read_text().splitlines()[0]
        r["profile_file"] = str(prof)
    return r


def run_trl(c: dict, refl: Path, work: Path, timeout: float) -> dict:
    out = work / c["name"].replace(" ", "_")
    # Run as a script (sys.path[0] = benchmarks/, not the repo root: see run_ours on where memo_edge comes from).
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--trl-worker",
        json.dumps(
            {
                "base": str(c["base_dir"]),
                "refl": str(refl),
                "out": str(out),
                "epochs": c["epochs"],
                "cpu": bool(c.get("cpu")),
                "gradient_checkpointing": c.get("gradient_checkpointing"),
            }
        ),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=work)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:300], "stderr_tail": p.stderr[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def trl_worker(spec: dict) -> None:
    """TRL's SFTTrainer on the same reflections: prompt-completion pairs, the memory prompt, packing (BFD,
    padding-free), completion-only loss, its own defaults otherwise (bf16, gradient checkpointing, lr 2e-5,
    8 sequences of <= 1024 tokens per step)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from memo_edge.training.data import memory_prompt_for, read_reflections, tokenize_examples

    tok = AutoTokenizer.from_pretrained(spec["base"])
    prompt = memory_prompt_for(tok)
    rows = read_reflections(Path(spec["refl"]))
    examples, _ = tokenize_examples(rows, tok, prompt, 256)
    data = Dataset.from_list(
        [{"prompt": prompt.render(r.question), "completion": r.answer.strip() + prompt.answer_end} for r in rows]
    )
    model = AutoModelForCausalLM.from_pretrained(spec["base"], dtype=torch.float32, attn_implementation="sdpa")
    kw = dict(
        output_dir=spec["out"],
        num_train_epochs=spec["epochs"],
        packing=True,
        padding_free=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    if spec["cpu"]:
        kw.update(use_cpu=True, bf16=False)
    if spec.get("gradient_checkpointing") is not None:
        kw["gradient_checkpointing"] = spec["gradient_checkpointing"]
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            times.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter())

        def on_train_end(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter())

    t_wall0 = time.time()
    trainer = SFTTrainer(
        model=model, args=SFTConfig(**kw), train_dataset=data, processing_class=tok, callbacks=[Clock()]
    )
    per_epoch = sum(len(x) for x in trainer.train_dataset["input_ids"])
    t_train0 = time.time()
    trainer.train()
    n = len(times) - 2  # optimizer steps
    total = times[-1] - times[0]
    k = max(1, int(n * 0.2))
    steady_t = times[-1] - times[k]  # steps k+1..n (uniform packed steps: tokens pro rata)
    ep = spec["epochs"]
    ex_tokens = sum(len(e.ids) for e in examples) * ep
    computed = per_epoch * ep
    print(
        json.dumps(
            {
                "example_tokens_per_s": ex_tokens / total,
                "tokens_per_s": computed / total,
                "steady_example_tokens_per_s": ex_tokens * (n - k) / n / steady_t,
                "steady_tokens_per_s": computed * (n - k) / n / steady_t,
                "train_time_s": total,
                "steps": n,
                "wall_s": time.time() - t_wall0,
                "t_first_step": t_train0,
                "t_last_step": time.time(),
                "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)
                if torch.cuda.is_available()
                else None,
                "gradient_checkpointing": trainer.args.gradient_checkpointing,
                "bf16": trainer.args.bf16,
                "batch": trainer.args.per_device_train_batch_size,
                "max_length": trainer.args.max_length,
                "lr": trainer.args.learning_rate,
            }
        )
    )


def contenders(a, bases: dict, have: dict) -> list[dict]:
    """The run list. Full-size: each 135M run ~15-25 s, each 1.7B run ~40-60 s on an H200 (estimates: the first
    GPU run replaces them). 1.7B runs: batch 128 examples per step (TRL's default 8 x 1024-token rows hold ~136)
    and the paper's 512 (128 x 4 accumulated)."""
    small, big = bases["small"], bases["big"]
    e_s, e_b = (3, 2) if a.quick else (10, 6)  # demo reflections: 1,101 with the spaCy generator (~9 steps of 128)
    b_s, b_b = (8, 8) if a.quick else (128, 128)
    cpu = {"cpu": a.cpu}
    cs = [
        dict(name="135M full", kind="ours", base="small", method="full", epochs=e_s, batch=b_s, **cpu),
        dict(name="135M LoRA", kind="ours", base="small", method="lora", epochs=e_s, batch=b_s, **cpu),
        dict(
            name="135M QLoRA",
            kind="ours",
            base="small",
            method="qlora",
            epochs=e_s,
            batch=b_s,
            skip=None if have["bitsandbytes"] and not a.cpu else "needs bitsandbytes and CUDA",
            **cpu,
        ),
        dict(
            name="135M TRL SFTTrainer",
            kind="trl",
            base="small",
            epochs=e_s,
            skip=None if have["trl"] else "trl not importable",
            **cpu,
        ),
        dict(
            name="135M full DDP x1",
            kind="ours",
            base="small",
            method="full",
            epochs=e_s,
            batch=b_s,
            accelerate="ddp.yaml",
            skip="needs CUDA" if a.cpu else None,
            **cpu,
        ),
        dict(
            name="135M full FSDP x1",
            kind="ours",
            base="small",
            method="full",
            epochs=e_s,
            batch=b_s,
            accelerate="fsdp.yaml",
            skip="needs CUDA" if a.cpu else None,
            **cpu,
        ),
        dict(
            name="135M full ZeRO-2 x1",
            kind="ours",
            base="small",
            method="full",
            epochs=e_s,
            batch=b_s,
            accelerate="deepspeed_zero2.yaml",
            skip=None
            if have["deepspeed"] and not a.cpu
            else "needs deepspeed and CUDA (not in the image, too big to carry)",
            **cpu,
        ),
        dict(name="1.7B full", kind="ours", base="big", method="full", epochs=e_b, batch=b_b, profile=True, **cpu),
        dict(
            name="1.7B full b512",
            kind="ours",
            base="big",
            method="full",
            epochs=e_b,
            batch=b_b,
            accum=1 if a.quick else 4,
            **cpu,
        ),
        dict(
            name="1.7B full liger",
            kind="ours",
            base="big",
            method="full",
            epochs=e_b,
            batch=b_b,
            liger=True,
            more=True,
            skip=None if have["liger-kernel"] and not a.cpu else "needs liger-kernel and CUDA",
            **cpu,
        ),
        dict(
            name="1.7B TRL SFTTrainer",
            kind="trl",
            base="big",
            epochs=e_b,
            skip=None if have["trl"] else "trl not importable",
            **cpu,
        ),
        dict(
            name="1.7B TRL no ckpt",
            kind="trl",
            base="big",
            epochs=e_b,
            gradient_checkpointing=False,
            more=True,
            skip=None if have["trl"] else "trl not importable",
            **cpu,
        ),
    ]
    if not a.more:  # the default list fits ~5 minutes on one H200; --more adds liger and TRL without checkpointing
        cs = [c for c in cs if not c.get("more")]
    for c in cs:
        c["base_dir"] = small if c["base"] == "small" else big
    if a.only:
        want = [w.strip().lower() for w in a.only.split(",")]
        cs = [c for c in cs if any(w in c["name"].lower() for w in want)]
    return cs


def flops_per_token(n: int, method: str) -> float:
    return 6.0 * n if method in ("full", None) else 4.0 * n  # LoRA: no weight gradients (T << N)


# ---- report -----------------------------------------------------------------------------------------------------
def plot(results: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "error" not in r and "skipped" not in r]
    if not ok:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    names = [r["name"] for r in ok]
    a.barh(
        names,
        [r.get("steady_example_tokens_per_s") or r["example_tokens_per_s"] for r in ok],
        color=["tab:gray" if r["kind"] == "trl" else "tab:green" for r in ok],
    )
    a.set(xlabel="example tokens / s (steady)", title="training throughput")
    b.barh(names, [100 * (r.get("mfu") or 0) for r in ok], color="tab:blue")
    b.set(xlabel="MFU % (computed tokens, dense bf16 peak)", title="model FLOPs utilization")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny models, few epochs (with --cpu: a CPU smoke test)")
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (no GPU figures; checks the code paths)")
    ap.add_argument("--only", default=None, help="comma-separated name fragments, e.g. '135m full,trl'")
    ap.add_argument("--n", type=int, default=None, help="train on the first N reflections [all; 48 with --quick]")
    ap.add_argument("--more", action="store_true", help="also: 1.7B with liger-kernel, TRL without grad checkpointing")
    ap.add_argument("--carry", default=str(ROOT / ".carry"))
    ap.add_argument("--work", default=None, help="scratch dir [/tmp/gpu-training]")
    ap.add_argument("--timeout", type=float, default=150, help="seconds per contender")
    ap.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak if the GPU is not in PEAK_BF16")
    ap.add_argument("--out", default="benchmarks/results/gpu_training.json")
    ap.add_argument("--trl-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    carry = Path(a.carry)
    site = use_carry(carry)
    if a.trl_worker:
        return trl_worker(json.loads(a.trl_worker))
    os.environ.setdefault("MEMO_HOME", str(Path(a.work or "/tmp/gpu-training") / "memo-home"))
    import torch

    if a.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    on_gpu = torch.cuda.is_available() and not a.cpu
    t_start = time.time()
    v = versions()
    have = {k: v.get(k) is not None for k in ("trl", "liger-kernel", "bitsandbytes", "deepspeed")}
    have["trl"] = have["trl"] and v.get("datasets") is not None
    gpu = torch.cuda.get_device_name(0) if on_gpu else None
    peak = a.peak_tflops * 1e12 if a.peak_tflops else next((p for k, p in PEAK_BF16.items() if gpu and k in gpu), None)
    work = Path(a.work or "/tmp/gpu-training")
    work.mkdir(parents=True, exist_ok=True)
    src = carry / "base-135m"
    if not (src / "config.json").is_file():
        from memo_edge.models import resolve_model

        src = resolve_model("smollm2-135m-instruct")
    refl = carry / "reflections.jsonl"
    if not refl.is_file():
        from memo_edge.synthesis import synthesize

        refl = work / "reflections.jsonl"
        if not refl.is_file():
            synthesize(ROOT / "memo_edge" / "demo" / "corpus", refl, progress=False)
    if a.n or a.quick:
        lines = [ln for ln in refl.read_text().splitlines() if ln.strip()][: a.n or 48]
        refl = work / f"reflections-{len(lines)}.jsonl"
        refl.write_text("".join(ln + "\n" for ln in lines))
    t = time.time()
    small_shape, big_shape = (TINY, SMALL) if a.quick else (None, SHAPE_1P7B)
    sizes = {
        "small": make_base(src, work / ("base-tiny" if a.quick else "base-135m"), small_shape, on_gpu),
        "big": make_base(src, work / ("base-small" if a.quick else "base-1.7b"), big_shape, on_gpu),
    }
    bases = {
        "small": work / ("base-tiny" if a.quick else "base-135m"),
        "big": work / ("base-small" if a.quick else "base-1.7b"),
    }
    setup_s = time.time() - t
    print(
        f"GPU {gpu or 'none (CPU run)'}; peak bf16 {peak / 1e12 if peak else '?'} TFLOPS; carry {site}; "
        f"bases {sizes['small'] / 1e6:.1f}M / {sizes['big'] / 1e6:.1f}M params made in {setup_s:.0f} s; "
        f"versions {json.dumps(v)}",
        flush=True,
    )
    sampler = GpuSampler() if on_gpu else None
    results = []
    for c in contenders(a, bases, have):
        t = time.time()
        if c.get("skip"):
            r = {"skipped": c["skip"]}
        else:
            try:
                pdir = Path(a.out).parent if c.get("profile") else None
                r = (
                    run_ours(c, refl, work, a.timeout, pdir)
                    if c["kind"] == "ours"
                    else run_trl(c, refl, work, a.timeout)
                )
            except subprocess.TimeoutExpired:
                r = {"error": f"timed out after {a.timeout:.0f} s"}
        n = sizes[c["base"]]
        r.update(
            name=c["name"],
            kind=c["kind"],
            n_params=n,
            method=c.get("method", "full"),
            batch=c.get("batch"),
            accum=c.get("accum", 1),
            run_s=round(time.time() - t, 1),
        )
        if "error" not in r and "skipped" not in r:
            tps = r.get("steady_tokens_per_s") or r["tokens_per_s"]
            r["mfu"] = tps * flops_per_token(n, r["method"] if c["kind"] == "ours" else "full") / peak if peak else None
            if sampler and r.get("t_first_step"):
                r["gpu_util"] = sampler.mean(r["t_first_step"], r["t_last_step"])
        results.append(r)
        print(
            "RESULT " + json.dumps({k: v for k, v in r.items() if k not in ("stderr_tail", "timing", "estimate")}),
            flush=True,
        )
    if sampler:
        sampler.close()
    by = {r["name"]: r for r in results if "error" not in r and "skipped" not in r}

    def rate(name):
        r = by.get(name)
        return (r.get("steady_example_tokens_per_s") or r["example_tokens_per_s"]) if r else None

    def ratio(x, y):
        return round(x / y, 3) if x and y else None

    big_ours = max(
        (by[n] for n in ("1.7B full", "1.7B full b512", "1.7B full liger") if n in by),
        key=lambda r: r.get("mfu") or 0,
        default=None,
    )
    goals = {
        "mfu_1.7b_full": round(big_ours["mfu"], 4) if big_ours and big_ours.get("mfu") else None,
        "mfu_goal": 0.35,
        "vs_trl_1.7b": ratio(rate("1.7B full"), rate("1.7B TRL SFTTrainer")),
        "vs_trl_135m": ratio(rate("135M full"), rate("135M TRL SFTTrainer")),
        "vs_trl_goal": 1.3,
        "scaling_135m_over_1.7b": ratio(rate("135M full"), rate("1.7B full")),
        "scaling_goal": 8.0,
    }
    print(
        f"\n{'contender':22} {'ex tok/s':>9} {'steady':>9} {'comp tok/s':>10} {'MFU':>6} {'util':>5} "
        f"{'peak MB':>8} {'steps':>5} {'run s':>6}"
    )
    for r in results:
        if "error" in r or "skipped" in r:
            print(f"{r['name']:22} {'skipped: ' + r['skipped'] if 'skipped' in r else 'ERROR: ' + r['error']}")
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") else "-"
        util = f"{r['gpu_util']:.0f}%" if r.get("gpu_util") is not None else "-"
        print(
            f"{r['name']:22} {r['example_tokens_per_s']:9.0f} {r.get('steady_example_tokens_per_s') or 0:9.0f} "
            f"{r.get('steady_tokens_per_s') or r['tokens_per_s']:10.0f} {mfu:>6} {util:>5} "
            f"{r.get('peak_gpu_mb') or 0:8.0f} {r['steps']:5d} {r['run_s']:6.1f}"
        )
    print(f"goals: {json.dumps(goals)}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(results, out.with_suffix(".png"))
    doc = {
        "benchmark": "gpu_training",
        "gpu": gpu,
        "peak_flops": peak,
        "quick": a.quick,
        "cpu": a.cpu,
        "versions": v,
        "n_params": sizes,
        "setup_s": round(setup_s, 1),
        "total_s": round(time.time() - t_start, 1),
        "goals": goals,
        "results": results,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    out.write_text(json.dumps(doc, indent=2, default=str))
    print(
        json.dumps(
            {k: v for k, v in doc.items() if k != "results"}
            | {"results": [{k: v for k, v in r.items() if k not in ("stderr_tail", "timing")} for r in results]},
            default=str,
        )
    )
    return doc


if __name__ == "__main__":
    main()
