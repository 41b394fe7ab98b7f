"""Time Cox fits: reunistat vs lifelines vs statsmodels vs R, and a plain numpy floor.

Run: ``.venv/bin/python benchmarks/bench_cox.py [--sizes 100000 1000000] [--repeats 5]``

One dataset per size, shared by every engine: whole-day times (many ties), ~50%
censored, 15 covariates (5 binary, 10 continuous), 150 local authorities used as
clusters. Each engine runs in a fresh subprocess per (size, model) that loads
the data, warms up on 2,000 rows (imports, first-call costs; untimed), fits
``repeats`` times (1 for slow engines) and reports the in-process
fit times; peak memory is that subprocess's maximum resident set size (from
``wait4``) minus its resident size after loading the data. The "numpy floor" is
a minimal vectorised Efron fit (sort once, sums within tied times, reverse
cumulative sums, Newton steps, ``X' W X``), no checks and no standard errors
beyond the inverse information. Results: benchmarks/results/cox.json and cox.md.
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

FLOOR = r'''
def floor_fit(X, t, e):
    """Minimal vectorised Efron fit: sort once, then Newton steps on whole arrays."""
    o = np.argsort(2 * np.unique(t, return_inverse=True)[1] + ~e, kind="stable")
    X = X[o]; t = t[o]; e = e[o]
    X = X - X.mean(0)
    n, p = X.shape
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    dr = np.flatnonzero(e)
    dstarts = np.flatnonzero(np.r_[True, t[dr][1:] != t[dr][:-1]])
    sizes = np.diff(np.r_[dstarts, dr.size])
    grp = np.repeat(np.arange(dstarts.size), sizes)
    frac = (np.arange(dr.size) - np.repeat(dstarts, sizes)) / np.repeat(sizes, sizes)
    tgrp = np.searchsorted(t[starts], t[dr][dstarts])
    row_hi = np.searchsorted(t[dr][dstarts], t, "right")
    sum_dx = X[dr].sum(0)
    beta = np.zeros(p); old = -np.inf
    for it in range(30):
        eta = X @ beta; r = np.exp(eta)
        z = np.column_stack([r, X * r[:, None]])
        gs = np.add.reduceat(z, starts, 0)
        rs = np.cumsum(gs[::-1], 0)[::-1][tgrp]
        ds = np.add.reduceat(z[dr], dstarts, 0)
        den = rs[grp, 0] - frac * ds[grp, 0]
        ll = eta[dr].sum() - np.log(den).sum()
        inv = 1 / den
        h = np.bincount(grp, inv); dc = np.bincount(grp, inv * frac)
        s1, s1d = rs[:, 1:], ds[:, 1:]
        score = sum_dx - h @ s1 + dc @ s1d
        q0 = np.bincount(grp, inv**2); q1 = np.bincount(grp, inv**2 * frac)
        q2 = np.bincount(grp, inv**2 * frac**2)
        cum = np.r_[0.0, np.cumsum(h)]
        d = r * cum[row_hi]; d[dr] -= r[dr] * dc[grp]
        cr = (s1 * q1[:, None]).T @ s1d
        info = (X * d[:, None]).T @ X - (s1 * q0[:, None]).T @ s1 + cr + cr.T \
            - (s1d * q2[:, None]).T @ s1d
        if abs(ll - old) < 1e-10 * abs(ll):
            break
        beta = beta + np.linalg.solve(info, score); old = ll
    return beta, np.linalg.inv(info)
'''

CHILD = r"""
import json, os, resource, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
engine, model, path, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
df = pd.read_parquet(path)
covs = [c for c in df.columns if c.startswith("x")]
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
base = rss_mb()
FLOOR_SRC
def run():
    if engine == "reunistat" and model == "finegray":
        from reunistat.models.survival import fine_gray
        r = fine_gray("~ " + " + ".join(covs), df, "fg_t", "fg_s")
        return r.params.to_numpy(), r.std_errors.to_numpy()
    if engine == "reunistat":
        from reunistat.models.survival import cox
        kw = {"cluster": "la"} if model == "cluster" else {}
        r = cox("e ~ " + " + ".join(covs), df, "t", concordance=False, **kw)
        return r.params.to_numpy(), r.std_errors.to_numpy()
    if engine == "numpy_floor":
        b, v = floor_fit(df[covs].to_numpy(float), df["t"].to_numpy(float), df["e"].to_numpy(bool))
        return b, np.sqrt(np.diag(v))
    if engine == "lifelines":
        from lifelines import CoxPHFitter
        f = CoxPHFitter()
        cols = covs + ["t", "e"] + (["la"] if model == "cluster" else [])
        f.fit(df[cols], "t", "e", cluster_col="la" if model == "cluster" else None)
        return f.params_.to_numpy(), f.standard_errors_.to_numpy()
    if engine == "statsmodels":
        from statsmodels.duration.hazard_regression import PHReg
        m = PHReg(df["t"].to_numpy(float), df[covs].to_numpy(float),
                  status=df["e"].to_numpy(float), ties="efron")
        r = m.fit(groups=df["la"].to_numpy() if model == "cluster" else None)
        return r.params, r.bse
    raise SystemExit("unknown engine")
