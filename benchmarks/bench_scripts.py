"""Time single analysis scripts of ``reunistat reproduce`` at national size, one process.

Run: ``.venv/bin/python benchmarks/bench_scripts.py --src ROOT --label NAME
[--data DIR] [--scripts 12 10 03] [--repeats 3] [--profile DIR]``; ``--render
BEFORE AFTER`` writes ``results/scripts_speed.md`` from two labelled runs.

``ROOT`` holds a tree's ``src`` and ``analyses`` (e.g. this worktree, or main's
copied to /tmp). For each tree a fresh process (``PYTHONPATH=ROOT/src``, BLAS
and OpenMP on one thread) reads the extract, derives the cohort and builds the
release-wide suppression once, as ``reproduce`` does before its scripts, then
runs each chosen script through the pipeline's own ``run_one`` (after the
scripts it needs, :data:`reunistat.pipeline.workers.NEEDS`, untimed): once
cold (its first imports included), then ``--repeats`` times warm. As in
``reproduce``, what lives when a script starts (the extract, the cohort, the
release, the modules imported) is out of the garbage collector's reach
(``gc.freeze``, :func:`reunistat.pipeline.workers.frozen_heap`, in a tree that
has it): each run starts by freezing what is alive then, so that no collection
during a script walks the cohort again. Each run's
CPU (``time.process_time``) and wall time are recorded, with the SHA-256 of
every file the script wrote, which must be the same in every run (and, for a
speed change, the same before and after). ``--profile DIR`` runs each script
once more under cProfile and writes ``DIR/NN.prof``. Results:
``results/scripts_<label>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DEFAULT_SCRIPTS = ("12", "10", "03", "08", "07", "06")


def _script_path(analyses: Path, number: str) -> Path:
    found = sorted(analyses.glob(f"{number}_*.py"))
    if not found:
        sys.exit(f"no analyses/{number}_*.py in {analyses}")
    return found[0]


def _forget(ctx: Any, name: str) -> None:
    """Drop what a script registered, so that it can run again in the same Context."""
    for key in [k for k, o in ctx.outputs.items() if o.script == name]:
        del ctx.outputs[key]
    for key in [k for k, v in ctx.values.items() if v["script"] == name]:
        del ctx.values[key]


def _hashes(ctx: Any, name: str) -> dict[str, str]:
    return {
        k: hashlib.sha256((ctx.out / k).read_bytes()).hexdigest()
        for k, o in sorted(ctx.outputs.items())
        if o.script == name
    }


#: CPU seconds spent writing figures and tables in the current run (see ``_watch``).
_SPENT = {"figures": 0.0, "tables": 0.0}


def _watch() -> None:
    """Count the CPU time of the figure and table writers (where the rest of a script goes)."""
    from reunistat.report import figures, tables

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                _SPENT[key] += time.process_time() - c0

        return wrapper

    figures.save_figure = timed(figures.save_figure, "figures")  # type: ignore[assignment]
    tables.write_table = timed(tables.write_table, "tables")  # type: ignore[assignment]


def _as_in_reproduce() -> Any:
    """What ``reproduce`` runs a script in: a frozen heap (in a tree that has one)."""
    import contextlib

    from reunistat.pipeline import workers

    return getattr(workers, "frozen_heap", contextlib.nullcontext)()


def _timed(ctx: Any, path: Path, profile: Path | None = None) -> dict[str, Any]:
    with _as_in_reproduce():
        return _timed_here(ctx, path, profile)


def _timed_here(ctx: Any, path: Path, profile: Path | None) -> dict[str, Any]:
    from reunistat.pipeline.run import _script_name, run_one

    name = _script_name(ctx.config, path)
    _forget(ctx, name)
    _SPENT.update(figures=0.0, tables=0.0)
    failed = len(ctx.failed)
    prof = None
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0, t0 = time.process_time(), time.perf_counter()
    run_one(ctx, path)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    if len(ctx.failed) > failed:
        sys.exit(f"{name} failed: {ctx.failed[-1]}")
    spent = {f"{k}_cpu_s": round(v, 3) for k, v in _SPENT.items()}
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), **spent, "hashes": _hashes(ctx, name)}


def child(args: argparse.Namespace) -> None:
    """Run in the tree's own process: derive the cohort once, then time each script."""
    from reunistat.pipeline import workers
    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context
    from reunistat.pipeline.documents import run_values
    from reunistat.pipeline.workers import NEEDS

    out = Path(tempfile.mkdtemp(prefix="bench-scripts-", dir=args.tmp))
    cfg = load_config("analyses/config.toml").with_changes(  # run in the tree's folder
        data_dir=Path(args.data).resolve(), outputs_dir=out, analysis_jobs=1
    )
    ctx = Context(cfg, log=lambda s: None)
    _watch()
    t0 = time.perf_counter()
    _ = ctx.cohort
    _ = ctx.release
    run_values(ctx)
    setup = time.perf_counter() - t0
    if hasattr(workers, "release_memory"):
        workers.release_memory()  # what deriving the cohort freed, as reproduce does
    done: set[str] = set()

    def prerequisites(n: str) -> None:
        for m in NEEDS.get(n, ()):
            prerequisites(m)
            if m not in done:
                _timed(ctx, _script_path(cfg.analyses_dir, m))
                done.add(m)

    frozen = hasattr(workers, "frozen_heap")
    record: dict[str, Any] = {"setup_s": round(setup, 2), "frozen_heap": frozen, "scripts": {}}
    for n in args.scripts:
        prerequisites(n)
        path = _script_path(cfg.analyses_dir, n)
        cold = _timed(ctx, path)
        warm = [_timed(ctx, path) for _ in range(args.repeats)]
        if any(w["hashes"] != cold["hashes"] for w in warm):
            sys.exit(f"{path.name}: the outputs differ between runs of the same code")
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            _timed(ctx, path, Path(args.profile) / f"{n}.prof")
        done.add(n)
        record["scripts"][path.name] = {
            "cold": {k: cold[k] for k in ("cpu_s", "wall_s")},
            "warm": [{k: v for k, v in w.items() if k != "hashes"} for w in warm],
            "cpu_s": statistics.median(w["cpu_s"] for w in warm),
            "wall_s": statistics.median(w["wall_s"] for w in warm),
            "hashes": cold["hashes"],
        }
        print(
            f"{path.name}: cold {cold['cpu_s']:.2f} s CPU; warm median "
            f"{record['scripts'][path.name]['cpu_s']:.2f} s CPU, "
            f"{record['scripts'][path.name]['wall_s']:.2f} s wall (last run: figures "
            f"{warm[-1]['figures_cpu_s']:.2f} s, tables {warm[-1]['tables_cpu_s']:.2f} s CPU)",
            file=sys.stderr,
        )
    json.dump(record, sys.stdout)


