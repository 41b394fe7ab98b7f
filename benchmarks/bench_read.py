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
import os
folder, data_end, mode = sys.argv[1], sys.argv[2], sys.argv[3]
load = os.getloadavg()[0]
t0, c0 = time.perf_counter(), time.process_time()
x = read_extract(folder)
t1, c1 = time.perf_counter(), time.process_time()
c = build_cohort(x, CohortConfig(data_end=data_end, validation=mode))
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"read_s": t1 - t0, "cohort_s": t2 - t1, "total_s": t2 - t0,
                  "read_cpu_s": c1 - c0, "cohort_cpu_s": c2 - c1, "total_cpu_s": c2 - c0,
                  "load_1min": load,
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


def run_once(folder: Path, data_end: str, src: str | None = None, mode: str = "strict") -> dict:
    env = {**os.environ} | ({"PYTHONPATH": src} if src else {})
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), data_end, mode],
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
    ap.add_argument(
        "--formats",
        default="csv,parquet",
        help="comma-separated layouts to time (csv, parquet; --annual adds annual-csv)",
    )
    ap.add_argument(
        "--reference",
        metavar="SRC",
        help="also time the Parquet path (and, with --annual, the annual returns) with this "
        "source folder first on PYTHONPATH (e.g. a copy of main's src: before vs after)",
    )
    ap.add_argument(
        "--src",
        metavar="SRC",
        help="source folder first on PYTHONPATH for the runs timed (default: as installed)",
    )
    ap.add_argument(
        "--parquet-dir",
        type=Path,
        help="time the Parquet files of this folder as they are (e.g. the national "
        "data/synthetic/england), not links made beside --data",
    )
    ap.add_argument(
        "--annual-dir",
        type=Path,
        help="the annual CSV returns to time (e.g. made by `reunistat synth --annual`), "
        "with their own truth.json; default: made from --data by annual_folder",
    )
    ap.add_argument(
        "--mode",
        choices=("strict", "lenient"),
        default="strict",
        help="the cohort's validation (an annual extract from the generator needs lenient)",
    )
    ap.add_argument("--report-only", action="store_true", help="rewrite NAME.md from NAME.json")
    args = ap.parse_args()
    if args.report_only:
        old = json.loads((HERE / "results" / f"{args.name}.json").read_text())
        report(args, old["runs"], old["load_average_before"], old["load_average_after"], old)
        return
    wanted = args.formats.split(",")
    if args.parquet_dir:
        paths = {"parquet": args.parquet_dir} if "parquet" in wanted else {}
    else:
        paths = {f: d for f, d in folders(args.data).items() if f in wanted}
    if args.reference:
        paths = {"parquet-reference": paths["parquet"]} | paths
    if args.annual:
        annual = args.annual_dir or annual_folder(args.data, _data_end(args.data))
        if args.reference:
            paths["annual-csv-reference"] = annual
        paths["annual-csv"] = annual
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {fmt: [] for fmt in paths}
    for _ in range(args.repeats):  # interleaved, so a change of load hits both formats
        for fmt, folder in paths.items():
            src = args.reference if fmt.endswith("-reference") else args.src
            end = _data_end(folder if (folder / "truth.json").exists() else args.data)
            runs[fmt].append(run_once(folder, end, src, args.mode))
            print(fmt, runs[fmt][-1], flush=True)
    load_after = os.getloadavg()
    report(args, runs, load_before, load_after)


def _data_end(folder: Path) -> str:
    """The data end of an extract folder's ``truth.json`` (the generator's)."""
    return str(json.loads((folder / "truth.json").read_text())["data_end"])


def _ratio(runs: dict[str, list[dict]], fmt: str, base: str, key: str) -> float | None:
    """Median over rounds of ``fmt``'s ``key`` over ``base``'s in the same round."""
    if base not in runs or any(key not in r for r in runs[fmt] + runs[base]):
        return None
    pairs = zip(runs[fmt], runs[base], strict=True)
    return statistics.median(r[key] / b[key] for r, b in pairs)


def _extra(runs: dict[str, list[dict]], fmt: str, base: str, key: str) -> float | None:
    """Median over rounds of ``fmt``'s ``key`` minus ``base``'s in the same round (seconds)."""
    if base not in runs or any(key not in r for r in runs[fmt] + runs[base]):
        return None
    return statistics.median(r[key] - b[key] for r, b in zip(runs[fmt], runs[base], strict=True))


def _base(fmt: str) -> str:
    """The Parquet layout an annual layout is set against (the same source)."""
    return "parquet-reference" if fmt.endswith("-reference") else "parquet"


