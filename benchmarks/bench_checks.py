"""CPU time of the disclosure checker over a written release, source trees compared.

Run: ``.venv/bin/python benchmarks/bench_checks.py --out OUTPUTS [--data DIR]
--src NAME=TREE/src ... [--repeats 5]``

For each source tree, a process reads the input's identifiers as a run does
(:func:`reunistat.pipeline.verify.release_identifiers`, with the manifest's
data end) and keeps them in a temporary file; then, ``--repeats`` times and
the trees taken in turn, a fresh process runs
:func:`reunistat.report.checker.check_folder` over the whole folder (every
file, with the manifest's specs and rules) and reports its CPU seconds and
its findings. The findings must be the same for every tree; the median CPU
of each tree is printed (and written as JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_IDENTIFIERS = """
import datetime as dt, json, pickle, sys
from pathlib import Path
from reunistat.pipeline.verify import release_identifiers
from reunistat.tables import read_extract
out, data, dest = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
end = json.loads((out / "manifest.json").read_text())["cohort"].get("data_end")
end = dt.date.fromisoformat(end) if end else None
with open(dest, "wb") as f:
    pickle.dump(release_identifiers(read_extract(data).tables, end), f)
"""

_CHECK = """
import json, pickle, sys, time
from pathlib import Path
from reunistat.report import checker
from reunistat.report.disclosure import DisclosureRules
out = Path(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    ids = pickle.load(f)
manifest = json.loads((out / "manifest.json").read_text())
rules = DisclosureRules(**manifest["disclosure"])
specs = {o["path"]: o["disclosure"] for o in manifest["outputs"]}
import pandas, pypdf  # imported as a run has them
t = time.process_time()
found = checker.check_folder(out, specs, rules, ids)
print(json.dumps({"cpu": time.process_time() - t, "found": found}))
"""


def _run(src: str, code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": src, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="a release folder to check")
    ap.add_argument("--data", type=Path, default=ROOT / "data/synthetic/england")
    ap.add_argument("--src", action="append", required=True, help="NAME=PATH of a src folder")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    trees = dict(s.split("=", 1) for s in args.src)
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        ids = {name: str(Path(tmp) / f"{name}.pkl") for name in trees}
        for name, src in trees.items():
            _run(src, _IDENTIFIERS, str(args.out), str(args.data), ids[name])
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        found: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            for name, src in trees.items():
                got = json.loads(_run(src, _CHECK, str(args.out), ids[name]))
                cpu[name].append(round(got["cpu"], 3))
                found.setdefault(name, got["found"])
                if got["found"] != next(iter(found.values())):
                    raise SystemExit(f"{name} finds otherwise than {next(iter(found))}")
    result = {
        "out": str(args.out),
        "load": os.getloadavg(),
        "findings": len(next(iter(found.values()))),
        "cpu_seconds": cpu,
        "median": {name: statistics.median(v) for name, v in cpu.items()},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
