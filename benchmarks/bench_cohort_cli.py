"""Time `reunistat cohort` as a user runs it, for several (source, data) sides, alternated.

Each side is ``NAME=SRC:DATA[:EXTRA:ARGS]`` (extra arguments separated by colons):
the package in SRC (first on PYTHONPATH, so an older commit's worktree can be timed
beside today's) derives the cohort of the extract in DATA with the command-line tool,
as a fresh process. Rounds alternate the sides, so the machine's load falls on every
side alike; each run's wall, CPU (user + system of the child) and peak RSS come from
``os.wait4``, with the 1-minute load at its start. Ratios are taken per round and
their median reported, against the side named by ``--base``.

Issue 10's goal: the national synthetic extract read as annual CSV returns within 1.5x
the Parquet cohort time of the day the goal was set (the parent of dbe143f) and of today:
``bench_cohort_cli.py --name cohort-annual-s27 --base filing-parquet
  --side filing-parquet=/work/wt/filing/src:/tmp/filing-data
  --side annual-csv=src:/tmp/annual27:--mode:lenient
  --side parquet=src:data/synthetic/england``
(``/tmp/filing-data``: ``reunistat synth`` at that commit; ``/tmp/annual27``: today's
``reunistat synth --annual --csv``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def parse_side(text: str) -> dict:
    name, _, rest = text.partition("=")
    src, data, *extra = rest.split(":")
    return {
        "name": name,
        "src": str(Path(src).resolve()),
        "data": data,
        "extra": " ".join(extra).split(),
    }


def run_once(side: dict, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=side["src"], OPENBLAS_NUM_THREADS="1")
    exe = str(Path(sys.executable).parent / "reunistat")
    cmd = [
        exe,
        "cohort",
        side["data"],
        "--out",
        str(out / f"{side['name']}.parquet"),
        *side["extra"],
    ]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{side['name']}: {' '.join(cmd)} failed:\n{err[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_mib": round(ru.ru_maxrss / 1024),
        "load_1min": round(load, 2),
    }


def git_head(src: str) -> str:
    r = subprocess.run(
        ["git", "-C", src, "log", "-1", "--format=%h %cs"], capture_output=True, text=True
    )
    return r.stdout.strip() or "?"


def _ratio(res: dict, name: str, base: str, key: str) -> float:
    pairs = zip(res["runs"][name], res["runs"][base], strict=True)
    return statistics.median(r[key] / b[key] for r, b in pairs)


def report(res: dict) -> str:
    names = [s["name"] for s in res["sides"]]
    bases = res["bases"]
    lines = [
        "# `reunistat cohort` from the command line: sides alternated",
        "",
        f"`{res['command']}` on {res['when']}; python {res['python']}, {res['machine']}.",
        "Every run is a fresh `reunistat cohort` process (imports, read, validate, derive,",
        "write the spells); CPU is the child's user + system time, the steadier figure on a",
        "shared machine. Ratios: median over rounds of each round's ratio.",
        "",
        "| side | package | data | spells | wall (s, median) | CPU (s, median) | peak RSS (MiB) | "
        + " | ".join(f"wall / {b} | CPU / {b}" for b in bases)
        + " |",
        "|---|---|---|---:|---:|---:|---:|" + "---:|---:|" * len(bases),
    ]
    for s in res["sides"]:
        runs = res["runs"][s["name"]]
        ratios = " | ".join(
            f"{_ratio(res, s['name'], b, 'wall_s'):.2f} | {_ratio(res, s['name'], b, 'cpu_s'):.2f}"
            for b in bases
        )
        lines.append(
            f"| {s['name']} | {s['head']} | `{s['data']}` {' '.join(s['extra'])} | "
            f"{s['spells']:,} | {statistics.median(r['wall_s'] for r in runs):.1f} | "
            f"{statistics.median(r['cpu_s'] for r in runs):.2f} | "
            f"{max(r['peak_rss_mib'] for r in runs):,} | {ratios} |"
        )
    lines += ["", "Every run, wall (CPU) s, load at its start:", ""]
    for n in names:
        lines.append(
            f"- {n}: "
            + ", ".join(
                f"{r['wall_s']} ({r['cpu_s']}; load {r['load_1min']})" for r in res["runs"][n]
            )
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--side", action="append", type=parse_side, help="NAME=SRC:DATA[:EXTRA:ARGS] (repeatable)"
    )
    ap.add_argument("--base", action="append", help="a side to take ratios against (repeatable)")
    ap.add_argument("--report-only", action="store_true", help="rewrite NAME.md from NAME.json")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--name", default="cohort_cli")
    args = ap.parse_args()
    out = HERE / "results" / args.name
    if args.report_only:
        res = json.loads(out.with_suffix(".json").read_text())
        res["bases"] = args.base or res["bases"]
    else:
        if not args.side or not args.base:
            ap.error("--side and --base are needed unless --report-only")
        res = measure(args)
        out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".md").write_text(report(res))
    print(report(res))


def measure(args: argparse.Namespace) -> dict:
    import pyarrow.parquet as pq

    runs: dict[str, list[dict]] = {s["name"]: [] for s in args.side}
    with tempfile.TemporaryDirectory(prefix="bench-cohort-cli-") as tmp:
        for _ in range(args.repeats):
            for s in args.side:
                runs[s["name"]].append(run_once(s, Path(tmp)))
                s["spells"] = pq.read_metadata(Path(tmp) / f"{s['name']}.parquet").num_rows
    for s in args.side:
        s["head"] = git_head(s["src"])
    return {
        "command": "python benchmarks/bench_cohort_cli.py " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "bases": args.base,
        "sides": args.side,
        "runs": runs,
    }


if __name__ == "__main__":
    main()