full = df
df = full.head(2000)  # warm-up on a small slice: imports and first-call costs, untimed
run()
df = full
times = []
for _ in range(repeats):
    t0 = time.perf_counter(); b, se = run(); times.append(time.perf_counter() - t0)
print(json.dumps({"times": times, "base_mb": base, "coef": list(map(float, b)),
                  "se": list(map(float, se))}))
"""

R_CHILD = r"""
suppressMessages({library(survival); library(cmprsk)})
args <- commandArgs(TRUE)
d <- read.csv(args[1]); model <- args[2]; ties <- args[3]; repeats <- as.integer(args[4])
covs <- grep("^x", names(d), value = TRUE)
if (model == "finegray") {
  base <- as.numeric(strsplit(readLines("/proc/self/statm"), " ")[[1]][2]) * 4096 / 2^20
  xm <- as.matrix(d[, covs]); times <- numeric(0)
  for (i in seq_len(repeats)) {
    t0 <- proc.time()[["elapsed"]]; fit <- crr(d$fg_t, d$fg_s, xm)
    times <- c(times, proc.time()[["elapsed"]] - t0)
  }
  cat(sprintf('{"times": [%s], "base_mb": %f, "coef": [%s], "se": [%s]}\n',
              paste(times, collapse = ","), base,
              paste(sprintf("%.10g", fit$coef), collapse = ","),
              paste(sprintf("%.10g", sqrt(diag(fit$var))), collapse = ",")))
  quit(save = "no")
}
f <- as.formula(paste("Surv(t, e) ~", paste(covs, collapse = " + "),
                      if (model == "cluster") "+ cluster(la)" else ""))
base <- as.numeric(strsplit(readLines("/proc/self/statm"), " ")[[1]][2]) * 4096 / 2^20
times <- numeric(0)
for (i in seq_len(repeats)) {
  t0 <- proc.time()[["elapsed"]]; fit <- coxph(f, d, ties = ties)
  times <- c(times, proc.time()[["elapsed"]] - t0)
}
cat(sprintf('{"times": [%s], "base_mb": %f, "coef": [%s], "se": [%s]}\n',
            paste(times, collapse = ","), base,
            paste(sprintf("%.10g", coef(fit)), collapse = ","),
            paste(sprintf("%.10g", sqrt(diag(vcov(fit)))), collapse = ",")))
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


def run_child(cmd: list[str], timeout: float) -> dict:
    """Run one engine subprocess; return its JSON plus peak RSS from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else "failed"}
    res = json.loads(out.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    peak = [ln for ln in err.splitlines() if ln.startswith("PEAK_KB=")]
    if peak:
        res["peak_mb"] = int(peak[-1].split("=")[1]) / 1024
    return res


def timed(cmd: list[str]) -> list[str]:
    """Wrap a command in GNU time to get the child's maximum resident set size."""
    return ["/usr/bin/time", "-f", "PEAK_KB=%M", *cmd]


