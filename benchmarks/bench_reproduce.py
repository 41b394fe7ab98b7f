"""Time the main job, ``reunistat reproduce``, end to end at national size, with peak memory.

Run: ``.venv/bin/python benchmarks/bench_reproduce.py [--repeats 2] [--data DIR]
[--src DIR --label NAME]``; ``--render BEFORE AFTER`` writes the top of
``results/reproduce.md`` (what the page held stays below it) from two labelled runs
(e.g. the main branch's ``src`` and this tree's): each stage's time before and after,
and whether every output's hash is the same.

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
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
WORK = HERE / "_work"

#: A fixed single-core workload (pure Python, a numpy sort and a small matrix product), timed
#: just before each run: the median of 5, in seconds. The machine is a shared virtual one whose
#: speed changes from day to day (main's own median went 23.6 -> 28.4 s between two days with
#: the same code), so each run records how fast the machine was when it ran.
SPEED_PROBE = """
import time
import numpy as np
def once():
    t = time.perf_counter()
    s = 0
    for i in range(2_000_000):
        s += i
    np.sort(np.random.default_rng(0).random(2_000_000))
    m = np.random.default_rng(1).random((400, 400))
    m @ m
    return time.perf_counter() - t
print(sorted(once() for _ in range(5))[2])
"""


#: Fresh memory touched page by page (1 GiB of float64 written once, median of 3): what the
#: run pays for each first touch of a page (its system time). On 2026-12-03's host a run
#: spent 7.6 s in the system, on 2026-12-04's 5.7 s, while :data:`SPEED_PROBE` read the same.
MEMORY_PROBE = """
import time
import numpy as np
def once():
    t = time.perf_counter()
    np.ones(2**27)
    return time.perf_counter() - t
print(sorted(once() for _ in range(3))[1])
"""


#: The probes each run records (seconds): one core, both cores at once, memory.
PROBES = ("speed_probe_s", "speed_probe_two_cores_s", "memory_probe_s")


def _threads_env(threads: int) -> dict[str, str]:
    """This environment with BLAS and OpenMP on ``threads`` threads."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def machine_speed(threads: int, code: str = SPEED_PROBE) -> float:
    """Seconds the ``code`` workload (:data:`SPEED_PROBE`) takes on this machine now."""
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_threads_env(threads),
        check=True,
    )  # fmt: skip
    return round(float(res.stdout), 3)


def machine_speed_both_cores(threads: int) -> float:
    """:data:`SPEED_PROBE` on two processes at once: the slower one's seconds.

    Against :func:`machine_speed` (one process) it shows whether the second core is
    as fast as the first while both work, as they do through most of a run.
    """
    cmd = [sys.executable, "-c", SPEED_PROBE]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_threads_env(threads))
        for _ in range(2)
    ]
    return round(max(float(p.communicate()[0]) for p in procs), 3)


