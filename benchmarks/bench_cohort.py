"""Time the cohort derivation at national size by stage: read, validate, derive, write.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_cohort.py --data
data/synthetic/england [--repeats 3] [--src OTHER/src --label before]``

Each run is a fresh subprocess doing what ``reunistat cohort DIR --out X.parquet``
does: import, ``read_extract``, ``build_cohort`` (its ``prepare``, which reads
nothing here and validates, timed apart from the derivation) and writing the
spells. Every stage is timed in CPU seconds (``time.process_time``: the machine
is shared by several people, so wall time moves with the load) and wall
seconds; peak memory is the child's maximum resident set size. The medians of
the repeats are written to ``benchmarks/results/cohort.json`` (one entry per
``--label``); ``cohort.md`` is written by hand from it.
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
CHILD = """
import json, resource, sys, time
clock = [(time.process_time(), time.perf_counter())]
def tick():
    clock.append((time.process_time(), time.perf_counter()))
from reunistat.cohort import CohortConfig, build_cohort, derive
from reunistat.cohort.output import write_spells
from reunistat.tables import read_extract
tick()
prepare = derive.prepare
def timed_prepare(*a, **k):
    out = prepare(*a, **k)
    tick()
    return out
derive.prepare = timed_prepare
x = read_extract(sys.argv[1])
tick()
if sys.argv[3] == "categories":  # code columns and LA as a reader of categories gives them
    import dataclasses
    import pandas as pd
    from reunistat.tables import schema
    tables = {}
    for name, df in x.tables.items():
        cols = [c.name for c in schema.TABLES.get(name, ()) if c.kind == "code"] + ["LA"]
        df = df.copy(deep=False)
        for col in cols:
            if col in df.columns and df[col].dtype == object:
                codes, uniques = pd.factorize(df[col])  # categories: order of first appearance
                cats = pd.Index(uniques, dtype=object)
                df[col] = pd.Categorical.from_codes(codes, categories=cats)
        tables[name] = df
    x = dataclasses.replace(x, tables=tables)
tick()
c = build_cohort(x, CohortConfig())
tick()
write_spells(c, sys.argv[2])
tick()
names = ("import", "read", "to_categories", "validate", "derive", "write")
cpu = {n: clock[i + 1][0] - clock[i][0] for i, n in enumerate(names)}
wall = {n: clock[i + 1][1] - clock[i][1] for i, n in enumerate(names)}
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "spells": len(c.spells),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_once(src: Path, data: Path, out: Path, categories: bool = False) -> dict[str, object]:
    """One fresh process; return its stage times and peak memory.

    ``categories``: give validation the code columns and LA as ``category``
    columns (as a reader of categories would; the conversion is timed apart,
    stage ``to_categories``, and not counted in read, validate or derive).
    """
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(data),
            str(out),
            "categories" if categories else "objects",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, object]], key: str) -> dict[str, float]:
    """Median per stage of ``key`` (``cpu_s`` or ``wall_s``) over the runs."""
    stages = runs[0][key]
    assert isinstance(stages, dict)
    out = {s: statistics.median(float(r[key][s]) for r in runs) for s in stages}  # type: ignore[index]
    out["total"] = statistics.median(sum(r[key].values()) for r in runs)  # type: ignore[attr-defined]
    core = ("read", "validate", "derive")
    out["read+validate+derive"] = statistics.median(
        sum(r[key][s] for s in core)  # type: ignore[index]
        for r in runs
    )
    return out


def main() -> None:
    """Run the benchmark and record its medians under ``--label``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/synthetic/england"))
    ap.add_argument("--src", type=Path, default=HERE.parent / "src")
    ap.add_argument("--label", default="after")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("/tmp/cohort-bench.parquet"))
    ap.add_argument(
        "--categories",
        action="store_true",
        help="code columns and LA as categories after the read (timed apart)",
    )
    args = ap.parse_args()
    load_before = os.getloadavg()
    runs = [
        run_once(args.src.resolve(), args.data, args.out, args.categories)
        for _ in range(args.repeats)
    ]
    import numpy
    import pandas
    import pyarrow

    entry = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(sys.argv),
        "versions": {
            "python": platform.python_version(),
            "pandas": pandas.__version__,
            "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__,
        },
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "spells": runs[0]["spells"],
        "cpu_s": median_of(runs, "cpu_s"),
        "wall_s": median_of(runs, "wall_s"),
        "peak_rss_mib": statistics.median(float(r["peak_rss_mib"]) for r in runs),  # type: ignore[arg-type]
        "runs": runs,
    }
    path = HERE / "results" / "cohort.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    record[args.label] = entry
    path.write_text(json.dumps(record, indent=1) + "\n")
    cpu = median_of(runs, "cpu_s")
    print(args.label, {k: round(v, 2) for k, v in cpu.items()}, f"{entry['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
