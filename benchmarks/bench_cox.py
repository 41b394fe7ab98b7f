"""Time Cox fits: reunistat against current R, Debian's R, lifelines, statsmodels and a numpy floor.

Run: ``python benchmarks/bench_cox.py [--sizes 10000 100000 1000000] [--only ENGINE ...]
[--tag NAME] [--src TREE]`` (``--src``: time another reunistat source tree, e.g.
``git archive COMMIT src | tar -x -C /tmp/before`` then ``--src /tmp/before/src``);
``python benchmarks/bench_cox.py --render cox_a.json cox_b.json`` writes
``results/cox.md`` from one or more recorded runs.

How it is made fair (issue 14):

- One dataset per size, shared by every engine: whole-day times (many ties), ~50%
  censored, 15 covariates (5 binary, 10 continuous), 150 local authorities as clusters.
- Every engine runs in a fresh subprocess per (size, model) with BLAS and OpenMP
  threads fixed to ``--threads`` (default 1) through the environment, recorded with
  the BLAS library each side loads.
- Each subprocess imports its engine, loads the data, warms up on 2,000 rows
  (untimed), then times ``runs`` fits in-process. The median is reported; every
  time is in the JSON. Engines too slow for three runs get one, and the table says so.
- Peak memory is measured the same way on every side: the process's high-water
  mark is reset (``/proc/self/clear_refs``) after import, load and warm-up, and
  the figure is ``VmHWM`` after the fits minus ``VmRSS`` before them.
- The same work: R's ``coxph`` always computes the concordance (with its variance)
  and reunistat's baseline hazard increments come with every fit, so reunistat is
  timed both without concordance (``conc. off``) and with it (``+ concordance``, the
  same work as R). lifelines computes its baseline hazard in ``fit`` and its
  concordance lazily (not timed); statsmodels computes neither.
- Versions are recorded for every engine: R, survival (3.8-11 built into a local
  library, and Debian's 3.5-3), cmprsk, lifelines, statsmodels, numpy, BLAS.
- The load average is recorded before and after every row (the machine is shared).
- The numpy floor is the fewest whole-array passes in the best-known layout:
  covariates transposed to (p, n) so the sums within tied times run along
  contiguous rows, a radix sort of whole-day times, Efron's tie correction folded
  into one symmetric ``X' D X`` product, and cluster-robust standard errors from
  score residuals summed by cluster without an (n, p) array. No input checks.

Results: ``results/cox<tag>.json``; ``results/cox.md`` (``--render``).
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

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
P = 15
COVS = [f"x{i}" for i in range(P)]
R_LIB_CURRENT = "/work/rlib/survival-3.8-11"

FLOOR = r"""
def floor_fit(X, t, e, cl):
    # minimal Efron fit with cluster-robust SEs: whole-array passes on a (p, n) layout
    key = (t - t.min()) * 2 + (1 - e)  # time order, events first within a time
    small = key.astype(np.uint16)
    radix = np.array_equal(small, key) and key.max() < 2**16
    o = np.argsort(small if radix else key, kind="stable")
    Xt = np.ascontiguousarray(X[o].T); t = t[o]; e = e[o]; cl = cl[o]
    Xt -= Xt.mean(1)[:, None]
    p, n = Xt.shape
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    dr = np.flatnonzero(e)
    dstarts = np.flatnonzero(np.r_[True, t[dr][1:] != t[dr][:-1]])
    sizes = np.diff(np.r_[dstarts, dr.size])
    ng = dstarts.size
    grp = np.repeat(np.arange(ng), sizes)
    frac = (np.arange(dr.size) - np.repeat(dstarts, sizes)) / np.repeat(sizes, sizes)
    tgrp = np.searchsorted(t[starts], t[dr][dstarts])
    row_hi = np.searchsorted(t[dr][dstarts], t, "right")
    sum_dx = Xt @ e.astype(float)
    beta = np.zeros(p); old = -np.inf
    z = np.empty((p + 1, n))
    for it in range(30):
        eta = beta @ Xt; r = np.exp(eta)
        z[0] = r; np.multiply(Xt, r, out=z[1:])
        gs = np.add.reduceat(z, starts, 1).T
        rs = np.cumsum(gs[::-1], 0)[::-1][tgrp]
        ds = np.add.reduceat(z[:, dr], dstarts, 1).T
        den = rs[grp, 0] - frac * ds[grp, 0]
        ll = eta[dr].sum() - np.log(den).sum()
        inv = 1 / den
        h = np.bincount(grp, inv, ng); dc = np.bincount(grp, inv * frac, ng)
        s1, s1d = rs[:, 1:], ds[:, 1:]
        score = sum_dx - h @ s1 + dc @ s1d
        q0 = np.bincount(grp, inv**2, ng); q1 = np.bincount(grp, inv**2 * frac, ng)
        q2 = np.bincount(grp, inv**2 * frac**2, ng)
        cum = np.r_[0.0, np.cumsum(h)]
        d = r * cum[row_hi]; d[dr] -= r[dr] * dc[grp]
        y = np.multiply(Xt, np.sqrt(d), out=z[1:])
        cr = (s1 * q1[:, None]).T @ s1d
        info = dsyrk(1.0, y.T, trans=1); info = np.triu(info) + np.triu(info, 1).T
        info += -(s1 * q0[:, None]).T @ s1 + cr + cr.T - (s1d * q2[:, None]).T @ s1d
        if abs(ll - old) < 1e-10 * abs(ll):
            break
        beta = beta + np.linalg.solve(info, score); old = ll
    var = np.linalg.inv(info)
    # cluster-robust: score residuals summed by cluster, never an (n, p) array
    n_cl = int(cl.max()) + 1
    gk = s1 * q0[:, None] - s1d * q1[:, None]
    g2 = s1 * q1[:, None] - s1d * q2[:, None]
    amean = (s1 * np.bincount(grp, inv, ng)[:, None] - s1d * dc[:, None]) / sizes[:, None]
    a = -r * cum[row_hi]; a[dr] += 1 + r[dr] * dc[grp]
    u = np.stack([np.bincount(cl, a * row, n_cl) for row in Xt], 1)
    cumg = np.vstack([np.zeros(p), np.cumsum(gk, 0)])
    u += np.bincount(cl * (ng + 1) + row_hi, r, n_cl * (ng + 1)).reshape(n_cl, ng + 1) @ cumg
    u -= np.bincount(cl[dr] * ng + grp, None, n_cl * ng).reshape(n_cl, ng) @ amean
    u -= np.bincount(cl[dr] * ng + grp, r[dr], n_cl * ng).reshape(n_cl, ng) @ g2
    dfb = u @ var
    return beta, np.sqrt(np.diag(var)), np.sqrt(np.diag(dfb.T @ dfb))
