"""Time script 11 (the imputation sensitivity analysis) as the pipeline runs it.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_imputation.py --data DIR
--out /tmp/NAME-out [--repeats 3] [--profile FILE] [--analyses DIR] [--json FILE]``, with
``PYTHONPATH`` naming the ``src`` to time (and ``--analyses`` its scripts).

The cohort is derived once (not timed), the scripts 11 needs
(:data:`reunistat.pipeline.workers.NEEDS`: 04 and 05, whose Cox and logistic
fits it reads from ``ctx.results``) run first as in the pipeline's worker, then
script 11 runs ``--repeats`` times through
:func:`reunistat.pipeline.run.run_one`, each timed by CPU
(``time.process_time``) and wall clock. It prints one JSON line per repeat and,
at the end, the SHA-256 of every output 11 wrote and of its paper values, so
runs of two trees can be compared for byte-identical results. ``--profile``
writes a cProfile (CPU time) of the last repeat.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Parse the options, run 11's needs once and 11 ``--repeats`` times; times and hashes."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT / "data/synthetic/england")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", type=Path)
    ap.add_argument("--analyses", type=Path, default=ROOT / "analyses", help="the scripts' folder")
    ap.add_argument("--json", type=Path, help="also write the record (runs, medians, hashes)")
    args = ap.parse_args()

    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context
    from reunistat.pipeline.run import run_one

    os.chdir(ROOT)
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=args.data, outputs_dir=args.out, analysis_jobs=1
    )
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg, lambda s: None)
    _ = ctx.cohort
    script = args.analyses / "11_imputation.py"
    from reunistat.pipeline.workers import NEEDS

    for need in NEEDS.get("11", ("05",)):  # a tree's own list (older trees: 05 alone)
        run_one(ctx, next(args.analyses.glob(f"{need}_*.py")))
    runs = []
    for i in range(args.repeats):
        for rel in [o for o, out in ctx.outputs.items() if out.script == ctx.script]:
            del ctx.outputs[rel]  # the previous repeat's (each repeat writes them again)
        for key in [k for k, v in ctx.values.items() if v.get("script") == ctx.script]:
            del ctx.values[key]
        last = args.profile and i == args.repeats - 1
        prof = cProfile.Profile(time.process_time) if last else None
        c0, w0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        run_one(ctx, script)
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        run = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}
        run["load"] = os.getloadavg()[0]
        runs.append(run)
        print(json.dumps({"repeat": i, **{k: round(v, 2) for k, v in run.items()}}), flush=True)
    if ctx.failed:
        sys.exit(f"script 11 failed: {ctx.failed}")
    hashes = {
        o: hashlib.sha256((args.out / o).read_bytes()).hexdigest()[:16]
        for o in sorted(ctx.outputs)
        if "mi_" in o
    }
    values = {k: str(v) for k, v in sorted(ctx.values.items()) if k.startswith("mi")}
    hashes["values"] = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
    record = {
        "data": str(args.data),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "runs": [{k: round(v, 2) for k, v in r.items()} for r in runs],
        "median_cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
        "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
        "hashes": hashes,
    }
    text = json.dumps(record, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
