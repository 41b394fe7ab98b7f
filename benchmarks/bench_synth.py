"""Time the synthetic generator at national size and at --scale 10, with peak memory.

Run: ``.venv/bin/python benchmarks/bench_synth.py [--scales 1 10] [--repeats 3]``

Each run is a fresh subprocess (``reunistat synth`` end to end: generate, then
write Parquet), so peak memory is the child's maximum resident set size. The
machine is shared: the median of the repeats is reported, beside every run.
Results are written to benchmarks/results/synth.json and synth.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
CHILD = """
import json, sys, time
from pathlib import Path
from reunistat.synthetic import default_config, generate
scale, out = float(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
d = generate(default_config(), seed=20240331, scale=scale)
t1 = time.perf_counter()
d.write(out)
t2 = time.perf_counter()
print(json.dumps({"generate_s": t1 - t0, "write_s": t2 - t1, "children": len(d.tables["header"]),
                  "episodes": len(d.tables["episodes"]), "returns_home": len(d.truth_returns)}))
"""


def run_once(scale: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(scale), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["wall_s"] = wall
    # ru_maxrss of children is the max over all children so far: report it only if it grew
    rec["peak_rss_mib"] = peak_kib / 1024 if peak_kib > before else None
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    load_before = os.getloadavg()
    results = []
    # run the scales in increasing order so each new peak belongs to its own run
    for scale in sorted(args.scales):
        runs = [run_once(scale) for _ in range(args.repeats)]
        peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
        summary = {
            "scale": scale,
            "children": runs[0]["children"],
            "episodes": runs[0]["episodes"],
            "returns_home": runs[0]["returns_home"],
            "median_wall_s": statistics.median(r["wall_s"] for r in runs),
            "median_generate_s": statistics.median(r["generate_s"] for r in runs),
            "median_write_s": statistics.median(r["write_s"] for r in runs),
            "peak_rss_mib": max(peaks) if peaks else None,
            "runs_wall_s": [round(r["wall_s"], 2) for r in runs],
        }
        results.append(summary)
        print(json.dumps(summary))
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results/synth.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    lines = [
        "# Synthetic generator: time and peak memory",
        "",
        "`.venv/bin/python benchmarks/bench_synth.py` (median of repeats; each run a fresh process",
        "generating and writing Parquet; peak = maximum resident set size).",
        f"Machine: {meta['cpus']} cores; 1-minute load average before and after: "
        f"{meta['load_average_1min_before_after']}. No other engine writes 903 data: the",
        "figures stand alone (compare runs of this script on one machine).",
        "",
        "| scale | children | episodes | returns home | median wall (s) | generate (s) "
        "| write (s) | peak RSS (MiB) | runs (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        peak = f"{r['peak_rss_mib']:,.0f}" if r["peak_rss_mib"] else "n/a"
        lines.append(
            f"| {r['scale']:g} | {r['children']:,} | {r['episodes']:,} | {r['returns_home']:,} | "
            f"{r['median_wall_s']:.1f} | {r['median_generate_s']:.1f} | "
            f"{r['median_write_s']:.1f} | "
            f"{peak} | {', '.join(map(str, r['runs_wall_s']))} |"
        )
    (HERE / "results/synth.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
