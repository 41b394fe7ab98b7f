"""Time the logistic re-entry models at national size and at 1,000,000 spells.

Run: ``.venv/bin/python benchmarks/bench_logistic.py [--quick]``

Writes ``benchmarks/results/logistic.json`` and ``logistic.md``. Every engine
is timed in the same run on the same simulated spells (the seeded simulator in
``tests/reference/logistic/make_sample.py``: 150 local authorities, 1-3
returns per child, 10 covariates giving 24 columns). Times are wall-clock
medians of several runs; peak memory is the tracemalloc peak (Python and
numpy allocations) of one further run.

- reunistat ``logistic``: from the raw spells table and a formula (derives the
  365-day outcome, builds the design, checks for degenerate input, fits,
  computes the cluster-robust variance and provenance hash);
- statsmodels ``smf.logit(...).fit(cov_type="cluster")``: from a formula, on
  the same table with the outcome already derived;
- reunistat's engine (IRLS + cluster-robust sandwich), statsmodels ``Logit``
  and scikit-learn ``LogisticRegression`` (no penalty, no standard errors) on
  the prebuilt design matrix (engine only);
- R: ``glm(..., family = binomial)`` from the formula plus
  ``sandwich::vcovCL(fit, cluster = ~ LA)``, in an ``Rscript`` child on the
  same data (read from CSV before the clock starts), in the same run.

Measured the same way for every engine: BLAS threads fixed (``--blas-threads``,
default 1, through threadpoolctl, and recorded with the BLAS library), so no
engine loses to OpenBLAS threads fighting the other jobs on a shared 2-core
machine (an earlier unfixed run showed statsmodels 47x slower at 1M for that
reason alone); every job the median of ``runs`` (at least 3) after one untimed
warm-up call; peak memory the resident high-water mark of one further call
above the resident size before it (``/proc/self/clear_refs`` resets the mark),
so imports are excluded on every side; the load average before and after each
job; the versions of every engine. Each job records the median wall time
and the median CPU time of the process (``time.process_time``; R's user + system
time), so a loaded machine shows in the wall time but much less in the CPU time.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import sklearn  # noqa: E402
import statsmodels  # noqa: E402
import statsmodels.api as sm  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from reunistat.models.logistic import (  # noqa: E402
    gee,
    horizon_outcome,
    logistic,
    multilevel,
    prediction_checks,
)
from reunistat.models.logistic.fit import irls  # noqa: E402
from reunistat.models.logistic.vcov import sandwich  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "make_sample", ROOT / "tests" / "reference" / "logistic" / "make_sample.py"
)
assert _spec is not None and _spec.loader is not None
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)

RHS = (
    "section20 + prior_periods + placement_moves + log_years_in_care + age_band + return_type"
    " + last_placement_type + ethnic_group + disability + idaci_decile"
)
OUT = ROOT / "benchmarks" / "results"
ENGINE = "reunistat engine only: IRLS + cluster(LA) SE (matrix)"
R_JOB = "R glm + sandwich::vcovCL(cluster = ~ LA) (formula)"


def _status_mib(field: str) -> float:
    """One memory field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith(field)) / 1024


def timed(fn: Callable[[], Any], runs: int) -> dict[str, Any]:
    """Median wall time over ``runs`` after a warm-up; peak RSS added by one more run."""
    load0 = os.getloadavg()
    fn()  # warm-up: imports and first-call costs, untimed
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    gc.collect()
    base = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark
    fn()
    return {
        "median_s": statistics.median(times),
        "median_cpu_s": statistics.median(cpu),
        "min_s": min(times),
        "runs": runs,
        "times_s": [round(t, 3) for t in times],
        "cpu_s": [round(t, 3) for t in cpu],
        "peak_mib": _status_mib("VmHWM") - base,
        "load": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
    }


R_GLM = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
runs <- as.integer(args[2])
f <- as.formula(paste("reentry_365d ~", args[3]))
suppressMessages(library(sandwich))
job <- function() {
  fit <- glm(f, data = d, family = binomial)
  list(coef = coef(fit), v = vcovCL(fit, cluster = ~ LA))
}
invisible(job())  # warm-up, untimed
wall <- numeric(runs); cpu <- numeric(runs)
for (i in seq_len(runs)) {
  gc()
  t <- system.time(r <- job())
  wall[i] <- t[["elapsed"]]; cpu[i] <- t[["user.self"]] + t[["sys.self"]]
}
cat(sprintf('{"times": [%s], "cpu": [%s], "r": "%s", "sandwich": "%s", "coef": [%s], "se": [%s]}\n',
  paste(wall, collapse = ","), paste(cpu, collapse = ","), R.version.string,
  as.character(packageVersion("sandwich")),
  paste(sprintf("%.17g", r$coef), collapse = ","),
  paste(sprintf("%.17g", sqrt(diag(r$v))), collapse = ",")))
