"""Time the synthetic generator at national size and at --scale 10, with peak memory.

Run: ``.venv/bin/python benchmarks/bench_synth.py [--scales 1 10] [--repeats 3]``

Each run is a fresh subprocess (``reunistat synth`` end to end: generate, then
write Parquet), so peak memory is the child's maximum resident set size. The
machine is shared: the median of the repeats is reported, beside every run.
Results are written to benchmarks/results/synth.json and synth.md.

``--annual`` times the annual layout (one CSV return per collection year,
``reunistat synth --annual``) against the flat layout, the two alternating in
each repeat so that both meet the same load; wall and CPU seconds are
reported, with the ratio annual / flat. Results go to
benchmarks/results/synth_annual.json and synth_annual.md.
"""

from __future__ import annotations

import argparse
import json
import math
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
import json, os, resource, sys, time
from pathlib import Path
from reunistat import synthetic
from reunistat.synthetic import default_config, generate
scale, out = float(sys.argv[1]), Path(sys.argv[2])
annual = len(sys.argv) > 3 and sys.argv[3] == "annual"
t0, c0 = time.perf_counter(), time.process_time()
if scale > 1 and not annual and hasattr(synthetic, "generate_into"):
    # as the CLI does: the blocks written as they are made (no generate / write split)
    truth = synthetic.generate_into(out, default_config(), seed=20240331, scale=scale)
    t2, c2 = time.perf_counter(), time.process_time()
    t1 = c1 = None
    children, episodes = truth["realised"]["children"], truth["realised"]["episodes"]
    returns_home = truth["realised"]["returns_home"]
else:
    d = generate(default_config(), seed=20240331, scale=scale, annual=annual)
    t1, c1 = time.perf_counter(), time.process_time()
    d.write(out)
    t2, c2 = time.perf_counter(), time.process_time()
    returns_home = len(d.truth_returns)
    if annual:
        children = d.truth["realised"]["children"]
        episodes = sum(len(r["episodes"]) for r in d.returns.values())
    else:
        children, episodes = len(d.tables["header"]), len(d.tables["episodes"])