"""

CHILD = r"""
import gc, json, os, sys, time, warnings
import numpy as np, pandas as pd
from scipy.linalg.blas import dsyrk
warnings.filterwarnings("ignore")
engine, model, path, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
versions = {"python": sys.version.split()[0], "numpy": np.__version__, "pandas": pd.__version__}
if engine.startswith("reunistat"):
    import reunistat
    from reunistat.models.survival import cox, fine_gray
    versions["reunistat"] = reunistat.__version__
elif engine == "lifelines":
    import lifelines
    from lifelines import CoxPHFitter
    versions["lifelines"] = lifelines.__version__
elif engine == "statsmodels":
    import statsmodels
    from statsmodels.duration.hazard_regression import PHReg
    versions["statsmodels"] = statsmodels.__version__
df = pd.read_parquet(path)
covs = [c for c in df.columns if c.startswith("x")]
FLOOR_SRC
def run():
    if engine == "reunistat" and model == "finegray":
        r = fine_gray("~ " + " + ".join(covs), df, "fg_t", "fg_s")
        return r.params.to_numpy(), r.std_errors.to_numpy()
    if engine.startswith("reunistat"):
        kw = {"cluster": "la"} if model == "cluster" else {}
        r = cox("~ " + " + ".join(covs), df, "t", "e", concordance=engine == "reunistat+C", **kw)
        return r.params.to_numpy(), r.std_errors.to_numpy()
    if engine == "numpy_floor":
        b, se, rse = floor_fit(df[covs].to_numpy(float), df["t"].to_numpy(float),
                               df["e"].to_numpy(int), df["la"].to_numpy())
        return b, rse if model == "cluster" else se
    if engine == "lifelines":
        f = CoxPHFitter()
        cols = covs + ["t", "e"] + (["la"] if model == "cluster" else [])
        f.fit(df[cols], "t", "e", cluster_col="la" if model == "cluster" else None)
        return f.params_.to_numpy(), f.standard_errors_.to_numpy()
    if engine == "statsmodels":
        m = PHReg(df["t"].to_numpy(float), df[covs].to_numpy(float),
                  status=df["e"].to_numpy(float), ties="efron")
        r = m.fit(groups=df["la"].to_numpy() if model == "cluster" else None)
        return r.params, r.bse
    raise SystemExit("unknown engine")
