"""Time a 1,000-replicate power study at national size, on one core and on all cores.

Run: ``.venv/bin/python benchmarks/bench_power.py [--replicates 1000] [--design comparison]``

The study is :class:`reunistat.models.evaluation.PowerDesign`'s default: 150
local authorities, 15 piloting from year 3 of 6, 10,080 returns home a year
(England), baseline 12/20/35% re-entry at 3 months / 1 year / 6 years, LA
frailty SD 0.15, HR 0.9 (``--hr``; at 0.75 the power is 1), Cox with
LA-clustered errors on each replicate. The same seed is run with
``n_jobs=1`` and ``n_jobs=-1``; the two must give identical replicates.
The machine is shared, so the load average is recorded.
Results go to benchmarks/results/power.json and power.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--design", default="comparison", choices=("comparison", "did"))
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument(
        "--hr", type=float, default=0.9, help="hazard ratio (0.9: power is informative)"
    )
    args = ap.parse_args()

    from reunistat.models.evaluation import PowerDesign, simulate_power

    design = PowerDesign(design=args.design, hazard_ratio=args.hr)
    runs = {}
    results = {}
    for label, jobs in (("1 core", 1), (f"all cores ({os.cpu_count()})", -1)):
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        r = simulate_power(design, n_replicates=args.replicates, seed=args.seed, n_jobs=jobs)
        wall = time.perf_counter() - t0
        results[label] = r
        runs[label] = {
            "n_jobs": jobs,
            "wall_seconds": round(wall, 1),
            "seconds_per_replicate": round(wall / args.replicates, 4),
            "load_average_before": round(load, 2),
            "power": r.params["power"],
            "mc_se": float(r.std_errors["power"]),
            "schoenfeld_power_no_clustering": r.fit_stats["schoenfeld_power"],
            "mean_spells": float(r.extras["replicates"]["n_spells"].mean()),
            "mean_events": r.fit_stats["mean_events"],
        }
        print(label, runs[label], flush=True)
    a, b = (res.extras["replicates"] for res in results.values())
    out = {
        "command": f"python benchmarks/bench_power.py --replicates {args.replicates} "
        f"--design {args.design} --seed {args.seed} --hr {args.hr}",
        "design": {k: str(v) for k, v in design.__dict__.items()},
        "replicates": args.replicates,
        "identical_across_cores": bool(a.equals(b)),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }
    res_dir = HERE / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "power.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "# Power study benchmark",
        "",
        f"Command: `{out['command']}`",
        "",
        f"Design: {args.design}, national size (150 LAs, 15 piloting from year 3 of 6, 10,080 "
        f"returns a year, HR {args.hr}, LA frailty SD 0.15), Cox with LA-clustered errors per "
        f"replicate; {args.replicates} replicates. Same seed on 1 core and on all cores gives "
        f"identical replicates: {out['identical_across_cores']}.",
        "",
        "| run | wall (s) | s / replicate | load before | power (MC SE) "
        "| Schoenfeld (no clustering) |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in runs.items():
        lines.append(
            f"| {label} | {r['wall_seconds']} | {r['seconds_per_replicate']} | "
            f"{r['load_average_before']} | {r['power']:.3f} ({r['mc_se']:.3f}) | "
            f"{r['schoenfeld_power_no_clustering']:.3f} |"
        )
    lines += [
        "",
        f"Mean spells per replicate {runs[next(iter(runs))]['mean_spells']:,.0f}, mean events "
        f"{runs[next(iter(runs))]['mean_events']:,.0f}. The machine is shared with other "
        "jobs; the load average shows how busy it was.",
        "",
    ]
    (res_dir / "power.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