def report(
    args: argparse.Namespace,
    runs: dict[str, list[dict]],
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    old: dict | None = None,
) -> None:
    """Write NAME.json and NAME.md from the runs."""
    keys = ("read_s", "cohort_s", "total_s", "read_cpu_s", "cohort_cpu_s", "total_cpu_s")
    med = {
        fmt: {k: statistics.median(r[k] for r in rs) for k in keys if k in rs[0]}
        | {"peak_rss_mib": max(r["peak_rss_mib"] for r in rs)}
        for fmt, rs in runs.items()
    }
    # the load changes between rounds: the ratio of each round (formats run one after the
    # other) is steadier than the ratio of medians
    bases = [b for b in ("parquet", "parquet-reference") if b in runs]
    ratios = {
        f"{key} / {base}": {f: _ratio(runs, f, base, key) for f in runs}
        for base in bases
        for key in ("total_s", "total_cpu_s")
    }
    extra = {
        key: {f: _extra(runs, f, _base(f), key) for f in runs if f.startswith("annual")}
        for key in ("total_s", "total_cpu_s")
    }
    first = next(iter(runs.values()))[0]
    command = f"benchmarks/bench_read.py --data {args.data} --repeats {args.repeats}"
    command += f" --formats {args.formats}" + (" --annual" if args.annual else "")
    command += f" --reference {args.reference}" if getattr(args, "reference", None) else ""
    command += f" --src {args.src}" if getattr(args, "src", None) else ""
    for opt in ("parquet_dir", "annual_dir"):
        if getattr(args, opt, None):
            command += f" --{opt.replace('_', '-')} {getattr(args, opt)}"
    command += f" --mode {args.mode}" if getattr(args, "mode", "strict") != "strict" else ""
    result = {
        "command": old["command"] if old else command,
        "date": old["date"] if old else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": old["versions"] if old else versions(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "episodes": first["episodes"],
        "spells": first["spells"],
        "median": med,
        "ratios": ratios,
        "extra_over_parquet_s": extra,
        "runs": runs,
    }
    res = HERE / "results"
    (res / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Reading the national synthetic extract: annual CSV returns vs Parquet",
        "",
        f"`{result['command']}` on {result['date']}; "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        + ".",
        f"Load average (1, 5, 15 min) before {tuple(round(x, 1) for x in load_before)}, "
        f"after {tuple(round(x, 1) for x in load_after)}: the machine is shared, times are "
        "medians of the repeats and move with the load; the ratios of each round (formats "
        "run one after the other) are the figures to read, CPU time (`time.process_time`) "
        "the steadier one.",
        "",
        f"{result['spells']:,} spells.",
        "",
        "| layout | episode rows read | read (s) | cohort (s) | read + cohort (s) "
        "| CPU read (s) | CPU cohort (s) | CPU read + cohort (s) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt, m in med.items():
        cpu = [f"{m[k]:.1f}" if k in m else "-" for k in ("read_cpu_s", "cohort_cpu_s")]
        cpu.append(f"{m['total_cpu_s']:.1f}" if "total_cpu_s" in m else "-")
        lines.append(
            f"| {fmt} | {runs[fmt][0]['episodes']:,} | {m['read_s']:.1f} | {m['cohort_s']:.1f} "
            f"| {m['total_s']:.1f} | " + " | ".join(cpu) + f" | {m['peak_rss_mib']:.0f} |"
        )
    lines += ["", "Read + cohort over Parquet (median of the per-round ratios; goal 1.5):", ""]
    lines += ["| layout | " + " | ".join(ratios) + " |", "|---|" + "---:|" * len(ratios)]
    for fmt in runs:
        shown = ["-" if (c := ratios[k][fmt]) is None else f"{c:.2f}" for k in ratios]
        lines.append(f"| {fmt} | " + " | ".join(shown) + " |")
    lines += [
        "",
        "What the annual returns cost beyond the Parquet path of the same source (median of the "
        "per-round differences, seconds):",
        "",
        "| layout | over | read + cohort wall (s) | read + cohort CPU (s) |",
        "|---|---|---:|---:|",
    ]
    for fmt in extra["total_s"]:
        shown = ["-" if (v := extra[k][fmt]) is None else f"{v:.1f}" for k in extra]
        lines.append(f"| {fmt} | {_base(fmt)} | " + " | ".join(shown) + " |")
    lines += [
        "",
        "`...-reference`: run from the reference source (`--reference`).",
        "",
        "Every run, read + cohort wall (CPU) s, 1-min load at its start:",
        "",
    ]
    for fmt, rs in runs.items():
        each = [
            f"{r['total_s']:.1f} ({r.get('total_cpu_s', float('nan')):.1f}; "
            f"load {r.get('load_1min', float('nan')):.0f})"
            for r in rs
        ]
        lines.append(f"- {fmt}: " + ", ".join(each))
    lines.append("")
    (res / f"{args.name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
