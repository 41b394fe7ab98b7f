"""Why ``prior_periods`` is biased in the LA-stratified Cox model of the coverage benchmark.

Run: ``python benchmarks/cox_cluster_coverage_prior_periods.py [--replicates 30]
[--first-seed 3100]``; writes ``results/cox_cluster_coverage_prior_periods.json`` (and the
rows, ``..._rows.csv``).

For each seeded extract (``generate(default_config(), seed, scale=0.1)``) it checks
that the cohort's ``prior_periods`` equals the generator's own count for every return
home (joined on child and return date), then fits the truth model (``TRUTH_RHS``) to
the generator's returns in four ways and records the error of each term:

* ``strata_LA``: stratified by authority, as ``coverage_cox_cluster.py``;
* ``LA_fixed``: one baseline, authority as a fixed effect (``+ C(LA)``);
* ``resimulated``: stratified by authority, the same covariates and censoring
  times, event times drawn afresh from the true model (so that no later return
  of a child depends on the outcome of an earlier one);
* on the same seed without the authority frailty (``la_sd_log_hr = 0``):
  ``no_frailty_strata_LA`` and ``no_frailty_unstratified``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def _same_prior_periods(d: object) -> int:
    """Returns home whose cohort ``prior_periods`` differs from the generator's (0 expected)."""
    from reunistat.cohort import derive_cohort

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = derive_cohort(d.tables)  # type: ignore[attr-defined]
    g = d.truth_returns.assign(  # type: ignore[attr-defined]
        return_date=lambda x: pd.to_datetime(x["return_date"])
    )
    m = s.merge(g, on=["CHILD", "return_date"], how="outer", suffixes=("", "_g"), indicator=True)
    return int(((m["_merge"] != "both") | (m["prior_periods"] != m["prior_periods_g"])).sum())


def one_seed(seed: int, scale: float) -> tuple[pd.DataFrame, int]:
    """The error of every term under each fit, and the count of cohort mismatches."""
    from reunistat.models.survival import cox
    from reunistat.synthetic import default_config, generate
    from reunistat.synthetic.reentry import draw_days_to_reentry
    from reunistat.synthetic.truth_coding import TRUTH_RHS, code_for_truth, match_truth

    cfg = default_config()
    d = generate(cfg, seed=seed, scale=scale)
    mismatches = _same_prior_periods(d)
    tr = code_for_truth(d.truth_returns, d.truth)
    t = draw_days_to_reentry(
        np.random.default_rng(seed + 10**6), cfg.values, tr["true_lp"].to_numpy()
    )
    pot = tr["days_potential_followup"].to_numpy()
    resim = tr.assign(days_followed=np.minimum(t, pot), reentered=(t <= pot).astype(int))
    d0 = generate(cfg.with_overrides({"reentry": {"la_sd_log_hr": 0.0}}), seed=seed, scale=scale)
    t0 = code_for_truth(d0.truth_returns, d0.truth)
    fits = {
        "strata_LA": (TRUTH_RHS, tr, "LA"),
        "LA_fixed": (TRUTH_RHS + " + C(LA)", tr, None),
        "resimulated": (TRUTH_RHS, resim, "LA"),
        "no_frailty_strata_LA": (TRUTH_RHS, t0, "LA"),
        "no_frailty_unstratified": (TRUTH_RHS, t0, None),
    }
    rows = []
    for label, (rhs, data, strata) in fits.items():
        f = cox(rhs, data, "days_followed", "reentered", strata=strata, concordance=False)
        rows.append(match_truth(f.tidy(), d.truth).assign(fit=label, seed=seed))
    return pd.concat(rows, ignore_index=True), mismatches


def main() -> None:
    """Run the seeds and write the rows and the summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=3100)
    ap.add_argument("--scale", type=float, default=0.1)
    args = ap.parse_args()
    parts, bad = [], 0
    for seed in range(args.first_seed, args.first_seed + args.replicates):
        rows, mism = one_seed(seed, args.scale)
        parts.append(rows)
        bad += mism
        print(seed, flush=True)
    reps = pd.concat(parts, ignore_index=True).assign(error=lambda x: x["estimate"] - x["truth"])
    reps.to_csv(HERE / "results" / "cox_cluster_coverage_prior_periods_rows.csv", index=False)
    n = reps["seed"].nunique()
    by = reps.groupby(["fit", "term"])["error"]
    pp = reps.loc[reps["term"] == "prior_periods"].groupby("fit")["error"]
    summary = {
        "command": "python benchmarks/cox_cluster_coverage_prior_periods.py "
        f"--replicates {args.replicates} --first-seed {args.first_seed} --scale {args.scale}",
        "n_rep": n,
        "cohort_prior_periods_mismatches": bad,
        "prior_periods_bias": pp.mean().round(4).to_dict(),
        "prior_periods_bias_mc_se": (pp.std() / np.sqrt(n)).round(4).to_dict(),
        "largest_abs_bias_other_terms": (
            by.mean()
            .drop("prior_periods", level="term")
            .abs()
            .groupby("fit")
            .max()
            .round(4)
            .to_dict()
        ),
    }
    out = HERE / "results" / "cox_cluster_coverage_prior_periods.json"
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary["prior_periods_bias"]))


if __name__ == "__main__":
    main()
