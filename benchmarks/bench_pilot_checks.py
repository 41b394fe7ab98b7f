"""Time ``analyses/13_pilot_checks.py`` as the pipeline runs it, after the cohort is built.

Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=SRC .venv/bin/python benchmarks/bench_pilot_checks.py
--data DIR [--repeats 3] [--profile FILE] [--json FILE]``.

One process reads the extract, derives the cohort and builds the release-wide
suppression (not timed), imports what the script uses, then runs the script
``--repeats`` times through :func:`reunistat.pipeline.run.run_one` (the
pipeline's own way of running a script), each time into a fresh outputs folder
under ``/tmp``. It prints each run's CPU (``time.process_time``) and wall
seconds, their medians, the load average, and the SHA-256 of every file the
script wrote (the same in every run, or it says so). ``--profile FILE`` writes
a cProfile of the first run.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
SCRIPT = "13_pilot_checks.py"


def _hashes(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    """Time the script; print a JSON record (and write it with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--analyses", type=Path, default=ROOT / "analyses")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from reunistat.models import evaluation, survival  # noqa: F401  (imports not timed)
    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context
    from reunistat.pipeline.run import run_one
    from reunistat.report import figures  # noqa: F401

    cfg = load_config(ROOT / "analyses" / "config.toml").with_changes(data_dir=a.data)
    base = Context(cfg, log=lambda _m: None)
    t0 = time.perf_counter()
    _ = base.cohort, base.release
    setup = time.perf_counter() - t0
    runs, hashes = [], []
    for k in range(a.repeats):
        out = Path(tempfile.mkdtemp(prefix="pilot-bench-", dir="/tmp"))
        ctx = Context(cfg.with_changes(outputs_dir=out), log=print)  # named analyses/13_...
        for name in ("extract", "cohort", "release"):
            ctx.__dict__[name] = base.__dict__[name]
        prof = cProfile.Profile() if (a.profile and k == 0) else None
        c0, w0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        run_one(ctx, a.analyses / SCRIPT)
        if prof:
            prof.disable()
            prof.dump_stats(a.profile)
        runs.append({"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0})
        if ctx.failed:
            raise SystemExit(f"script failed: {ctx.failed}")
        hashes.append(_hashes(out))
    rec = {
        "data": str(a.data),
        "n_spells": len(base.spells),
        "setup_s": round(setup, 1),
        "load": [round(x, 2) for x in os.getloadavg()],
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "runs": [{k: round(v, 2) for k, v in r.items()} for r in runs],
        "cpu_s_median": round(statistics.median(r["cpu_s"] for r in runs), 2),
        "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2),
        "same_outputs_every_run": all(h == hashes[0] for h in hashes),
        "hashes": hashes[0],
    }
    text = json.dumps(rec, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
