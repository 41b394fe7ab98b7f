"""Time the logistic analysis scripts (05, 10, 12) of a package tree at national size.

Run: ``python benchmarks/bench_logistic_steps.py --src DIR --out /tmp/NAME-out 05 10 12``

Each script's ``run(ctx)`` is timed in this process (CPU time with
``time.process_time`` and wall time), BLAS threads fixed to 1, after the
cohort and the release-wide suppression are built (untimed: the pipeline builds
them before the scripts). ``--src`` is the ``src`` folder of the tree to time;
its ``../analyses`` scripts are run. The cohort is cached in ``--cache`` (a
pickle) so that trees are compared on the same spells. Writes into ``--out``
the outputs, ``_hashes.json`` (SHA-256 of every output file), ``_values.json``
(the quoted values) and ``_times.json``: compare two trees' hashes to show the
outputs are byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import runpy
import sys
import time
from pathlib import Path


def main() -> None:
    """Run the scripts and write their outputs, hashes and times."""
    ap = argparse.ArgumentParser()
    ap.add_argument("scripts", nargs="+", help="script numbers, e.g. 05 10 12")
    ap.add_argument("--src", type=Path, required=True, help="the src folder of the tree")
    ap.add_argument("--out", type=Path, required=True, help="outputs folder (new)")
    ap.add_argument("--data", type=Path, default=Path("/work/main/data/synthetic/england"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/logistic-h/ctx.pkl"))
    args = ap.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context

    tree = args.src.resolve().parent
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(tree / "analyses/config.toml").with_changes(
        outputs_dir=out, data_dir=args.data, analyses_dir=tree / "analyses"
    )
    ctx = Context(cfg, log=lambda s: None)
    if args.cache.exists():
        ctx.__dict__["extract"], ctx.__dict__["cohort"] = pickle.loads(args.cache.read_bytes())
    else:
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps((ctx.extract, ctx.cohort)))
    _ = ctx.release
    times = {}
    for s in args.scripts:
        path = sorted((tree / "analyses").glob(f"{s}_*.py"))[0]
        ctx.script = f"analyses/{path.name}"
        module = runpy.run_path(str(path), run_name="reunistat_analysis")
        load0 = os.getloadavg()[0]
        c0, w0 = time.process_time(), time.perf_counter()
        module["run"](ctx)
        times[path.name] = {
            "cpu": round(time.process_time() - c0, 2),
            "wall": round(time.perf_counter() - w0, 2),
            "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
        }
        print(path.name, times[path.name], flush=True)
    hashes = {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith("_")
    }
    (out / "_values.json").write_text(json.dumps(ctx.values, indent=1, sort_keys=True, default=str))
    (out / "_hashes.json").write_text(json.dumps(hashes, indent=1))
    (out / "_times.json").write_text(json.dumps(times, indent=1))


if __name__ == "__main__":
    main()