"""


def r_glm(derived: pd.DataFrame, runs: int, blas_threads: int) -> dict[str, Any]:
    """Time R's glm + sandwich::vcovCL on the same data in an Rscript child (median of runs)."""
    cols = ["reentry_365d", "LA", *[c.strip() for c in RHS.split("+")]]
    env = {
        **os.environ,
        **{v: str(blas_threads) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "glm.R"
        derived[cols].to_csv(csv, index=False)
        script.write_text(R_GLM)
        load0 = os.getloadavg()
        out = subprocess.run(
            ["Rscript", str(script), str(csv), str(runs), RHS],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "median_s": statistics.median(res["times"]),
        "median_cpu_s": statistics.median(res["cpu"]),
        "min_s": min(res["times"]),
        "runs": runs,
        "times_s": res["times"],
        "cpu_s": res["cpu"],
        "peak_mib": float("nan"),
        "load": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
        "versions": f"{res['r']}, sandwich {res['sandwich']}",
        "coef": res["coef"],
        "se": res["se"],
    }


def _engine(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """reunistat's fit and cluster-robust variance on a prebuilt matrix."""
    fit = irls(X, y)
    bread = np.linalg.inv(fit.information)
    n_groups = int(groups.max()) + 1
    return sandwich(X, y - fit.p, bread, "cluster", groups, n_groups)


def bench_size(n: int, runs: int, extra: bool, blas_threads: int = 1) -> dict[str, Any]:
    """Run every engine on ``n`` simulated spells."""
    spells = sim.simulate_spells(n, seed=20261122, n_la=150, clustering="marginal", rho=0.05)
    derived, counts = horizon_outcome(spells, 365)
    mm_fit = logistic("reentry_365d ~ " + RHS, derived)
    X = np.ascontiguousarray(
        mm_fit.extras["model_spec"].get_model_matrix(derived).to_numpy(dtype=float)
    )
    y = derived["reentry_365d"].to_numpy(dtype=float)
    groups = pd.factorize(derived["LA"])[0]
    jobs: dict[str, Callable[[], Any]] = {
        "reunistat logistic, model SE (from spells)": lambda: logistic("~ " + RHS, spells),
        "reunistat logistic, cluster(LA) SE (from spells)": lambda: logistic(
            "~ " + RHS, spells, cluster="LA"
        ),
        "reunistat engine only: IRLS + cluster(LA) SE (matrix)": lambda: _engine(X, y, groups),
        "statsmodels Logit + cluster SE (matrix)": lambda: sm.Logit(y, X).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        ),
        "scikit-learn LogisticRegression, no SE (matrix)": lambda: LogisticRegression(
            C=np.inf, fit_intercept=False, max_iter=1000
        ).fit(X, y),
    }
    if extra:  # statsmodels from a formula: slow, so at national size only
        jobs["statsmodels smf.logit + cluster SE (formula)"] = lambda: smf.logit(
            "reentry_365d ~ " + RHS, derived
        ).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
        jobs["reunistat gee, exchangeable in LA (statsmodels GEE)"] = lambda: gee(
            "~ " + RHS, spells, group="LA"
        )
    results = {}
    for name, fn in jobs.items():
        print(f"  n={n:,}: {name} ...", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[name] = timed(fn, runs)
        print(f"    median {results[name]['median_s']:.2f} s", flush=True)
    if extra:
        for name, fn in {
            "reunistat multilevel, Laplace": lambda: multilevel("~ " + RHS, spells),
            "reunistat prediction_checks, 5-fold": lambda: prediction_checks("~ " + RHS, spells),
        }.items():
            print(f"  n={n:,}: {name} ...", flush=True)
            results[name] = timed(fn, 3)
            print(f"    {results[name]['median_s']:.2f} s", flush=True)
    name = R_JOB
    print(f"  n={n:,}: {name} ...", flush=True)
    results[name] = r_glm(derived, runs, blas_threads)
    print(f"    median {results[name]['median_s']:.2f} s", flush=True)
    # agreement with statsmodels (and R) on the same data
    ours = logistic("~ " + RHS, spells, cluster="LA")
    theirs = sm.Logit(y, X).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups}, method="newton", tol=1e-12
    )
    k = X.shape[1]
    sm_adj = (len(y) - k) / (len(y) - 1)  # statsmodels also applies (n-1)/(n-k)
    agreement = {
        "max_abs_coef_diff_vs_statsmodels": float(
            np.max(np.abs(ours.params.to_numpy() - theirs.params))
        ),
        "max_rel_cluster_se_diff_vs_statsmodels": float(
            np.max(np.abs(ours.std_errors.to_numpy() / (theirs.bse * np.sqrt(sm_adj)) - 1))
        ),
        "max_abs_coef_diff_vs_r": float(
            np.max(np.abs(ours.params.to_numpy() - np.array(results[name]["coef"])))
        ),
        "max_rel_cluster_se_diff_vs_r": float(
            np.max(np.abs(ours.std_errors.to_numpy() / np.array(results[name]["se"]) - 1))
        ),
    }
    return {
        "n_spells": n,
        "n_used": counts.n_used,
        "n_events": counts.n_events,
        "n_columns": X.shape[1],
        "jobs": results,
        "agreement": agreement,
    }


def write_markdown(res: dict[str, Any]) -> str:
    """Return the results as a Markdown report."""
    lines = [
        "# Logistic re-entry models: timings",
        "",
        f"Command: `{res['command']}`  ",
        f"Machine: {res['machine']['cpus']} CPUs, {res['machine']['platform']}, "
        f"load average at start {res['machine']['load_start']} and end "
        f"{res['machine']['load_end']} (other jobs were running: times are noisy).  ",
        f"Versions: {res['versions']}; BLAS threads: {res.get('blas_threads', 'default')}",
        "",
        "Times are medians of the runs after an untimed warm-up, wall clock and CPU time of the",
        "process (R: user + system); CPU / engine is the CPU time over that of reunistat's engine",
        "on the prebuilt matrix in the same run. Added MiB is the resident high-water mark of one",
        "more call above the resident size before it (imports excluded; not measured for R).",
        "",
    ]
    for size in res["sizes"]:
        lines += [
            f"## {size['label']}: {size['n_spells']:,} spells "
            f"({size['n_used']:,} with a known 365-day outcome, {size['n_events']:,} "
            f"re-entries; {size['n_columns']} design columns; 150 LAs)",
            "",
            "| job | median wall s | median CPU s | CPU / engine | runs | added MiB | load "
            "before / after |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        eng = size["jobs"].get(ENGINE, {}).get("median_cpu_s")
        for name, j in size["jobs"].items():
            load = " / ".join(f"{v:.1f}" for v in j.get("load", []))
            cpu = j.get("median_cpu_s", float("nan"))
            ratio = f"{cpu / eng:.2f}x" if eng else ""
            mib = "" if j["peak_mib"] != j["peak_mib"] else f"{j['peak_mib']:.0f}"
            lines.append(
                f"| {name} | {j['median_s']:.2f} | {cpu:.2f} | {ratio} | {j['runs']} | {mib} "
                f"| {load} |"
            )
        a = size["agreement"]
        lines += [
            "",
            f"Agreement with statsmodels (same data): coefficients within "
            f"{a['max_abs_coef_diff_vs_statsmodels']:.1e}; cluster SEs within "
            f"{a['max_rel_cluster_se_diff_vs_statsmodels']:.1e} (relative, after statsmodels' "
            "extra (n-1)/(n-k) factor). With R's glm + vcovCL: coefficients within "
            f"{a['max_abs_coef_diff_vs_r']:.1e}, cluster SEs within "
            f"{a['max_rel_cluster_se_diff_vs_r']:.1e} (relative); R: "
            f"{size['jobs'][R_JOB]['versions']}.",
            "",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for every engine (threadpoolctl); recorded with the results",
    )
    ap.add_argument("--only-1m", action="store_true", help="skip the national size")
    ap.add_argument("--only-national", action="store_true", help="skip the 1M size")
    args = ap.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(args.blas_threads)
    blas = sorted(
        {
            f"{i['internal_api']} {i['version']} ({i['num_threads']} thread(s))"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    sizes = (
        [("national size", 20_000, 3, True), ("1M", 50_000, 3, False)]
        if args.quick
        else [("national size", 170_000, 3, True), ("1,000,000 spells", 1_000_000, 3, False)]
    )
    if args.only_1m:
        sizes = sizes[1:]
    if args.only_national:
        sizes = sizes[:1]
    load_start = os.getloadavg()
    out: dict[str, Any] = {
        "command": "python benchmarks/bench_logistic.py " + " ".join(sys.argv[1:]),
        "blas_threads": args.blas_threads,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "statsmodels": statsmodels.__version__,
            "scikit-learn": sklearn.__version__,
            "blas": "; ".join(blas),
        },
        "sizes": [],
    }
    for label, n, runs, extra in sizes:
        print(f"{label}: {n:,} spells", flush=True)
        r = bench_size(n, runs, extra, args.blas_threads)
        r["label"] = label
        out["sizes"].append(r)
    out["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "logistic_quick" if args.quick else "logistic"
    if args.blas_threads != 1:
        stem += f"_blas{args.blas_threads}"
    (OUT / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
    (OUT / f"{stem}.md").write_text(write_markdown(out))
    print(write_markdown(out))


if __name__ == "__main__":
    main()
