"""Coverage of the generator's truth by multiple imputation, against complete cases.

Run: ``python benchmarks/coverage_mi.py [--replicates 400] [--scale 0.03] [--m 5] [--n-iter 3]``
(resumes: replicates already saved are skipped; two workers side by side with
``--first-seed`` and ``--no-summary``, then ``--summary-only``). Replicates of one
setting (scale, m, n_iter) are saved apart from those of another, so a summary never
mixes settings.

Each replicate generates a seeded synthetic extract (``generate(default_config(),
seed, scale)``), derives the spells with ``derive_cohort``, codes them as the
generator's truth (:func:`reunistat.synthetic.truth_coding.code_for_truth`) and
deletes values of ``ethnic_group`` and ``disability``:

* **MCAR**: each value missing with probability 0.25, independently;
* **MAR**: missing with ``logit p = a + 1.0 reentered + 0.5 section20 - 0.05
  prior_periods``, ``a`` set so that 25% are missing: missingness depends on
  the outcome and on complete covariates, never on the value itself. Complete-case
  analysis is then biased (the selection depends on the outcome).

The Cox model of the generator's 23 terms (stratified by LA, errors clustered by
child) is fitted to the full data, to the complete cases, and by multiple
imputation (:func:`reunistat.models.imputation.mi_fit`: chained equations with
the event indicator and the Nelson-Aalen hazard, the other 21 terms as
predictors, ``m`` imputations, pooled by Rubin's rules with Barnard-Rubin df).
Rows per (scenario, method, term) go to
``benchmarks/results/mi_coverage_scale<scale>_m<m>_iter<n_iter>_<first seed>.csv``
as they finish, with the replicate's CPU seconds (BLAS on one thread); the summary
to ``benchmarks/results/mi_coverage.json``. Why the defaults (scale 0.03, m = 5,
3 cycles) suffice for coverage: ``benchmarks/results/mi_coverage.md``.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _replicates import parser, run_replicates
from scipy import optimize, special

from reunistat.replicates import one_blas_thread
from reunistat.synthetic.reentry import CONTINUOUS_TERMS, FACTOR_TERMS

HERE = Path(__file__).parent
IMPUTED = ("ethnic_group", "disability")
# the analysis model's other 21 terms, complete: predictors of the imputation model
OTHERS = tuple(t for t in (*CONTINUOUS_TERMS, *FACTOR_TERMS) if t not in IMPUTED)
SHARE_MISSING = 0.25


def inject(s: pd.DataFrame, scenario: str, rng: np.random.Generator) -> pd.DataFrame:
    """Return a copy of ``s`` with values of ``IMPUTED`` deleted (MCAR or MAR)."""
    out = s.copy()
    if scenario == "MCAR":
        p = np.full(len(s), SHARE_MISSING)
    else:
        lin = (
            1.0 * s["reentered"].to_numpy(float)
            + 0.5 * s["section20"].to_numpy(float)
            - 0.05 * s["prior_periods"].to_numpy(float)
        )
        a = optimize.brentq(lambda a: special.expit(a + lin).mean() - SHARE_MISSING, -10, 10)
        p = special.expit(a + lin)
    for col in IMPUTED:
        gone = rng.random(len(s)) < p
        if col == "disability":
            out[col] = out[col].astype(float).mask(gone)
        else:
            out[col] = out[col].mask(gone)
    return out


def _rows(fit: object, truth: dict[str, object], **labels: object) -> pd.DataFrame:
    from reunistat.synthetic.truth_coding import match_truth

    t = match_truth(fit.tidy(), truth)  # type: ignore[attr-defined]
    return t[["term", "estimate", "std_error", "conf_low", "conf_high", "truth"]].assign(**labels)


@one_blas_thread  # a second BLAS thread spins on these thin matrices: 19 s of CPU, 13 s without
def one_replicate(seed: int, scale: float, m: int, n_iter: int) -> pd.DataFrame:
    """Return one row per (scenario, method, term): estimate, error, interval, truth, CPU s."""
    cpu0 = time.process_time()
    from reunistat.cohort import derive_cohort
    from reunistat.models.imputation import mi_fit
    from reunistat.models.survival import cox
    from reunistat.synthetic import default_config, generate
    from reunistat.synthetic.truth_coding import TRUTH_RHS, code_for_truth

    d = generate(default_config(), seed=seed, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = code_for_truth(derive_cohort(d.tables), d.truth)
    s = s[["LA", "CHILD", "days_followed", "reentered", *IMPUTED, *OTHERS]].reset_index(drop=True)
    opts = {"strata": "LA", "cluster": "CHILD", "concordance": False}
    full = cox(TRUTH_RHS, s, "days_followed", "reentered", **opts)
    rows = [_rows(full, d.truth, scenario="none", method="full", seed=seed)]
    rng = np.random.default_rng(seed)
    for scenario in ("MCAR", "MAR"):
        miss = inject(s, scenario, rng)
        cc = cox(TRUTH_RHS, miss.dropna(subset=list(IMPUTED)), "days_followed", "reentered", **opts)
        rows.append(_rows(cc, d.truth, scenario=scenario, method="complete_case", seed=seed))
        mi = mi_fit(
            TRUTH_RHS,
            miss,
            {"ethnic_group": "polyreg", "disability": "logreg"},
            predictors=list(OTHERS),
            m=m,
            n_iter=n_iter,
            seed=seed,
            **opts,
        )
        rows.append(_rows(mi, d.truth, scenario=scenario, method="mi", seed=seed))
    return pd.concat(rows, ignore_index=True).assign(cpu_s=round(time.process_time() - cpu0, 2))


GROUPS = {"disability": ("disability",), "ethnic_group": ("ethnic_group",)}


def term_group(term: pd.Series) -> pd.Series:
    """``disability``, ``ethnic_group`` (the imputed columns' terms) or ``complete`` (the 17)."""
    out = pd.Series("complete", index=term.index)
    for name, starts in GROUPS.items():
        out[term.str.startswith(starts)] = name
    return out


def _coverage(g: pd.DataFrame) -> dict[str, float]:
    """Coverage and its MC SE (from the replicates: terms within one are not independent)."""
    by_rep = g.groupby("seed")["covered"].mean()
    return {
        "coverage": round(float(g["covered"].mean()), 4),
        "mc_se": round(float(by_rep.std(ddof=1) / np.sqrt(len(by_rep))), 4),
    }


def summarise(reps: pd.DataFrame) -> dict[str, object]:
    """Coverage (overall, per term group, per term), mean z, bias and SE by (scenario, method)."""
    reps = reps.assign(
        covered=(reps["conf_low"] < reps["truth"]) & (reps["truth"] < reps["conf_high"]),
        z=(reps["estimate"] - reps["truth"]) / reps["std_error"],
        bias=reps["estimate"] - reps["truth"],
        group=term_group(reps["term"]),
    )
    imputed = reps["group"] != "complete"
    out: dict[str, object] = {}
    for (scenario, method), g in reps.groupby(["scenario", "method"]):
        overall, imp = _coverage(g), _coverage(g.loc[imputed.loc[g.index]])
        out[f"{scenario}/{method}"] = {
            "n_rep": int(g["seed"].nunique()),
            "coverage_overall": overall["coverage"],
            "mc_se": overall["mc_se"],
            "coverage_imputed_terms": imp["coverage"],
            "mc_se_imputed_terms": imp["mc_se"],
            "coverage_by_group": {k: _coverage(gg) for k, gg in g.groupby("group")},
            "coverage_by_term": g.groupby("term")["covered"].mean().round(3).to_dict(),
            "mean_bias_by_term": g.groupby("term")["bias"].mean().round(3).to_dict(),
            "mean_z_by_term": g.groupby("term")["z"].mean().round(2).to_dict(),
            "sd_z_by_term": g.groupby("term")["z"].std().round(2).to_dict(),
            "mean_se_by_term": g.groupby("term")["std_error"].mean().round(4).to_dict(),
        }
    return out


def main() -> None:
    """Run (or resume) the replicates and write the summary."""
    ap = parser(scale=0.03, first_seed=5000)
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--n-iter", type=int, default=3)
    args = ap.parse_args()
    reps = run_replicates(
        f"mi_coverage_scale{args.scale:g}_m{args.m}_iter{args.n_iter}",
        args.first_seed,
        0 if args.summary_only else args.replicates,
        one_replicate,
        (args.scale, args.m, args.n_iter),
        args,
    )
    if args.no_summary:
        return
    cpu = reps.drop_duplicates("seed")["cpu_s"] if "cpu_s" in reps else pd.Series(dtype=float)
    summary = {
        "command": "python benchmarks/coverage_mi.py "
        + ("--summary-only" if args.summary_only else f"--replicates {args.replicates}")
        + f" --scale {args.scale:g} --m {args.m} --n-iter {args.n_iter}",
        "cpu_s_per_replicate": {
            "mean": round(float(cpu.mean()), 2),
            "min": round(float(cpu.min()), 2),
            "max": round(float(cpu.max()), 2),
        },
        "seeds": sorted(int(x) for x in reps["seed"].unique()),
        "model": "cox(~ 23 terms, strata='LA', cluster='CHILD') on "
        "code_for_truth(derive_cohort(generate(default_config(), seed, scale)))",
        "missing": f"ethnic_group and disability, {SHARE_MISSING:.0%} each, MCAR or MAR "
        "(logit p = a + 1.0 reentered + 0.5 section20 - 0.05 prior_periods)",
        "n_rep": int(reps["seed"].nunique()),
        "goal": "95 +/- 1.5%",
        "by_scenario_method": summarise(reps),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    out = HERE / "results" / "mi_coverage.json"
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        json.dumps(
            {
                k: (v["coverage_overall"], v["coverage_imputed_terms"])  # type: ignore[index]
                for k, v in summary["by_scenario_method"].items()  # type: ignore[attr-defined]
            }
        )
    )


if __name__ == "__main__":
    main()