full = df
df = full.head(2000)  # warm-up: first-call costs, untimed
run()
df = full
def status(field):
    with open("/proc/self/status") as f:
        return [int(ln.split()[1]) for ln in f if ln.startswith(field)][0] / 1024
try:
    import threadpoolctl
    blas = [f"{i['internal_api']} {i['version']} ({i['num_threads']} thread(s))"
            for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    versions["blas"] = "; ".join(sorted(set(blas)))
except ImportError:
    versions["blas"] = "unknown"
gc.collect()
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the high-water mark: the peak below is the fits' own
times, cpu = [], []
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    b, se = run()
    times.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
print(json.dumps({"times": times, "cpu_times": cpu, "added_mb": status("VmHWM") - base,
                  "versions": versions,
                  "coef": list(map(float, b)), "se": list(map(float, se))}))
"""

R_CHILD = r"""
args <- commandArgs(TRUE)
d <- read.csv(args[1]); model <- args[2]; ties <- args[3]; repeats <- as.integer(args[4])
lib <- if (args[5] == "") NULL else args[5]
suppressMessages({library(survival, lib.loc = lib); library(cmprsk)})
covs <- grep("^x", names(d), value = TRUE)
f <- as.formula(paste("Surv(t, e) ~", paste(covs, collapse = " + "),
                      if (model == "cluster") "+ cluster(la)" else ""))
run <- function(d) {
  if (model == "finegray") {
    fit <- crr(d$fg_t, d$fg_s, as.matrix(d[, covs]))
    return(list(coef = fit$coef, se = sqrt(diag(fit$var))))
  }
  fit <- coxph(f, d, ties = ties)
  list(coef = coef(fit), se = sqrt(diag(vcov(fit))))
}
invisible(run(d[1:2000, ]))  # warm-up, untimed
status <- function(field) {
  x <- grep(paste0("^", field), readLines("/proc/self/status"), value = TRUE)
  as.numeric(strsplit(trimws(sub(".*:", "", x)), " +")[[1]][1]) / 1024
}
invisible(gc())
base <- status("VmRSS")
writeLines("5", "/proc/self/clear_refs")
times <- numeric(0); cpu <- numeric(0)
for (i in seq_len(repeats)) {
  t0 <- proc.time(); res <- run(d); t1 <- proc.time()
  times <- c(times, t1[["elapsed"]] - t0[["elapsed"]])
  cpu <- c(cpu, t1[["user.self"]] + t1[["sys.self"]] - t0[["user.self"]] - t0[["sys.self"]])
}
ver <- sprintf('{"R": "%s", "survival": "%s", "cmprsk": "%s", "blas": "%s"}',
               paste(R.version$major, R.version$minor, sep = "."),
               as.character(packageVersion("survival", lib.loc = lib)),
               as.character(packageVersion("cmprsk")), extSoftVersion()[["BLAS"]])
cat(sprintf(paste0('{"times": [%s], "cpu_times": [%s], "added_mb": %f, "versions": %s, ',
                   '"coef": [%s], "se": [%s]}\n'),
            paste(times, collapse = ","), paste(cpu, collapse = ","), status("VmHWM") - base, ver,
            paste(sprintf("%.12g", res$coef), collapse = ","),
            paste(sprintf("%.12g", res$se), collapse = ",")))
"""


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    """Simulate the benchmark spells: 15 covariates, 150 LAs, whole days, ~50% censored."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, P))
    x[:, :5] = (x[:, :5] > 0.5).astype(float)
    beta = np.linspace(-0.3, 0.3, P)
    la = rng.integers(0, 150, n)
    frail = rng.normal(0, 0.15, 150)[la]
    t_ev = rng.exponential(1.0, n) / (0.002 * np.exp(x @ beta + frail))
    t_c = rng.uniform(1, 2200, n)
    df = pd.DataFrame(x, columns=COVS)
    df["t"] = np.ceil(np.minimum(t_ev, t_c))
    df["e"] = (t_ev <= t_c).astype(int)
    df["la"] = la
    # competing risks for the Fine-Gray rows: re-entry vs a competing exit, drawn after the
    # Cox columns so those stay as they were
    t_comp = rng.exponential(1.0, n) / 0.0008
    t_fg = np.minimum.reduce([t_ev, t_comp, t_c])
    df["fg_t"] = np.ceil(t_fg)
    df["fg_s"] = np.select([t_fg == t_ev, t_fg == t_comp], [1, 2], 0)
    return df


def run_child(cmd: list[str], timeout: float, env: dict[str, str]) -> dict:
    """Run one engine subprocess and return its JSON (or the error)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0 or not out.strip():
        return {"error": err.strip().splitlines()[-1] if err.strip() else "failed"}
    return dict(json.loads(out.strip().splitlines()[-1]))


INF = 10**12
# engine, model, R ties, largest n, runs below 100k / at 100k / above, why fewer than 3
PLAN: list[tuple[str, str, str | None, int, tuple[int, int, int], str]] = [
    ("numpy_floor", "plain", None, INF, (5, 5, 5), ""),
    ("numpy_floor", "cluster", None, INF, (5, 5, 5), ""),
    ("reunistat", "plain", None, INF, (5, 5, 5), ""),
    ("reunistat", "cluster", None, INF, (5, 5, 5), ""),
    ("reunistat+C", "cluster", None, INF, (3, 3, 3), ""),
    ("R 3.8-11", "plain", "efron", INF, (3, 3, 3), ""),
    ("R 3.8-11", "cluster", "efron", INF, (3, 3, 3), ""),
    ("R 3.5-3", "plain", "efron", INF, (3, 3, 3), ""),
    ("R 3.5-3", "cluster", "efron", 100_000, (3, 1, 1), "~4 min a run at 100k; hours at 1M"),
    ("R 3.5-3", "cluster", "breslow", INF, (3, 3, 3), ""),
    ("lifelines", "plain", None, INF, (3, 3, 3), ""),
    ("lifelines", "cluster", None, 100_000, (3, 1, 1), "~3.5 min a run at 100k; hours at 1M"),
    ("statsmodels", "plain", None, INF, (3, 3, 3), ""),
    ("statsmodels", "cluster", None, INF, (3, 3, 1), "~6.5 min a run at 1M"),
    ("reunistat", "finegray", None, INF, (5, 5, 5), ""),
    ("R cmprsk", "finegray", "crr", 10_000, (1, 1, 1), "crr grows ~N^2: ~2 min at 10k"),
]


def engine_env(threads: int, src: Path | None = None) -> dict[str, str]:
    """The environment of every engine subprocess: BLAS and OpenMP threads fixed.

    ``src`` is the reunistat source tree to time (default: this checkout's), e.g. an
    export of an earlier commit for a before/after pair on the same data.
    """
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    tree = str(src or HERE.parent / "src")
    env["PYTHONPATH"] = tree + os.pathsep + env.get("PYTHONPATH", "")
    return env


def main() -> None:
    """Run the plan (or render recorded runs)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--only", nargs="*", default=None, help="engines to run")
    ap.add_argument("--models", nargs="*", default=None, help="models to run (plain, ...)")
    ap.add_argument("--max-runs", type=int, default=None, help="cap the runs of every row")
    ap.add_argument("--first", nargs="*", default=[], help="engines to run first at a size")
    ap.add_argument("--tag", default="", help="results go to cox<tag>.json")
    ap.add_argument("--render", nargs="*", default=None, help="JSON runs to render as cox.md")
    ap.add_argument("--src", type=Path, default=None, help="reunistat source tree to time")
    args = ap.parse_args()
    out = HERE / "results"
    if args.render is not None:
        runs = [json.loads((out / name).read_text()) for name in args.render]
        text = to_markdown(runs)
        paired = {  # sizes and models where one run has both R 3.8-11 and reunistat
            (r["n"], r["model"])
            for run in runs
            for r in run["results"]
            if r["engine"].startswith("R 3.8-11")
            and any(
                q["engine"] == "reunistat" and (q["n"], q["model"]) == (r["n"], r["model"])
                for q in run["results"]
            )
        }
        across = [
            line
            for line in ratio_across([run for run in runs if run["meta"].get("tag") != "_main"])
            if not any(line.startswith(f"- n = {n:,}, {m}:") for n, m in paired)
        ]
        if len(runs) > 1 and across:
            text += "\n## Ratios over the runs above (back to back, same data)\n\n"
            text += "\n".join(across) + "\n"
        (out / "cox.md").write_text(text)
        return
    env = engine_env(args.threads, args.src)
    results = []
    meta = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared by other jobs",
        "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "threads": args.threads,
        "data": "15 covariates (5 binary), 150 LAs as clusters, whole-day times, ~50% censored",
        "tag": args.tag,
    }
    with tempfile.TemporaryDirectory() as tmp:
        child_py = Path(tmp) / "child.py"
        child_py.write_text(CHILD.replace("FLOOR_SRC", FLOOR))
        child_r = Path(tmp) / "child.R"
        child_r.write_text(R_CHILD)
        for n in args.sizes:
            df = make_data(n)
            pq, csv = Path(tmp) / f"d{n}.parquet", Path(tmp) / f"d{n}.csv"
            df.to_parquet(pq)
            df.to_csv(csv, index=False)
            plan = sorted(PLAN, key=lambda row: row[0] not in args.first)
            for engine, model, ties, max_n, runs, why in plan:
                if n > max_n or (args.only and engine not in args.only):
                    continue
                if args.models and model not in args.models:
                    continue
                reps = runs[0] if n < 100_000 else runs[1] if n == 100_000 else runs[2]
                if args.max_runs is not None and reps > args.max_runs:
                    reps = args.max_runs
                    why = why or f"capped at {reps} run(s) by --max-runs: the machine was loaded"
                if engine.startswith("R "):
                    lib = R_LIB_CURRENT if engine == "R 3.8-11" else ""
                    cmd = ["Rscript", str(child_r), str(csv), model, str(ties), str(reps), lib]
                else:
                    cmd = [sys.executable, str(child_py), engine, model, str(pq), str(reps)]
                load0 = os.getloadavg()
                res = run_child(cmd, args.timeout, env)
                label = engine + (f" ({ties})" if ties else "")
                row = {
                    "n": n,
                    "engine": label,
                    "model": model,
                    "runs": reps,
                    "why_fewer": why if reps < 3 else "",
                    "load_before": [round(v, 2) for v in load0],
                    "load_after": [round(v, 2) for v in os.getloadavg()],
                    **res,
                }
                if "times" in res:
                    row["median_s"] = statistics.median(res["times"])
                if "cpu_times" in res:
                    row["median_cpu_s"] = statistics.median(res["cpu_times"])
                results.append(row)
                print(
                    json.dumps({k: v for k, v in row.items() if k not in ("coef", "se")}),
                    flush=True,
                )
                meta["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                out.mkdir(exist_ok=True)
                (out / f"cox{args.tag}.json").write_text(
                    json.dumps({"meta": meta, "results": results}, indent=1) + "\n"
                )


def _ratio_note(rows: list[dict]) -> list[str]:
    """Ratios of R survival 3.8-11's medians to reunistat's (wall and CPU), per size and model."""
    lines = []

    def medians(engine: str) -> dict[tuple[int, str], dict]:
        return {(r["n"], r["model"]): r for r in rows if r["engine"] == engine and "times" in r}

    ref, same = medians("reunistat"), medians("reunistat+C")
    for r in rows:
        key = (r["n"], r["model"])
        if not r["engine"].startswith("R 3.8-11") or key not in ref or "times" not in r:
            continue
        text = (
            f"- n = {r['n']:,}, {r['model']}: R survival 3.8-11 / reunistat = "
            f"{r['median_s'] / ref[key]['median_s']:.1f}x wall"
        )
        if "median_cpu_s" in r and "median_cpu_s" in ref[key]:
            text += f", {r['median_cpu_s'] / ref[key]['median_cpu_s']:.1f}x CPU"
        if key in same:
            text += (
                f"; against reunistat with the concordance R also computes: "
                f"{r['median_s'] / same[key]['median_s']:.1f}x wall"
            )
            if "median_cpu_s" in r and "median_cpu_s" in same[key]:
                text += f", {r['median_cpu_s'] / same[key]['median_cpu_s']:.1f}x CPU"
        lines.append(text + ".")
    return lines


def to_markdown(runs: list[dict]) -> str:
    """Render recorded runs: one table per run, with agreement against reunistat.

    The agreement columns compare with reunistat's fit of the same size and model
    from any of the runs (the data are seeded: every run fits the same data).
    """
    ref = {
        (r["n"], r["model"]): r
        for run in runs
        for r in run["results"]
        if r["engine"] == "reunistat" and "coef" in r
    }
    lines = [
        "# Cox fit benchmark",
        "",
        "Written by `benchmarks/bench_cox.py` (its docstring says how each side is measured).",
        "Times are in-process medians of the runs listed (every time is in the JSON);",
        "added MB is the peak resident memory of the fits above the process's resident",
        "memory after import, data load and warm-up (the same measure on every side).",
        "R's `coxph` always computes the concordance; `reunistat+C` does the same work.",
        "Load is the 1-minute load average before / after the row (2 cores, shared).",
        "",
    ]
    for run in runs:
        meta, rows = run["meta"], run["results"]
        versions: dict[str, str] = {}
        for r in rows:
            for k, v in r.get("versions", {}).items():
                if k == "blas":
                    side = "R" if r["engine"].startswith("R ") else "numpy/scipy"
                    versions.setdefault(f"BLAS ({side})", v)
                elif k == "survival":
                    versions.setdefault(f"survival ({r['engine'].split(' (')[0]})", v)
                else:
                    versions.setdefault(k, v)
        lines += [
            f"## Run {meta.get('tag') or ''} ({meta['started']} to {meta.get('finished', '?')})",
            "",
            f"{meta['machine']}; BLAS/OpenMP threads fixed to {meta['threads']}. "
            f"Data: {meta['data']}. Command: `{meta['command']}`.",
            "",
            "Versions: " + "; ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
            "",
            "| n | model | engine | runs | median s | CPU s | added MB | load | coef vs reunistat "
            "| SE vs reunistat | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            load = f"{r['load_before'][0]:.1f} / {r['load_after'][0]:.1f}"
            if "error" in r:
                lines.append(
                    f"| {r['n']:,} | {r['model']} | {r['engine']} | - | {r['error']} | | | {load} "
                    "| | | |"
                )
                continue
            diff = sediff = ""
            cpu = f"{r['median_cpu_s']:.2f}" if "median_cpu_s" in r else ""
            base = ref.get((r["n"], r["model"]))
            if base is not None and len(base["coef"]) == len(r["coef"]):
                a, b = np.asarray(r["coef"]), np.asarray(base["coef"])
                diff = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
                a, b = np.asarray(r["se"]), np.asarray(base["se"])
                sediff = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
            lines.append(
                f"| {r['n']:,} | {r['model']} | {r['engine']} | {len(r['times'])} | "
                f"{r['median_s']:.2f} | {cpu} | {r['added_mb']:,.0f} | {load} | {diff} | "
                f"{sediff} | {r.get('why_fewer', '')} |"
            )
        note = _ratio_note(rows)
        if note:
            lines += ["", "Measured in this run:", "", *note]
        lines.append("")
    return "\n".join(lines)


def ratio_across(runs: list[dict]) -> list[str]:
    """The same ratios over several runs' rows (for runs made back to back)."""
    return _ratio_note([r for run in runs for r in run["results"]])


if __name__ == "__main__":
    main()