INF = 10**12
PLAN = [
    # engine, model, ties (R), largest n it runs at, slow (fewer repeats)
    ("numpy_floor", "plain", None, INF, False),
    ("reunistat", "plain", None, INF, False),
    ("reunistat", "cluster", None, INF, False),
    ("lifelines", "plain", None, INF, True),
    ("lifelines", "cluster", None, 100_000, True),  # ~3 h estimated at 1M (ENGINES.md)
    ("statsmodels", "plain", None, INF, True),
    ("statsmodels", "cluster", None, INF, True),
    ("R", "plain", "efron", INF, True),
    ("R", "cluster", "efron", 100_000, True),  # ~2 h estimated at 1M (ENGINES.md)
    ("R", "cluster", "breslow", INF, True),
    ("reunistat", "finegray", None, INF, False),
    ("R", "finegray", "crr", 10_000, True),  # crr grows ~N^2: 64 min at 100k (ENGINES.md)
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--slow-repeats", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--only", nargs="*", default=None, help="engines to run")
    ap.add_argument("--tag", default="", help="results go to cox<tag>.json / cox<tag>.md")
    args = ap.parse_args()
    has_r = subprocess.run(["which", "Rscript"], capture_output=True).returncode == 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        child_py = Path(tmp) / "child.py"
        child_py.write_text(CHILD.replace("FLOOR_SRC", FLOOR))
        child_r = Path(tmp) / "child.R"
        child_r.write_text(R_CHILD)
        for n in args.sizes:
            df = make_data(n)
            pq, csv = Path(tmp) / f"d{n}.parquet", Path(tmp) / f"d{n}.csv"
            df.to_parquet(pq)
            if has_r:
                df.to_csv(csv, index=False)
            for engine, model, ties, max_n, slow in PLAN:
                if n > max_n or (args.only and engine not in args.only):
                    continue
                if engine == "R" and not has_r:
                    continue
                reps = args.slow_repeats if slow else args.repeats
                if engine == "R":
                    cmd = ["Rscript", str(child_r), str(csv), model, str(ties), str(reps)]
                else:
                    cmd = [sys.executable, str(child_py), engine, model, str(pq), str(reps)]
                res = run_child(timed(cmd), args.timeout)
                label = f"{engine}" + (f" ({ties})" if ties and ties != "crr" else "")
                label = "R (crr)" if ties == "crr" else label
                row = {"n": n, "engine": label, "model": model, "repeats": reps, **res}
                if "times" in res:
                    row["median_s"] = statistics.median(res["times"])
                results.append(row)
                print(
                    json.dumps({k: v for k, v in row.items() if k not in ("coef", "se")}),
                    flush=True,
                )
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared",
        "python": platform.python_version(),
        "command": "python " + " ".join(sys.argv),
        "data": "15 covariates (5 binary), 150 LAs as clusters, whole-day times, ~50% censored",
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"cox{args.tag}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    (out / f"cox{args.tag}.md").write_text(to_markdown(meta, results))


def to_markdown(meta: dict, results: list[dict]) -> str:
    """Render the results table with agreement of coefficients against reunistat."""
    ref = {(r["n"], r["model"]): r for r in results if r["engine"] == "reunistat" and "coef" in r}
    lines = [
        "# Cox fit benchmark",
        "",
        f"{meta['date']}; {meta['machine']}; Python {meta['python']}.",
        f"Data: {meta['data']}. Command: `{meta['command']}`.",
        "",
        "Times are in-process fit times (median of the repeats; every run listed in cox.json);",
        "peak MB is the subprocess's maximum RSS minus its RSS after loading the data.",
        "",
        "| n | model | engine | runs | median s | peak MB | coef vs reunistat | SE vs reunistat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['n']:,} | {r['model']} | {r['engine']} | - | {r['error']} | | | |")
            continue
        peak = r.get("peak_mb")
        added = "" if peak is None else f"{peak - r.get('base_mb', 0):,.0f}"
        diff = sediff = ""
        base = ref.get((r["n"], r["model"]))
        if base is not None and len(base["coef"]) == len(r["coef"]):
            a, b = np.asarray(r["coef"]), np.asarray(base["coef"])
            diff = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
            a, b = np.asarray(r["se"]), np.asarray(base["se"])
            sediff = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
        lines.append(
            f"| {r['n']:,} | {r['model']} | {r['engine']} | {len(r['times'])} | "
            f"{r['median_s']:.2f} | {added} | {diff} | {sediff} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
