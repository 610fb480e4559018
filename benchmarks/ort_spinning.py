"""onnxruntime's intra-op spinning on a shared CPU: our Engine with `session.intra_op.allow_spinning` 1 vs 0.

    python -m benchmarks.ort_spinning [--pack PACK_DIR] [--repeats 5]

Both engines (`Engine(spin=True)` and `Engine(spin=False)`, what `MEMO_SPIN=1|0` selects) live in one process
and are measured alternately, so they see the same background load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import latency, report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ort_spinning", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", type=Path, help="ONNX pack (default: the base model's int4 pack from the latency cache)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--decode-tokens", type=int, default=48)
    a = p.parse_args(argv if argv is not None else sys.argv[1:])
    from memo_edge.runtime import Engine

    ckpt = latency.checkpoint(argparse.Namespace(ckpt=None))
    pack = a.pack or latency._onnx_pack(
        ckpt, report.RESULTS_DIR / "cache" / latency._ckpt_key(ckpt), "int4", lambda *x: print(*x, file=sys.stderr)
    )
    pr = latency.prompts(ckpt)
    engines = {spin: Engine(pack, threads=a.threads, spin=spin) for spin in (True, False)}
    res = {s: {"ttft_ms": [], "decode_tps": []} for s in engines}
    for rep in range(a.repeats + 1):  # the first round is a warm-up
        for spin in (True, False) if rep % 2 else (False, True):
            e = engines[spin]
            ttft = e.generate([pr["fixed"]["64"]], max_new_tokens=1)[0].ttft_s * 1e3
            dec = e.generate([pr["decode"]], max_new_tokens=a.decode_tokens)[0].decode_tps
            if rep:
                res[spin]["ttft_ms"].append(ttft)
                res[spin]["decode_tps"].append(dec)
    rows = {f"allow_spinning={int(s)}": {k: report.stats(v) for k, v in r.items()} for s, r in res.items()}
    report.print_table(
        f"onnxruntime intra-op spinning ({pack.name}, {a.threads} threads)",
        ["setting", "TTFT 64-token prompt ms", "decode tok/s"],
        [[k, report.fmt(v["ttft_ms"]["median"]), report.fmt(v["decode_tps"]["median"])] for k, v in rows.items()],
    )
    head = report.header("ort_spinning", pack=str(pack), threads=a.threads, repeats=a.repeats)
    report.emit({k: head[k] for k in ("benchmark", "date_utc", "settings")} | {"results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