def run(args: argparse.Namespace) -> None:
    """Start the tree's process and save what it measured."""
    env = dict(os.environ, PYTHONPATH=str(Path(args.src) / "src"))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    load0 = os.getloadavg()
    data = str(Path(args.data).resolve())
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--src", args.src]
    cmd += ["--data", data]
    cmd += ["--repeats", str(args.repeats), "--tmp", args.tmp, "--scripts", *args.scripts]
    if args.profile:
        cmd += ["--profile", str(Path(args.profile).resolve())]
    res = subprocess.run(cmd, cwd=args.src, env=env, stdout=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.exit(f"the timing process failed ({res.returncode})")
    record = json.loads(res.stdout)
    record |= {
        "label": args.label,
        "src": str(Path(args.src).resolve()),
        "data": args.data,
        "repeats": args.repeats,
        "load": [round(x, 2) for x in load0] + [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "blas_threads": 1,
    }
    path = RESULTS / f"scripts_{args.label}.json"
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def render(before: str, after: str) -> str:
    """The Markdown table of two labelled runs (per script: CPU and wall, outputs the same?)."""
    b = json.loads((RESULTS / f"scripts_{before}.json").read_text())
    a = json.loads((RESULTS / f"scripts_{after}.json").read_text())
    lines = [
        f"- before (`{before}`): `{b['src']}`, {b['date']}, load {b['load']}",
        f"- after (`{after}`): `{a['src']}`, {a['date']}, load {a['load']}",
        "",
        "| script | CPU before | CPU after | wall before | wall after | cold CPU before | "
        "cold CPU after | outputs identical |",
        "|:---|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for name, rb in b["scripts"].items():
        ra = a["scripts"].get(name)
        if ra is None:
            continue
        same = "yes" if rb["hashes"] == ra["hashes"] else _differ(rb["hashes"], ra["hashes"])
        lines.append(
            f"| {name} | {rb['cpu_s']:.2f} | {ra['cpu_s']:.2f} | {rb['wall_s']:.2f} | "
            f"{ra['wall_s']:.2f} | {rb['cold']['cpu_s']:.2f} | {ra['cold']['cpu_s']:.2f} | {same} |"
        )
    return "\n".join(lines) + "\n"


def _differ(hb: dict[str, str], ha: dict[str, str]) -> str:
    diff = sorted(k for k in hb.keys() | ha.keys() if hb.get(k) != ha.get(k))
    return "no: " + ", ".join(f"`{k}`" for k in diff)


def main() -> None:
    """Parse the command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=str(ROOT), help="a tree with src/ and analyses/")
    ap.add_argument("--label", default="after")
    ap.add_argument("--data", default=str(ROOT / "data/synthetic/england"))
    ap.add_argument("--scripts", nargs="+", default=list(DEFAULT_SCRIPTS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", default="", help="a folder for one cProfile run per script")
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    ap.add_argument("--render", nargs=2, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render:
        print(render(*args.render), end="")
    elif args.child:
        child(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
