"""Time the main job, ``reunistat reproduce``, end to end at national size, with peak memory.

Run: ``.venv/bin/python benchmarks/bench_reproduce.py [--repeats 2] [--data DIR]``

Each run is a fresh ``reunistat reproduce`` process with the default config
(national synthetic data, every analysis, the paper, the disclosure check and
the manifest) writing into benchmarks/_work/outputs; the data folder is
generated first if missing (not timed: see bench_synth.py). Peak memory is
the child's maximum resident set size. The machine is shared: the median of
the repeats is reported, beside every run, with the stage timings the
manifest records. It also checks that the repeats' output hashes agree.
Results: benchmarks/results/reproduce.json and reproduce.md.
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
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
WORK = HERE / "_work"


def run_once(data: Path) -> dict:
    out = WORK / "outputs"
    exe = Path(sys.executable).parent / "reunistat"
    cmd = [str(exe), "reproduce", "--data", str(data), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"reunistat reproduce failed ({res.returncode}):\n{res.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "wall_s": wall,
        "peak_rss_mib": peak / 1024 if peak > before else None,
        "timings": manifest["timings_seconds"],
        "n_outputs": len(manifest["outputs"]),
        "hashes": {o["path"]: o["sha256"] for o in manifest["outputs"]},
        "skipped": manifest["skipped"],
        "disclosure": manifest["disclosure"],
        "inputs": len(manifest["inputs"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT / "data/synthetic/england")
    args = ap.parse_args()
    if not (args.data / "truth.json").exists():
        subprocess.run(
            [
                str(Path(sys.executable).parent / "reunistat"),
                "synth",
                "--out",
                str(args.data),
                "-q",
            ],
            check=True,
        )
    WORK.mkdir(exist_ok=True)
    runs = [run_once(args.data) for _ in range(args.repeats)]
    same = all(r["hashes"] == runs[0]["hashes"] for r in runs)
    peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
    stages = {k: statistics.median(r["timings"][k] for r in runs) for k in runs[0]["timings"]}
    summary = {
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "runs_wall_s": [round(r["wall_s"], 1) for r in runs],
        "peak_rss_mib": max(peaks) if peaks else None,
        "n_outputs": runs[0]["n_outputs"],
        "identical_outputs_across_runs": same,
        "stages_median_s": stages,
        "skipped": runs[0]["skipped"],
        "disclosure": runs[0]["disclosure"],
    }
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results/reproduce.json").write_text(
        json.dumps({"meta": meta, "summary": summary}, indent=2) + "\n"
    )
    print(json.dumps(summary, indent=2))
    lines = [
        "# `reunistat reproduce` at national size: time and peak memory",
        "",
        "`.venv/bin/python benchmarks/bench_reproduce.py` runs the main job (default config:",
        f"national synthetic data in `{meta['data']}`, every analysis, the paper, the",
        "disclosure check, the manifest) as a fresh process per run; peak = maximum resident",
        f"set size. Machine: {meta['cpus']} cores, shared with other jobs while measured.",
        "",
        "| median wall (s) | runs (s) | peak RSS (MiB) | outputs | identical hashes across runs |",
        "|---:|---|---:|---:|---|",
        f"| {summary['median_wall_s']:.0f} | {', '.join(map(str, summary['runs_wall_s']))} | "
        + (f"{summary['peak_rss_mib']:,.0f}" if summary["peak_rss_mib"] else "n/a")
        + f" | {summary['n_outputs']} | {'yes' if same else 'NO'} |",
        "",
        "Stages (median seconds, from the manifest):",
        "",
        "| stage | s |",
        "|:---|---:|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in stages.items()]
    (HERE / "results/reproduce.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
