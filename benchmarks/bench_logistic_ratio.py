"""CPU time of ``logistic()`` from spells over its engine's, call and engine back to back.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_logistic_ratio.py --src TREE/src
[--n 1000000] [--rounds 5] [--json FILE] [--cache FILE]``

On a shared machine the engine's own time moves as much as a change does, so
each round times, in this process, ``logistic(..., cluster="LA")``,
``logistic(...)`` (model SEs) and the engine (IRLS + cluster-robust sandwich on
the prebuilt matrix, as in ``bench_logistic.py``) one after the other
(``time.process_time``), after a warm-up of each; the report is each job's
median CPU time and the median of the per-round ratios. ``--src`` chooses the
package tree, so two trees are compared by alternating fresh processes on the
same simulated spells (the seeded simulator of ``bench_logistic.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Time the jobs and print (and optionally write) the medians as JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, help="append the result to this file (JSON lines)")
    ap.add_argument("--cache", type=Path, help="pickle of the simulated spells (made if absent)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import numpy as np
    import pandas as pd

    from reunistat.models.logistic import horizon_outcome, logistic

    # the simulator, formula and engine of bench_logistic.py (reunistat is already the --src one)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_logistic as bl

    if args.cache is not None and args.cache.exists():
        spells = pd.read_pickle(args.cache)
    else:
        spells = bl.sim.simulate_spells(
            args.n, seed=20261122, n_la=150, clustering="marginal", rho=0.05
        )
        if args.cache is not None:
            spells.to_pickle(args.cache)
    rhs = bl.RHS
    derived, _ = horizon_outcome(spells, 365)
    fitted = logistic("reentry_365d ~ " + rhs, derived)
    X = np.ascontiguousarray(fitted.extras["model_spec"].get_model_matrix(derived), dtype=float)
    y = derived["reentry_365d"].to_numpy(dtype=float)
    groups = pd.factorize(derived["LA"])[0]

    def engine() -> None:
        bl._engine(X, y, groups)

    jobs = {
        "cluster": lambda: logistic("~ " + rhs, spells, cluster="LA"),
        "model": lambda: logistic("~ " + rhs, spells),
        "engine": engine,
    }
    for fn in jobs.values():
        fn()  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, fn in jobs.items():
            c0 = time.process_time()
            fn()
            cpu[name].append(time.process_time() - c0)
    res = {
        "src": str(args.src),
        "n": args.n,
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "cpu_s": {k: [round(t, 3) for t in v] for k, v in cpu.items()},
        "median_cpu_s": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "ratio": {
            k: round(
                statistics.median(a / e for a, e in zip(cpu[k], cpu["engine"], strict=True)), 3
            )
            for k in ("cluster", "model")
        },
    }
    print(json.dumps(res))
    if args.json:
        with args.json.open("a") as f:
            f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