def compile_tree(src: Path) -> None:
    """Write the bytecode of the package tree ``src`` (``__pycache__``), as an install does.

    ``pip install`` compiles a package's modules, and Python reads the ``.pyc``
    files even where ``PYTHONDONTWRITEBYTECODE`` is set; an editable install or a
    source tree gets them only from a run allowed to write them. On a machine
    with that variable set (this one) every run would otherwise compile every
    reunistat module it imports again: ~0.45 s CPU in the run's process alone.
    ``make reproduce`` compiles the tree the same way (only what changed).
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)


def run_once(
    data: Path, src: Path, threads: int, jobs: int | None, out: Path, extra: Sequence[str] = ()
) -> dict:
    """Run ``reunistat reproduce`` once from the package in ``src``; return its record."""
    cmd = [
        sys.executable,
        "-m",
        "reunistat.cli",
        "reproduce",
        "--data",
        str(data),
        "--out",
        str(out),
        *([] if jobs is None else ["--jobs", str(jobs)]),
        *extra,
    ]
    env = _threads_env(threads) | {"PYTHONPATH": str(src)}
    probe = machine_speed(threads)
    probe2 = machine_speed_both_cores(threads)
    probe_mem = machine_speed(threads, MEMORY_PROBE)
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage0.ru_maxrss
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"reunistat reproduce failed ({res.returncode}):\n{res.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "speed_probe_s": probe,
        "speed_probe_two_cores_s": probe2,
        "memory_probe_s": probe_mem,
        "wall_s": wall,
        "cpu_s": round(cpu, 1),
        "memory_mib": manifest.get("memory_mib"),
        "peak_rss_mib": peak / 1024 if peak > before else None,
        "timings": manifest["timings_seconds"],
        "n_outputs": len(manifest["outputs"]),
        "hashes": {o["path"]: o["sha256"] for o in manifest["outputs"]},
        "skipped": manifest["skipped"],
        "disclosure": manifest["disclosure"],
        "inputs": len(manifest["inputs"]),
        "kernels": manifest.get("kernels"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT / "data/synthetic/england")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the package tree to time")
    ap.add_argument("--label", default="", help="results go to reproduce_<label>.json")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    ap.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="reproduce --jobs: processes for the analysis scripts (default: the config's)",
    )
    ap.add_argument("--out", type=Path, default=WORK / "outputs", help="outputs folder of the runs")
    ap.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for reunistat reproduce (repeatable), e.g. "
        "--extra=--native-kernels",
    )
    ap.add_argument(
        "--no-bytecode",
        dest="bytecode",
        action="store_false",
        help="time the tree as it is, without compiling its bytecode first (see compile_tree)",
    )
    ap.add_argument("--render", nargs=2, default=None, metavar=("BEFORE", "AFTER"))
    ap.add_argument(
        "--combine",
        nargs="+",
        default=None,
        metavar=("OUT", "IN"),
        help="write reproduce_OUT.json from runs recorded one at a time (reproduce_IN.json, "
        "e.g. before and after alternated): medians, every run's wall, CPU and load",
    )
    args = ap.parse_args()
    if args.render:
        render(*args.render)
        return
    if args.combine:
        combine(args.combine[0], args.combine[1:])
        return
    if not (args.data.is_dir() and any(args.data.iterdir())):
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.bytecode:
        compile_tree(args.src)
    runs = [
        run_once(args.data, args.src, args.threads, args.jobs, args.out, args.extra)
        for _ in range(args.repeats)
    ]
    same = all(r["hashes"] == runs[0]["hashes"] for r in runs)
    peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
    keys = dict.fromkeys(k for r in runs for k in r["timings"])  # a step may be in some runs
    stages = {
        k: statistics.median(r["timings"][k] for r in runs if k in r["timings"]) for k in keys
    }
    summary = {
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "runs_wall_s": [round(r["wall_s"], 1) for r in runs],
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "runs_cpu_s": [r["cpu_s"] for r in runs],
        "memory_mib": runs[0]["memory_mib"],
        "peak_rss_mib": max(peaks) if peaks else None,
        "n_outputs": runs[0]["n_outputs"],
        "identical_outputs_across_runs": same,
        "stages_median_s": stages,
        "skipped": runs[0]["skipped"],
        "disclosure": runs[0]["disclosure"],
        "load": [r["load"] for r in runs],
        **{k: [r[k] for r in runs] for k in PROBES},
        "hashes": runs[0]["hashes"],
        "kernels": runs[0]["kernels"],
    }
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
        "src": str(args.src),
        "threads": args.threads,
        "jobs": args.jobs,
        "extra_args": args.extra,
        "bytecode_compiled_first": args.bytecode,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (HERE / "results").mkdir(exist_ok=True)
    name = f"reproduce_{args.label}.json" if args.label else "reproduce.json"
    (HERE / "results" / name).write_text(
        json.dumps({"meta": meta, "summary": summary}, indent=2) + "\n"
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "hashes"}, indent=2))
    if args.label:
        return
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
    write_page(HERE / "results/reproduce.md", lines)


def combine(out: str, labels: list[str]) -> None:
    """Write ``reproduce_<out>.json`` from single runs, as one run of ``--repeats N`` would."""
    docs = [json.loads((HERE / "results" / f"reproduce_{n}.json").read_text()) for n in labels]
    runs = [d["summary"] for d in docs]
    keys = list(dict.fromkeys(k for r in runs for k in r["stages_median_s"]))
    peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
    summary = {
        **runs[0],
        "median_wall_s": statistics.median(r["median_wall_s"] for r in runs),
        "runs_wall_s": [w for r in runs for w in r["runs_wall_s"]],
        "median_cpu_s": statistics.median(r["median_cpu_s"] for r in runs),
        "runs_cpu_s": [c for r in runs for c in r["runs_cpu_s"]],
        "peak_rss_mib": max(peaks) if peaks else None,
        "identical_outputs_across_runs": all(r["hashes"] == runs[0]["hashes"] for r in runs),
        "stages_median_s": {
            k: statistics.median(r["stages_median_s"][k] for r in runs if k in r["stages_median_s"])
            for k in keys
        },
        "load": [x for r in runs for x in r["load"]],
        **{k: [x for r in runs for x in r.get(k, [])] for k in PROBES},
    }
    meta = {**docs[0]["meta"], "date": docs[-1]["meta"]["date"], "combined": labels}
    (HERE / "results" / f"reproduce_{out}.json").write_text(
        json.dumps({"meta": meta, "summary": summary}, indent=2) + "\n"
    )


def _cpu(summary: dict) -> str:
    cpu = summary.get("median_cpu_s")
    return "-" if cpu is None else f"{cpu:.1f}"


def _probe(summary: dict, key: str = "speed_probe_s") -> str:
    probes = summary.get(key) or []
    return "-" if not probes else f"{statistics.median(probes):.2f}"


def render(before: str, after: str) -> None:
    """Write reproduce.md: each stage before and after, and whether the outputs agree."""
    a, b = (json.loads((HERE / "results" / n).read_text()) for n in (before, after))
    sa, sb = a["summary"], b["summary"]
    ha, hb = sa.get("hashes", {}), sb.get("hashes", {})
    differ = sorted(p for p in set(ha) | set(hb) if ha.get(p) != hb.get(p))
    lines = [
        "# `reunistat reproduce` at national size: each step before and after",
        "",
        "`python benchmarks/bench_reproduce.py --src DIR --label NAME` runs the main job",
        "(default config: national synthetic data, every analysis, the paper, the disclosure",
        "check, the manifest) as a fresh process from the package in DIR, with BLAS threads",
        "fixed; stage times are the manifest's. `--render` writes this section. The machine",
        "(2 cores) was shared with other jobs: the load average is given with every run, and",
        "the machine speed probe (a fixed single-core workload timed before each run, lower is",
        "faster) says how fast the machine was that day; the same probe on both cores at once",
        "and the memory probe (first touches of 1 GiB) say what one core does not.",
        "",
        f"- before: `{a['meta']['src']}` ({a['meta']['date']}), load {sa['load']}",
        f"- after: `{b['meta']['src']}` ({b['meta']['date']}), load {sb['load']}",
        "",
        "| | before | after |",
        "|:---|---:|---:|",
        f"| wall (s, median) | {sa['median_wall_s']:.1f} | {sb['median_wall_s']:.1f} |",
        f"| CPU (s, median; with every child process) | {_cpu(sa)} | {_cpu(sb)} |",
        f"| peak RSS (MiB) | {sa['peak_rss_mib'] or 0:,.0f} | {sb['peak_rss_mib'] or 0:,.0f} |",
        f"| outputs | {sa['n_outputs']} | {sb['n_outputs']} |",
        f"| machine speed probe (s, median) | {_probe(sa)} | {_probe(sb)} |",
        f"| the same on both cores at once (s, median; the slower) | "
        f"{_probe(sa, 'speed_probe_two_cores_s')} | {_probe(sb, 'speed_probe_two_cores_s')} |",
        f"| memory probe: 1 GiB first touched (s, median) | "
        f"{_probe(sa, 'memory_probe_s')} | {_probe(sb, 'memory_probe_s')} |",
    ]
    stages = list(sa["stages_median_s"]) + [
        k for k in sb["stages_median_s"] if k not in sa["stages_median_s"]
    ]
    for k in stages:
        va, vb = sa["stages_median_s"].get(k), sb["stages_median_s"].get(k)
        fa = f"{va:.1f}" if va is not None else "-"
        fb = f"{vb:.1f}" if vb is not None else "-"
        lines.append(f"| {k} | {fa} | {fb} |")
    lines += [
        "",
        f"Outputs with a different hash after than before: {len(differ)} of {len(ha | hb)}"
        + (": " + ", ".join(f"`{p}`" for p in differ) if differ else " (byte-identical)."),
    ]
    write_page(HERE / "results/reproduce.md", lines)


def write_page(page: Path, lines: list[str]) -> None:
    """Write ``lines`` as the top of ``page``, keeping what the page held below them.

    The page is a record across sessions (notes written by hand under each render): the
    previous content follows under a heading of its own, its title made a section, so a
    new render never loses it.
    """
    old = page.read_text() if page.exists() else ""
    if old.startswith("# "):
        title, _, rest = old.partition("\n")
        old = f"## Earlier on this page: {title[2:]}\n{rest}"
    text = "\n".join(lines) + "\n"
    page.write_text(text + ("\n" + old if old.strip() else ""))


if __name__ == "__main__":
    main()
