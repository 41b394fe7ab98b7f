"""Time reading the national synthetic extract as CSV vs Parquet, alone and with the cohort.

Run (after ``reunistat synth --out /tmp/nat --csv``, about 15 s on an idle machine):
``.venv/bin/python benchmarks/bench_read.py --data /tmp/nat [--repeats 3]``

Two folders of symbolic links are made beside the data, one with the CSV files
only and one with the Parquet files only, so each run reads one format. Each
run is a fresh subprocess (``read_extract`` then ``build_cohort``, timed
apart), so its peak memory is the child's own maximum resident set size. The
machine is shared: the median of the repeats is reported beside every run,
with the load average before and after. The issue's goal: CSV read + cohort
within 1.5 times the Parquet path.

Results go to benchmarks/results/read.json and read.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
TABLES = ("header", "episodes", "cin", "npd", "postcodes", "la")
CHILD = """
import json, resource, sys, time
from reunistat.cohort import CohortConfig, build_cohort
from reunistat.tables import read_extract
folder, data_end = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
x = read_extract(folder)
t1 = time.perf_counter()
c = build_cohort(x, CohortConfig(data_end=data_end))
t2 = time.perf_counter()
print(json.dumps({"read_s": t1 - t0, "cohort_s": t2 - t1, "total_s": t2 - t0,
                  "episodes": int(x.stacking.set_index("table").loc["episodes", "rows_read"]),
                  "spells": len(c.spells),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def folders(data: Path) -> dict[str, Path]:
    """Make ``DATA-csv`` and ``DATA-parquet``: links to the files of one format."""
    out = {}
    for fmt in ("csv", "parquet"):
        d = data.parent / f"{data.name}-{fmt}"
        d.mkdir(exist_ok=True)
        for t in TABLES:
            link = d / f"{t}.{fmt}"
            if not link.exists():
                link.symlink_to((data / f"{t}.{fmt}").resolve())
        out[fmt] = d
    return out


def _csv(df, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = df.copy()
    for c in out.columns:
        if str(out[c].dtype).startswith("datetime"):
            out[c] = out[c].dt.strftime("%d/%m/%Y")
    pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), path)


def annual_folder(data: Path, data_end: str) -> Path:
    """Write the extract as DfE ships it: one folder of CSV returns per collection year.

    Each return holds the episodes open at any time in its year (those open at
    31 March written open), and the header of their children; the linked
    tables are written once.
    """
    import pandas as pd

    d = data.parent / f"{data.name}-annual"
    if (d / "done").exists():
        return d
    ep = pd.read_parquet(data / "episodes.parquet")
    header = pd.read_parquet(data / "header.parquet")
    last = pd.Timestamp(data_end).year
    for y in range(int(ep["DECOM"].dt.year.min()) + 1, last + 1):
        start, end = pd.Timestamp(f"{y - 1}-04-01"), pd.Timestamp(f"{y}-03-31")
        rows = ep[(ep["DECOM"] <= end) & (ep["DEC"].isna() | (ep["DEC"] >= start))].copy()
        still_open = rows["DEC"] > end
        rows.loc[still_open, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = [pd.NaT, None, None]
        (d / str(y)).mkdir(parents=True, exist_ok=True)
        _csv(rows, d / str(y) / "episodes.csv")
        kids = set(zip(rows["LA"], rows["CHILD"], strict=True))
        h = header[[k in kids for k in zip(header["LA"], header["CHILD"], strict=True)]]
        _csv(h, d / str(y) / "header.csv")
    for t in TABLES[2:]:
        link = d / f"{t}.csv"
        if not link.exists():
            link.symlink_to((data / f"{t}.csv").resolve())
    (d / "done").write_text("")
    return d


def run_once(folder: Path, data_end: str) -> dict:
    env = {**os.environ}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), data_end],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def versions() -> dict[str, str]:
    import numpy
    import pandas
    import pyarrow

    import reunistat

    return {
        "python": platform.python_version(),
        "reunistat": reunistat.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/nat"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--annual", action="store_true", help="also time annual CSV returns (DIR/2019/...)"
    )
    ap.add_argument("--name", default="read", help="results/NAME.json and NAME.md")
    ap.add_argument("--report-only", action="store_true", help="rewrite NAME.md from NAME.json")
    args = ap.parse_args()
    if args.report_only:
        old = json.loads((HERE / "results" / f"{args.name}.json").read_text())
        report(args, old["runs"], old["load_average_before"], old["load_average_after"], old)
        return
    data_end = json.loads((args.data / "truth.json").read_text())["data_end"]
    paths = folders(args.data)
    if args.annual:
        paths["annual-csv"] = annual_folder(args.data, data_end)
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {fmt: [] for fmt in paths}
    for _ in range(args.repeats):  # interleaved, so a change of load hits both formats
        for fmt, folder in paths.items():
            runs[fmt].append(run_once(folder, data_end))
            print(fmt, runs[fmt][-1], flush=True)
    load_after = os.getloadavg()
    report(args, runs, load_before, load_after)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[dict]],
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    old: dict | None = None,
) -> None:
    """Write NAME.json and NAME.md from the runs."""
    med = {
        fmt: {k: statistics.median(r[k] for r in rs) for k in ("read_s", "cohort_s", "total_s")}
        | {"peak_rss_mib": max(r["peak_rss_mib"] for r in rs)}
        for fmt, rs in runs.items()
    }
    # the load changes between rounds: the ratio of each round (formats run one after the
    # other) is steadier than the ratio of medians
    ratios = {
        f: statistics.median(
            r["total_s"] / p["total_s"] for r, p in zip(rs, runs["parquet"], strict=True)
        )
        for f, rs in runs.items()
    }
    ratio = ratios["csv"]
    result = {
        "command": old["command"]
        if old
        else f"benchmarks/bench_read.py --data {args.data} --repeats {args.repeats}"
        + (" --annual" if args.annual else ""),
        "date": old["date"] if old else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": old["versions"] if old else versions(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "episodes": runs["csv"][0]["episodes"],
        "spells": runs["csv"][0]["spells"],
        "median": med,
        "csv_over_parquet_total": ratio,
        "over_parquet_total": ratios,
        "runs": runs,
    }
    res = HERE / "results"
    (res / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Reading the national synthetic extract: CSV vs Parquet",
        "",
        f"`{result['command']}` on {result['date']}; "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        + ".",
        f"Load average (1, 5, 15 min) before {tuple(round(x, 1) for x in load_before)}, "
        f"after {tuple(round(x, 1) for x in load_after)}: the machine is shared, times are "
        "medians of the repeats and move with the load; the ratio is the figure to read.",
        "",
        f"{result['episodes']:,} episode rows, {result['spells']:,} spells.",
        "",
        "| format | read (s) | cohort (s) | read + cohort (s) | / Parquet | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for fmt, m in med.items():
        lines.append(
            f"| {fmt} | {m['read_s']:.1f} | {m['cohort_s']:.1f} | {m['total_s']:.1f} "
            f"| {ratios[fmt]:.2f} | {m['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"CSV read + cohort / Parquet read + cohort, median of the per-round ratios: "
        f"**{ratio:.2f}** (goal: at most 1.5)"
        + (
            f"; annual CSV returns: **{ratios['annual-csv']:.2f}**."
            if "annual-csv" in ratios
            else "."
        ),
        "The `/ Parquet` column is that median ratio; the times are medians of each column.",
        "",
        "Every run (s): "
        + "; ".join(
            f"{fmt} " + ", ".join(f"{r['total_s']:.1f}" for r in rs) for fmt, rs in runs.items()
        ),
        "",
    ]
    (res / f"{args.name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
