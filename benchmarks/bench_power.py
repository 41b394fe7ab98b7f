"""A national-size power study through the replicate runner, on three backends.

Run: ``.venv/bin/python benchmarks/bench_power.py [--replicates 10000] [--check 1000]``

The study is :class:`reunistat.models.evaluation.PowerDesign`'s default: 150
local authorities, 15 piloting from year 3 of 6, 10,080 returns home a year
(England), baseline 12/20/35% re-entry at 3 months / 1 year / 6 years, LA
frailty SD 0.15, HR 0.9 (``--hr``; at 0.75 the power is 1), Cox with
LA-clustered errors on each replicate.

The full study (``--replicates``) runs on a dask.distributed ``LocalCluster``
of ``--workers`` processes (``backend = "dask"``, as a user with a cluster
would run it). The first ``--check`` replicates are then run again in one
process (``"sequential"``) and on joblib's loky processes: replicate ``i`` is
the ``i``-th child of the seed whatever the number of replicates, so the three
must agree to the bit. Wall time and CPU time (this process, and the dask
workers' own CPU, read from each worker before the cluster closes) are
recorded, with the load average: the machine is shared.
Results go to benchmarks/results/power.json and power.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def _timed(design: Any, n: int, seed: int, backend: Any) -> tuple[Any, dict[str, Any]]:
    from reunistat.models.evaluation import simulate_power
    from reunistat.replicates import session

    load = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    worker_cpu = None
    with session(backend):
        r = simulate_power(design, n_replicates=n, seed=seed, backend=backend)
        if backend.backend == "dask":
            from distributed import get_client

            worker_cpu = sum(get_client().run(time.process_time).values())
    wall = time.perf_counter() - t0
    row = {
        "backend": backend.backend,
        "workers": backend.local_workers or backend.n_jobs,
        "replicates": n,
        "wall_seconds": round(wall, 1),
        "cpu_seconds_main": round(time.process_time() - cpu0, 1),
        "cpu_seconds_workers": None if worker_cpu is None else round(worker_cpu, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "power": r.params["power"],
        "mc_se": float(r.std_errors["power"]),
        "schoenfeld_power_no_clustering": r.fit_stats["schoenfeld_power"],
        "mean_spells": float(r.extras["replicates"]["n_spells"].mean()),
        "mean_events": r.fit_stats["mean_events"],
        "n_failed": r.fit_stats["n_failed"],
    }
    print(row, flush=True)
    return r, row


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=10_000)
    ap.add_argument("--check", type=int, default=1000, help="replicates re-run on 1 and 2 procs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--design", default="comparison", choices=("comparison", "did"))
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument(
        "--hr", type=float, default=0.9, help="hazard ratio (0.9: power is informative)"
    )
    ap.add_argument("--tag", default="", help="write results/power<tag>.json and .md")
    ap.add_argument(
        "--only-sequential",
        action="store_true",
        help="run the first --check replicates in one process only and print their hash "
        "(to compare two versions of the code)",
    )
    args = ap.parse_args()

    import dask
    import joblib
    import numpy as np

    from reunistat.models.evaluation import PowerDesign
    from reunistat.replicates import ParallelBackend

    design = PowerDesign(design=args.design, hazard_ratio=args.hr)
    if args.only_sequential:
        r, row = _timed(design, args.check, args.seed, ParallelBackend("sequential"))
        print(json.dumps({"replicates_sha256": _digest(r.extras["replicates"]), **row}))
        return
    full, full_row = _timed(
        design,
        args.replicates,
        args.seed,
        ParallelBackend("dask", args.workers, local_workers=args.workers),
    )
    rows = [full_row]
    reps = full.extras["replicates"].iloc[: args.check].reset_index(drop=True)
    identical = {}
    for backend in (ParallelBackend("sequential"), ParallelBackend("loky", args.workers)):
        r, row = _timed(design, args.check, args.seed, backend)
        rows.append(row)
        other = r.extras["replicates"]
        identical[backend.backend] = bool(
            reps.to_numpy(np.float64).tobytes() == other.to_numpy(np.float64).tobytes()
        )
    out = {
        "command": f"python benchmarks/bench_power.py --replicates {args.replicates} "
        f"--check {args.check} --workers {args.workers} --design {args.design} "
        f"--seed {args.seed} --hr {args.hr}" + (f" --tag {args.tag}" if args.tag else ""),
        "design": {k: str(v) for k, v in design.__dict__.items()},
        "first_replicates_identical_to_the_dask_run": identical,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "numpy": np.__version__,
            "joblib": joblib.__version__,
            "dask": dask.__version__,
        },
        "runs": rows,
        "first_replicates_sha256": _digest(reps),
    }
    res_dir = HERE / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / f"power{args.tag}.json").write_text(json.dumps(out, indent=2) + "\n")
    (res_dir / f"power{args.tag}.md").write_text(_markdown(out, args))


def _digest(reps: Any) -> str:
    """SHA-256 of the replicates' float64 bytes (log HR, SE, p, spells, events per replicate)."""
    import hashlib

    import numpy as np

    return hashlib.sha256(reps.to_numpy(np.float64).tobytes()).hexdigest()


def _markdown(out: dict[str, Any], args: argparse.Namespace) -> str:
    same = out["first_replicates_identical_to_the_dask_run"]
    lines = [
        "# Power study benchmark",
        "",
        f"Command: `{out['command']}`",
        "",
        f"Design: {args.design}, national size (150 LAs, 15 piloting from year 3 of 6, 10,080 "
        f"returns a year, HR {args.hr}, LA frailty SD 0.15), Cox with LA-clustered errors and "
        f"a t reference on 14 df per replicate. Versions: {out['machine']}.",
        "",
        "The first row is the study; the next two re-run its first "
        f"{args.check} replicates in one process and on joblib's loky processes. The same "
        "seed gives the same replicates to the bit: "
        + ", ".join(f"{k} {v}" for k, v in same.items())
        + f". SHA-256 of the first {args.check} replicates' float64 bytes: "
        f"`{out['first_replicates_sha256']}`.",
        "",
        "| backend | workers | replicates | wall (s) | CPU main (s) | CPU workers (s) "
        "| load before/after | power (MC SE) | Schoenfeld (no clustering) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        workers_cpu = "" if r["cpu_seconds_workers"] is None else r["cpu_seconds_workers"]
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['replicates']:,} | {r['wall_seconds']} | "
            f"{r['cpu_seconds_main']} | {workers_cpu} | {r['load_before']}/{r['load_after']} | "
            f"{r['power']:.4f} ({r['mc_se']:.4f}) | {r['schoenfeld_power_no_clustering']:.3f} |"
        )
    first = out["runs"][0]
    lines += [
        "",
        f"Mean spells per replicate {first['mean_spells']:,.0f}, mean events "
        f"{first['mean_events']:,.0f}; failed fits {first['n_failed']:.0f}. CPU of the loky "
        "workers is not read (they outlive the call); the dask workers' is read from each "
        "worker before the cluster closes. The machine is shared: the load average shows how "
        "busy it was.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
