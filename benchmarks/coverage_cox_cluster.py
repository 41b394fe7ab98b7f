"""Coverage of the generator's truth by the Cox model through the cohort, by cluster choice.

Run: ``python benchmarks/coverage_cox_cluster.py [--replicates 400] [--scale 0.1]``; on
two cores, run ``--first-seed 2000 --replicates 200 --no-summary`` and ``--first-seed 2200
--replicates 200 --no-summary`` side by side, then ``--replicates 400`` (which reuses them).

Each replicate generates a seeded synthetic extract (``generate(default_config(),
seed=2000 + r, scale)``), derives the spells with ``derive_cohort``, fits the
Cox model of ``tests/test_survival_truth.py`` (23 terms, stratified by LA so the
generator's authority frailty is absorbed and its conditional log hazard ratios
are the target), and checks whether each 95% interval covers the truth in
``truth.json``, once with errors clustered by child (as the pipeline did) and
once by local authority (children are nested in authorities; the nested
two-way ``("LA", "CHILD")`` variance equals the authority one). Replicates are
saved as they finish in ``benchmarks/results/cox_coverage_replicates_<first seed>.csv``
(a stopped run resumes; every such file counts), and the summary goes to
``benchmarks/results/cox_cluster_coverage.json``.

With ``--small-sample`` each replicate fits the model clustered by authority once
and records the small-sample variances of
:func:`reunistat.models.survival.cox_small_sample` instead: ``LA-CR2`` (CR2 with
Satterthwaite df per term, intervals on t) and ``LA-CR3`` (Mancl-DeRouen, the same
df), saved in ``cox_coverage_cr2_replicates_<first seed>.csv`` and summarised in
``cox_cluster_coverage_cr2.json`` (the same seeds, so the data are those of the
CR0 rows).
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _replicates import parser, run_replicates

HERE = Path(__file__).parent
CLUSTERS = {"CHILD": "CHILD", "LA": "LA"}
PILOT_DF = 14  # 15 pilot authorities in the default generator config


def one_replicate(seed: int, scale: float) -> pd.DataFrame:
    """Return one row per (cluster choice, term): estimate, error, interval, truth."""
    from reunistat.cohort import derive_cohort
    from reunistat.models.survival import cox
    from reunistat.synthetic import default_config, generate
    from reunistat.synthetic.truth_coding import TRUTH_RHS, code_for_truth, match_truth

    d = generate(default_config(), seed=seed, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = code_for_truth(derive_cohort(d.tables), d.truth)
    rows = []
    for label, cl in CLUSTERS.items():
        fit = cox(
            TRUTH_RHS, s, "days_followed", "reentered", strata="LA", cluster=cl, concordance=False
        )
        rows.append(match_truth(fit.tidy(), d.truth).assign(cluster=label, seed=seed))
    return pd.concat(rows, ignore_index=True)


def one_small_sample(seed: int, scale: float) -> pd.DataFrame:
    """Return one row per (variance, term) for the authority-clustered fit: CR2 and CR3."""
    from reunistat.cohort import derive_cohort
    from reunistat.models.survival import cox, cox_small_sample
    from reunistat.synthetic import default_config, generate
    from reunistat.synthetic.truth_coding import TRUTH_RHS, code_for_truth, match_truth

    d = generate(default_config(), seed=seed, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = code_for_truth(derive_cohort(d.tables), d.truth)
    fit = cox(
        TRUTH_RHS, s, "days_followed", "reentered", strata="LA", cluster="LA", concordance=False
    )
    rows = []
    for kind in ("CR2", "CR3"):
        res = cox_small_sample(fit, kind)
        tidy = res.tidy().assign(df=res.extras["df_by_term"].to_numpy())
        rows.append(match_truth(tidy, d.truth).assign(cluster=f"LA-{kind}", seed=seed))
    return pd.concat(rows, ignore_index=True)


def summarise(reps: pd.DataFrame) -> dict[str, object]:
    """Coverage overall and by term for each cluster choice, with its Monte Carlo error."""
    reps = reps.assign(
        covered=(reps["conf_low"] < reps["truth"]) & (reps["truth"] < reps["conf_high"]),
        z=(reps["estimate"] - reps["truth"]) / reps["std_error"],
    )
    out: dict[str, object] = {}
    for label, g in reps.groupby("cluster"):
        n_rep = g["seed"].nunique()
        by_rep = g.groupby("seed")["covered"].mean()
        out[str(label)] = {
            "coverage_overall": round(float(g["covered"].mean()), 4),
            # replicates are independent; terms within one are not: MC error from replicates
            "mc_se": round(float(by_rep.std(ddof=1) / np.sqrt(n_rep)), 4),
            "n_intervals": len(g),
            "coverage_by_term": g.groupby("term")["covered"].mean().round(3).to_dict(),
            "mean_z_by_term": g.groupby("term")["z"].mean().round(2).to_dict(),
            "sd_z_by_term": g.groupby("term")["z"].std().round(2).to_dict(),
            # one term's coverage over n replicates: binomial MC error
            "mc_se_one_term": round(float(np.sqrt(0.95 * 0.05 / n_rep)), 4),
            # the pilot term referred to t on (pilot authorities - 1) df, as
            # pilot_vs_comparison(small_sample=True) does for the Cox model
            "coverage_pilot_t": round(float(_t_covered(g.loc[g["term"] == "pilot"]).mean()), 4),
            "pilot_t_df": PILOT_DF,
        }
        if "df" in g.columns and g["df"].notna().any():
            # CR2 / CR3 rows: the Satterthwaite df of each interval, averaged by term
            out[str(label)]["mean_df_by_term"] = g.groupby("term")["df"].mean().round(1).to_dict()
    return out


def _t_covered(rows: pd.DataFrame, df: int = 14) -> pd.Series:
    """Whether ``estimate +/- t(0.975, df) SE`` covers the truth."""
    from scipy import stats

    half = stats.t.ppf(0.975, df) * rows["std_error"]
    return (rows["estimate"] - half < rows["truth"]) & (rows["truth"] < rows["estimate"] + half)


def main() -> None:
    """Run (or resume) the replicates and write the summary."""
    ap = parser(scale=0.1, first_seed=2000)
    ap.add_argument("--small-sample", action="store_true", help="CR2 / CR3 with authority clusters")
    args = ap.parse_args()
    prefix = "cox_coverage_cr2_replicates" if args.small_sample else "cox_coverage_replicates"
    reps = run_replicates(
        prefix,
        args.first_seed,
        0 if args.summary_only else args.replicates,
        one_small_sample if args.small_sample else one_replicate,
        (args.scale,),
        args,
    )
    if args.no_summary:
        return
    parts = sorted((HERE / "results").glob(f"{prefix}_*.csv"))
    if not args.summary_only:
        last = args.first_seed + args.replicates - 1
        reps = reps.loc[reps["seed"].between(args.first_seed, last)]
    summary = {
        "command": "python benchmarks/coverage_cox_cluster.py "
        + (
            "--summary-only (seeds: "
            + ", ".join(f"{p.stem.rsplit('_', 1)[1]}+" for p in parts)
            + ")"
            if args.summary_only
            else f"--replicates {args.replicates} --scale {args.scale}"
        )
        + (" --small-sample" if args.small_sample else ""),
        "seeds": sorted(int(x) for x in reps["seed"].unique()),
        "model": "cox(~ 23 terms, strata='LA', cluster=CHILD or LA) on "
        "derive_cohort(generate(default_config(), seed=2000 + r, scale))",
        "n_rep": int(reps["seed"].nunique()),
        "scale": args.scale,
        "goal": "95 +/- 1.5%",
        "by_cluster": summarise(reps),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    name = "cox_cluster_coverage_cr2.json" if args.small_sample else "cox_cluster_coverage.json"
    out = HERE / "results" / name
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v["coverage_overall"] for k, v in summary["by_cluster"].items()}))


if __name__ == "__main__":
    main()
