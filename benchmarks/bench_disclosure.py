"""The release-wide disclosure step: time, cells suppressed per check, and ACRO's verdicts.

Run: ``.venv/bin/python benchmarks/bench_disclosure.py [--data DIR] [--repeats 3]``
with ``REUNISTAT_ACRO_PYTHON`` naming a Python that has ``acro`` (1.0.2 pins
pandas<=2.3.3, so it lives in its own venv, e.g. /work/venvs/acro).

Two cases:

* **national**: the default synthetic dataset (``data/synthetic/england``),
  synthetic-mode rules (threshold 10, zeros shown);
* **one authority, real mode**: the smallest authority of that dataset
  (``[data] mode = "real"`` rules: zeros disclosive), written as an extract
  to ``benchmarks/_work/one_la`` and run through ``reunistat reproduce``
  (real mode) into ``benchmarks/_work/one_la_outputs``.

For each: the seconds :func:`reunistat.report.release_plan.standard_release`
takes (median of the repeats; the step every run does once), the cells it
suppressed per table and reason (primary below the threshold, zero,
secondary), whether its LP audit passed, and an ACRO session over the same
spells (Table 1's crosstabs, a survival table per curve group, the
fixed-horizon logistic regression) with the cells each ACRO check flagged.
ACRO's results folders go to ``benchmarks/_work/acro_*``; their
``results.json`` is copied to ``benchmarks/results/disclosure_acro_*.json``.
Results: ``benchmarks/results/disclosure.json`` and ``disclosure.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from reunistat.cohort import CohortConfig, build_cohort
from reunistat.pipeline import DEFAULT_COVARIATES
from reunistat.report.acro_check import acro_python, check_release_with_acro, summarise_acro
from reunistat.report.disclosure import DisclosureRules
from reunistat.report.release_plan import standard_release
from reunistat.tables import read_extract

HERE = Path(__file__).parent
ROOT = HERE.parent
WORK = HERE / "_work"
RESULTS = HERE / "results"
HORIZONS = (91, 365, 730, 1826, 2191)


def one_la_extract(data: Path, out: Path) -> tuple[str, int]:
    """Write the smallest authority's tables as an extract; return its code and children."""
    header = pd.read_parquet(data / "header.parquet")
    la = str(header["LA"].astype(str).value_counts().idxmin())
    h = header[header["LA"].astype(str) == la]
    kids = set(h["CHILD"])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    h.to_parquet(out / "header.parquet", index=False)
    ep = pd.read_parquet(data / "episodes.parquet")
    ep[ep["CHILD"].isin(kids)].to_parquet(out / "episodes.parquet", index=False)
    cin = pd.read_parquet(data / "cin.parquet")
    cin[cin["LA"].astype(str) == la].to_parquet(out / "cin.parquet", index=False)
    npd = pd.read_parquet(data / "npd.parquet")
    npd[npd["UPN"].isin(set(h["UPN"].dropna()))].to_parquet(out / "npd.parquet", index=False)
    shutil.copy(data / "postcodes.parquet", out / "postcodes.parquet")
    lat = pd.read_parquet(data / "la.parquet")
    lat[lat["LA"].astype(str) == la].to_parquet(out / "la.parquet", index=False)
    return la, len(h)


def measure(name: str, data: Path, rules: DisclosureRules, repeats: int) -> dict:
    extract = read_extract(data)
    cohort = build_cohort(extract.tables, CohortConfig(validation="lenient"))
    spells = cohort.spells
    la = extract.tables.get("la")
    secs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rel = standard_release(
            spells, cohort.flow, rules, horizons_days=HORIZONS, logistic_horizon_days=365, la=la
        )
        secs.append(time.perf_counter() - t0)
    counts = rel.counts_by_reason()
    acro_dir = WORK / f"acro_{name}"
    if acro_dir.exists():
        shutil.rmtree(acro_dir)
    # ACRO tabulates the levels Table 1 publishes (counts capped at 3+, 0/1 as no/yes)
    t0 = time.perf_counter()
    res = check_release_with_acro(
        spells, acro_dir, covariates=DEFAULT_COVARIATES, horizon_days=365, python=acro_python()
    )
    acro_s = time.perf_counter() - t0
    shutil.copy(res, RESULTS / f"disclosure_acro_{name}.json")
    summary = summarise_acro(res)
    return {
        "case": name,
        "spells": len(spells),
        "children": int(spells["CHILD"].nunique()),
        "rules": rules.as_dict(),
        "release_seconds": [round(s, 2) for s in secs],
        "release_seconds_median": round(statistics.median(secs), 2),
        "cells": len(rel.keys),
        "suppressed": int(rel.hidden.sum()),
        "audit_passed": rel.audit_passed,
        "by_table": counts.to_dict(orient="records"),
        "acro_seconds": round(acro_s, 1),
        "acro": summary.fillna("").to_dict(orient="records"),
    }


def reproduce_real(extract: Path, out: Path) -> dict:
    cfg = WORK / "one_la.toml"
    cfg.write_text(
        f'[data]\nmode = "real"\ndir = "{extract.as_posix()}"\n[analysis]\npower_replicates = 20\n'
        f'[outputs]\ndir = "{out.as_posix()}"\n',
        encoding="utf-8",
    )
    exe = Path(sys.executable).parent / "reunistat"
    t0 = time.perf_counter()
    res = subprocess.run(
        [str(exe), "reproduce", "--config", str(cfg)], cwd=ROOT, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    manifest = (
        json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    )
    release_line = [ln.strip() for ln in res.stdout.splitlines() if "release-wide" in ln]
    return {
        "exit_code": res.returncode,
        "wall_s": round(wall, 1),
        "status": manifest.get("status"),
        "release_log": release_line,
        "failed": manifest.get("failed", []),
        "skipped": manifest.get("skipped", []),
        "stderr_tail": res.stderr.strip().splitlines()[-12:],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT / "data/synthetic/england")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-national", action="store_true")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    out: dict = {"cases": []}
    if not args.skip_national:
        out["cases"].append(measure("national", args.data, DisclosureRules(), args.repeats))
    elif (RESULTS / "disclosure.json").exists():  # keep the national case measured before
        before = json.loads((RESULTS / "disclosure.json").read_text("utf-8"))["cases"]
        out["cases"] += [c for c in before if c["case"] == "national"]
    la, n = one_la_extract(args.data, WORK / "one_la")
    real = DisclosureRules(zeros_disclosive=True)
    case = measure("one_la", WORK / "one_la", real, args.repeats)
    case["la"], case["header_children"] = la, n
    dest = WORK / "one_la_outputs"
    if dest.exists():
        shutil.rmtree(dest)
    case["reproduce"] = reproduce_real(WORK / "one_la", dest)
    out["cases"].append(case)
    (RESULTS / "disclosure.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2)[:4000])


if __name__ == "__main__":
    main()