split = lambda a, b, c: None if b is None else (b - a, c - b)
g, w = split(t0, t1, t2) or (None, None)
gc, wc = split(c0, c1, c2) or (None, None)
print(json.dumps({"generate_s": g, "write_s": w, "cpu_s": c2 - c0,
                  "generate_cpu_s": gc, "write_cpu_s": wc,
                  "children": children, "episodes": episodes,
                  "returns_home": returns_home,
                  "own_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "load_1min_end": os.getloadavg()[0]}))
"""


def run_once(scale: float, layout: str = "flat", tree: str | None = None) -> dict:
    """One fresh process generating and writing; ``tree``: a checkout whose src/ it imports."""
    env = None
    if tree is not None:
        env = {**os.environ, "PYTHONPATH": str(Path(tree) / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        load_start = os.getloadavg()[0]
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(scale), tmp, layout],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        wall = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["wall_s"] = wall
    rec["load_1min_start"] = load_start
    # ru_maxrss of children is the max over all children so far: report it only if it grew;
    # own_peak_rss_mib is each run's own maximum resident set size (its child reports it)
    rec["peak_rss_mib"] = peak_kib / 1024 if peak_kib > before else None
    return rec


def fit_exponent(results: list[dict], key: str = "median_cpu_s") -> dict[str, float] | None:
    """Least-squares ``log(key) = a + b log(scale)`` over the scales: b, and 10x / 1x by it.

    >>> fit_exponent([{"scale": 1.0, "median_cpu_s": 2.0}, {"scale": 4.0, "median_cpu_s": 8.0}])
    {'exponent': 1.0, 'ratio_10x_to_1x': 10.0}
    """
    pts = [(math.log(r["scale"]), math.log(r[key])) for r in results if r.get(key)]
    if len(pts) < 2:
        return None
    mx = statistics.fmean(x for x, _ in pts)
    my = statistics.fmean(y for _, y in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return {"exponent": round(b, 3), "ratio_10x_to_1x": round(10.0**b, 2)}


def medians(runs: list[dict], *keys: str) -> dict[str, float | None]:
    """``median_KEY``: the median of each key over the runs (None if a run has none).

    >>> medians([{"a": 1, "b": None}, {"a": 3, "b": 2}], "a", "b")
    {'median_a': 2.0, 'median_b': None}
    """
    return {
        f"median_{k}": None
        if any(r[k] is None for r in runs)
        else statistics.median(r[k] for r in runs)
        for k in keys
    }


def fmt(x: float | None, spec: str = ".1f") -> str:
    """A figure for the tables; "-" where there is none (a streamed run has no write split)."""
    return "-" if x is None else format(x, spec)


def write_json(name: str, results: list[dict], load_before: tuple[float, ...]) -> dict:
    """Write results/NAME.json (the machine, the load before and now, the results); return meta."""
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / f"results/{name}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    return meta


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument(
        "--repeats", type=int, nargs="+", default=[3], help="runs per scale (one, or one a scale)"
    )
    ap.add_argument("--annual", action="store_true", help="annual layout against flat")
    ap.add_argument("--tag", default="", help="suffix of the results' file names (synth_TAG)")
    ap.add_argument(
        "--cache-probe", action="store_true", help="ns an element of plain numpy passes by size"
    )
    ap.add_argument(
        "--trees",
        nargs="+",
        metavar="NAME=DIR",
        help="alternate runs of these checkouts (their src/) at each scale: a fair A/B",
    )
    args = ap.parse_args()
    if args.trees:
        compare_trees(args.scales, args.repeats, args.trees, args.tag or "trees")
        return
    if args.cache_probe:
        cache_probe()
        return
    if args.annual:
        annual_vs_flat(args.scales, args.repeats[0])
        return
    load_before = os.getloadavg()
    results = []
    repeats = args.repeats * len(args.scales) if len(args.repeats) == 1 else args.repeats
    if len(repeats) != len(args.scales):
        ap.error("--repeats: one number, or one for each scale")
    # run the scales in increasing order so each new peak belongs to its own run
    for scale, n_runs in sorted(zip(args.scales, repeats, strict=True)):
        runs = [run_once(scale) for _ in range(n_runs)]
        peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
        summary = {
            "scale": scale,
            "children": runs[0]["children"],
            "episodes": runs[0]["episodes"],
            "returns_home": runs[0]["returns_home"],
            **medians(runs, "wall_s", "cpu_s", "generate_s", "write_s"),
            "peak_rss_mib": max(peaks) if peaks else None,
            "own_peak_rss_mib": max(r["own_peak_rss_mib"] for r in runs),
            "runs_load_1min_start_end": [
                [round(r["load_1min_start"], 2), round(r["load_1min_end"], 2)] for r in runs
            ],
            "runs_wall_s": [round(r["wall_s"], 2) for r in runs],
            "runs_cpu_s": [round(r["cpu_s"], 2) for r in runs],
            "load_1min_after": round(os.getloadavg()[0], 2),
        }
        results.append(summary)
        print(json.dumps(summary))
    name = f"synth_{args.tag}" if args.tag else "synth"
    fits = {k: fit_exponent(results, k) for k in ("median_cpu_s", "own_peak_rss_mib")}
    print(json.dumps({"fit": fits}))
    meta = write_json(name, [*results, {"fit": fits}], load_before)
    lines = [
        "# Synthetic generator: time and peak memory",
        "",
        "`.venv/bin/python benchmarks/bench_synth.py` (median of repeats; each run a fresh process",
        "generating and writing Parquet; peak = maximum resident set size).",
        f"Machine: {meta['cpus']} cores; 1-minute load average before and after: "
        f"{meta['load_average_1min_before_after']}. No other engine writes 903 data: the",
        "figures stand alone (compare runs of this script on one machine).",
        "",
        "| scale | children | episodes | returns home | median wall (s) | median CPU (s) "
        "| generate (s) | write (s) | peak RSS (MiB) | runs CPU (s) | load at start, end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scale']:g} | {r['children']:,} | {r['episodes']:,} | {r['returns_home']:,} | "
            f"{r['median_wall_s']:.1f} | {r['median_cpu_s']:.1f} | {fmt(r['median_generate_s'])} | "
            f"{fmt(r['median_write_s'])} | {r['own_peak_rss_mib']:,.0f} | "
            f"{', '.join(map(str, r['runs_cpu_s']))} | "
            f"{'; '.join(f'{a}, {b}' for a, b in r['runs_load_1min_start_end'])} |"
        )
    for key, fit in fits.items():
        if fit:
            lines.append(
                f"\nFit of log {key} on log scale: exponent {fit['exponent']}, so 10x national "
                f"would take {fit['ratio_10x_to_1x']}x national (a fit over the scales run)."
            )
    (HERE / f"results/{name}.md").write_text("\n".join(lines) + "\n")


def compare_trees(scales: list[float], repeats: list[int], trees: list[str], tag: str) -> None:
    """Run each tree in turn, run by run, at each scale (so they meet the same load).

    Writes results/synth_TAG.json and .md: per tree and scale the median CPU
    and wall, each run's CPU and load, the own peak RSS; per tree the fitted
    exponent of CPU on scale and the ratio of each scale to scale 1.
    """
    named = dict(t.split("=", 1) for t in trees)
    reps = repeats * len(scales) if len(repeats) == 1 else repeats
    load_before = os.getloadavg()
    rows: list[dict] = []
    for scale, n_runs in sorted(zip(scales, reps, strict=True)):
        runs: dict[str, list[dict]] = {name: [] for name in named}
        for _ in range(n_runs):
            for name, tree in named.items():
                runs[name].append(run_once(scale, tree=tree))
        for name, rs in runs.items():
            row = {
                "tree": name,
                "scale": scale,
                "children": rs[0]["children"],
                "episodes": rs[0]["episodes"],
                **medians(rs, "wall_s", "cpu_s", "generate_cpu_s", "write_cpu_s"),
                "own_peak_rss_mib": max(r["own_peak_rss_mib"] for r in rs),
                "runs_cpu_s": [round(r["cpu_s"], 2) for r in rs],
                "runs_load_1min_start_end": [
                    [round(r["load_1min_start"], 2), round(r["load_1min_end"], 2)] for r in rs
                ],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    fits = {
        name: {
            k: fit_exponent([r for r in rows if r["tree"] == name], k)
            for k in ("median_cpu_s", "own_peak_rss_mib")
        }
        for name in named
    }
    print(json.dumps({"fit": fits}))
    meta = write_json(f"synth_{tag}", [*rows, {"fit": fits, "trees": named}], load_before)
    lines = [
        f"# Synthetic generator: {' against '.join(named)}, run by run",
        "",
        f"`bench_synth.py --trees {' '.join(trees)} --scales {' '.join(map(str, scales))}`;",
        f"{meta['cpus']} cores, 1-minute load before and after "
        f"{meta['load_average_1min_before_after']}. CPU = user + system of the run.",
        "",
        "| tree | scale | children | episodes | median CPU (s) | x scale 1 | runs CPU (s) "
        "| generate, write CPU (s) | median wall (s) | peak RSS (MiB) | load at start, end |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|",
    ]
    for r in rows:
        one = [x for x in rows if x["tree"] == r["tree"] and x["scale"] == 1.0]
        ratio = f"{r['median_cpu_s'] / one[0]['median_cpu_s']:.2f}" if one else ""
        lines.append(
            f"| {r['tree']} | {r['scale']:g} | {r['children']:,} | {r['episodes']:,} | "
            f"{r['median_cpu_s']:.2f} | {ratio} | {', '.join(map(str, r['runs_cpu_s']))} | "
            f"{fmt(r['median_generate_cpu_s'], '.2f')}, {fmt(r['median_write_cpu_s'], '.2f')} | "
            f"{r['median_wall_s']:.1f} | {r['own_peak_rss_mib']:,.0f} | "
            f"{'; '.join(f'{a}, {b}' for a, b in r['runs_load_1min_start_end'])} |"
        )
    for name, fit in fits.items():
        for key, f in fit.items():
            if f:
                lines.append(
                    f"\n{name}: exponent of {key} on scale {f['exponent']} (10x national by it: "
                    f"{f['ratio_10x_to_1x']}x national; a fit over the scales run)."
                )
    (HERE / f"results/synth_{tag}.md").write_text("\n".join(lines) + "\n")


def cache_probe(
    sizes: tuple[int, ...] = (170_000, 520_000, 1_560_000, 5_200_000, 15_600_000),
) -> None:
    """CPU ns an element of three plain numpy passes at the generator's array sizes.

    An element-wise ``where`` over int64, a gather of int64 by a random
    permutation and a gather of int16 codes by it: what the generator does to
    every episode. Past the last-level cache the cost an element rises, then
    stays flat; this separates the machine's cache from the code's growth.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    print("elements  where  gather_int64  gather_int16   (CPU ns an element)")
    for n in sizes:
        a, b = rng.random(n), rng.integers(0, 100, n)
        p, c = rng.permutation(n), rng.integers(0, 50, n).astype(np.int16)
        reps = max(1, 20_000_000 // n)
        cells = []
        for op in ("where", "gather_int64", "gather_int16"):
            t = time.process_time()
            for _ in range(reps):
                if op == "where":
                    np.where(a < 0.5, b * 2 + 1, b - 3)
                else:
                    (b if op == "gather_int64" else c)[p]
            cells.append((time.process_time() - t) / reps / n * 1e9)
        print(f"{n:>10,}  " + "  ".join(f"{x:6.1f}" for x in cells), flush=True)


def annual_vs_flat(scales: list[float], repeats: int) -> None:
    """Time the annual layout against the flat one, alternating, and record the ratio."""
    load_before = os.getloadavg()
    results = []
    for scale in sorted(scales):
        runs: dict[str, list[dict]] = {"flat": [], "annual": []}
        for _ in range(repeats):
            for layout in ("flat", "annual"):
                runs[layout].append(run_once(scale, layout))
        row: dict = {"scale": scale}
        for layout, rs in runs.items():
            row[layout] = {
                "children": rs[0]["children"],
                "episodes_written": rs[0]["episodes"],
                "returns_home": rs[0]["returns_home"],
                **medians(rs, "wall_s", "cpu_s", "generate_s", "write_s"),
                "runs_wall_s": [round(r["wall_s"], 2) for r in rs],
                "runs_cpu_s": [round(r["cpu_s"], 2) for r in rs],
            }
        ratios_cpu = [
            a["cpu_s"] / f["cpu_s"] for a, f in zip(runs["annual"], runs["flat"], strict=True)
        ]
        ratios_wall = [
            a["wall_s"] / f["wall_s"] for a, f in zip(runs["annual"], runs["flat"], strict=True)
        ]
        row["median_ratio_cpu"] = statistics.median(ratios_cpu)
        row["median_ratio_wall"] = statistics.median(ratios_wall)
        results.append(row)
        print(json.dumps(row))
    meta = write_json("synth_annual", results, load_before)
    lines = [
        "# Synthetic generator: annual layout against flat",
        "",
        "`.venv/bin/python benchmarks/bench_synth.py --annual --scales 1 --repeats N`: each run a",
        "fresh process generating and writing (flat: Parquet; annual: one CSV return per",
        "collection year, 2021-2026, with the extra tables), flat and annual alternating.",
        f"Machine: {meta['cpus']} cores; 1-minute load average before and after: "
        f"{meta['load_average_1min_before_after']} (shared: compare the two layouts, run",
        "side by side, and prefer CPU seconds).",
        "",
        "| scale | layout | children | episode rows written | median wall (s) | median CPU (s) "
        "| generate (s) | write (s) | runs wall (s) | runs CPU (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for layout in ("flat", "annual"):
            x = r[layout]
            lines.append(
                f"| {r['scale']:g} | {layout} | {x['children']:,} | {x['episodes_written']:,} | "
                f"{x['median_wall_s']:.1f} | {x['median_cpu_s']:.1f} | "
                f"{x['median_generate_s']:.1f} | {x['median_write_s']:.1f} | "
                f"{', '.join(map(str, x['runs_wall_s']))} | "
                f"{', '.join(map(str, x['runs_cpu_s']))} |"
            )
        lines.append(
            f"| {r['scale']:g} | annual / flat | | | {r['median_ratio_wall']:.2f} | "
            f"{r['median_ratio_cpu']:.2f} | | | | |"
        )
    (HERE / "results/synth_annual.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
