"""Time the run's start as ``reunistat reproduce`` does it, up to the cohort taken.

Run: ``python benchmarks/bench_cohort_start.py --data data/synthetic/england
--tree before=/tmp/base --tree after=. [--rounds 5]``

Each tree (a folder holding ``src/`` and ``analyses/``) runs in a fresh
process, the trees alternated round by round: the extract read, the cohort
derived in the forked process and sent back while the run's process hashes
the inputs and imports the scripts' modules (as
:func:`reunistat.pipeline.run._build`), then the forked process's spells hash
collected. Printed per run: the step's wall seconds, the read's wall, the
imports', the CPU seconds of the run's process and of the forked one, the
run's peak resident memory and the load; then the medians per tree and the
median of the per-round ratios of step wall (against the first tree).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, os, resource, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from reunistat.pipeline import load_config
from reunistat.pipeline.context import Context
from reunistat.pipeline.finish import WhileScriptsRun
from reunistat.pipeline.manifest import input_hashes
from reunistat.pipeline.run import _timed, analysis_scripts, import_for
root, data = Path(sys.argv[1]), Path(sys.argv[2])
cfg = load_config(root / "analyses/config.toml").with_changes(data_dir=data)
scripts = analysis_scripts(root / "analyses")
ctx = Context(cfg, lambda s: None)
t0 = time.perf_counter()
with WhileScriptsRun(ctx) as early:
    _ = ctx.extract
    read = time.perf_counter() - t0
    early.start_cohort()
    with ThreadPoolExecutor(2) as pool:
        hashing = pool.submit(_timed, input_hashes, cfg.data_dir)
        import reunistat.cohort  # noqa: F401
        importing = pool.submit(_timed, import_for, scripts)
        early.take_cohort()
        hashing.result()
        imports = importing.result()[1]
    step = time.perf_counter() - t0
    early.stop()  # the forked process has ended: its CPU counted
me, forked = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
cpu = me.ru_utime + me.ru_stime, forked.ru_utime + forked.ru_stime
print(json.dumps({"step_wall": step, "read_wall": read, "imports_wall": imports,
                  "cpu_run": cpu[0], "cpu_forked": cpu[1],
                  "peak_mib": me.ru_maxrss / 1024, "load": os.getloadavg()[0]}))
"""


def run_once(tree: Path, data: Path) -> dict[str, float]:
    """One fresh process on ``tree``'s sources; its figures."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(data)],
        env=env,
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tree", action="append", required=True, help="label=folder (src, analyses)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    trees = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree]
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        for label, tree in trees:
            r = run_once(tree, args.data.resolve())
            runs[label].append(r)
            print(label, " ".join(f"{k} {v:.2f}" for k, v in r.items()), flush=True)
    first = trees[0][0]
    for label, rs in runs.items():
        med = {k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]}
        ratio = statistics.median(
            r["step_wall"] / f["step_wall"] for r, f in zip(rs, runs[first], strict=True)
        )
        print("median", label, json.dumps(med), f"step wall / {first}: {ratio:.2f}")


if __name__ == "__main__":
    main()
