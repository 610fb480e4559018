"""Build `.carry/`: what benchmarks/gpu_training.py needs on a GPU machine that has no package registry.

The GPU image (training/README.md, "GPU"; /work/shared/stack-facts.md) has Python 3.12, torch (CUDA), transformers,
peft, accelerate, tokenizers, safetensors, numpy, typer, rich, httpx, psutil. Everything else comes from here,
under the 64 MiB the device tool carries:

    .carry/site.tar.gz      pure site-packages dir (PYTHONPATH, no pip needed there): the project's own wheel,
                            pydantic (+ core, annotated-types, typing-inspection), liger-kernel, bitsandbytes with
                            only its CUDA 13 and CPU libraries, and TRL with datasets/pyarrow/pandas/dill/
                            multiprocess/xxhash/fsspec (pyarrow trimmed of Flight/S3/Substrait/Gandiva/headers)
    .carry/reflections.jsonl the demo corpus's extractive reflections (the data every contender trains on)
    .carry/base-135m/       SmolLM2-135M-Instruct's config + tokenizer files (no weights: random init there)

    python -m benchmarks.gpu_carry [--python 3.12] [--no-trl]

Prints the size of each part and fails if the total is over 64 MiB. Last stdout line: JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 64 * 2**20
CORE = [
    "pydantic==2.14.4",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
    "liger-kernel==0.8.5",
    "bitsandbytes==0.50.2",
]
# TRL and what it and datasets need that the GPU image lacks. datasets 4.8.5, not 5.x: 5.x wants
# huggingface_hub>=1.31, 4.8.5 takes <2 (what transformers 5.17 pins). Versions as pip resolved them here
# (.venv-gpusim: transformers 5.17, peft 0.21.0, accelerate 1.15.0, trl 1.16.0).
TRL = [
    "trl==1.16.0",
    "datasets==4.8.5",
    "pyarrow==26.0.1",
    "pandas==3.1.1",
    "dill==0.4.1",
    "multiprocess==0.70.19",
    "xxhash==4.1.0",
    "fsspec==2026.2.0",
    "aiohttp",
    "aiosignal",
    "aiohappyeyeballs",
    "attrs",
    "frozenlist",
    "multidict",
    "propcache",
    "yarl",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "python-dateutil",
    "six",
    "tzdata",
]
# Parts of wheels that are never imported by the benchmark: big shared libraries and test suites.
DROP = (
    "pyarrow/include/",
    "pyarrow/tests/",
    "pyarrow/src/",
    "pandas/tests/",
    "pyarrow/libarrow_flight",
    "pyarrow/_flight",
    "pyarrow/libarrow_s3",
    "pyarrow/_s3fs",
    "pyarrow/libarrow_substrait",
    "pyarrow/_substrait",
    "pyarrow/libgandiva",
    "pyarrow/gandiva",
    "pyarrow/_orc",
    "pyarrow/_azurefs",
    "pyarrow/_gcsfs",
    "pyarrow/_hdfs",
    "pyarrow/libarrow_python_flight",
    "pyarrow/_cuda",
    "pyarrow/libarrow_cuda",
    "bitsandbytes/libbitsandbytes_cuda1",
    "bitsandbytes/libbitsandbytes_rocm",
    "bitsandbytes/libbitsandbytes_xpu",
)
KEEP = ("bitsandbytes/libbitsandbytes_cuda130",)


def _download(reqs: list[str], dest: Path, python: str) -> None:
    plat = []
    for p in ("manylinux_2_28_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"):
        plat += ["--platform", p]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python,
        *plat,
        "-d",
        str(dest),
        *reqs,
    ]
    subprocess.run(cmd, check=True)


def _unpack(wheel: Path, site: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if any(name.startswith(d) for d in DROP) and not any(name.startswith(k) for k in KEEP):
                continue
            z.extract(name, site)


def _demo_reflections(dest: Path) -> int:
    from memo_edge.synthesis import synthesize

    synthesize(ROOT / "memo_edge" / "demo" / "corpus", dest, progress=False)
    return sum(1 for ln in dest.read_text().splitlines() if ln.strip())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default="3.12", help="the GPU image's Python version")
    ap.add_argument("--no-trl", action="store_true", help="leave out TRL and its data stack (the anchor)")
    ap.add_argument("--out", default=str(ROOT / ".carry"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheels, site = tmp / "wheels", tmp / "site"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)], check=True
        )
        _download(CORE + ([] if a.no_trl else TRL), wheels, a.python)
        for w in sorted(wheels.glob("*.whl")):
            _unpack(w, site)
        # gzip, not xz: xz of ~250 MB takes >10 min on the shared 2-core VM; gzip fits the limit as well.
        with tarfile.open(out / "site.tar.gz", "w:gz", compresslevel=6) as t:
            t.add(site, arcname="site")
        wheel_names = sorted(w.name for w in wheels.glob("*.whl"))
    base = out / "base-135m"
    from memo_edge.models import resolve_model

    src = resolve_model("smollm2-135m-instruct")
    base.mkdir()
    for f in src.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy(f, base / f.name)
    n_refl = _demo_reflections(out / "reflections.jsonl")
    (out / "carry.json").write_text(json.dumps({"python": a.python, "wheels": wheel_names}))
    sizes = {
        p.name: sum(f.stat().st_size for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
        for p in sorted(out.iterdir())
    }
    total = sum(sizes.values())
    for k, v in sizes.items():
        print(f"{k:20} {v / 2**20:8.1f} MiB")
    print(
        f"{'total':20} {total / 2**20:8.1f} MiB (limit 64 MiB); {n_refl} reflections; wheels: {', '.join(wheel_names)}"
    )
    doc = {
        "benchmark": "gpu_carry",
        "out": str(out),
        "sizes_mib": {k: round(v / 2**20, 2) for k, v in sizes.items()},
        "total_mib": round(total / 2**20, 2),
        "fits": total <= LIMIT,
        "wheels": wheel_names,
        "reflections": n_refl,
        "trl": not a.no_trl,
    }
    print(json.dumps(doc))
    if total > LIMIT:
        raise SystemExit(
            f"error: .carry is {total / 2**20:.1f} MiB, over the 64 MiB the device tool carries; rerun with --no-trl"
        )
    return doc


if __name__ == "__main__":
    main()
