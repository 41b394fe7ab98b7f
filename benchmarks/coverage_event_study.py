"""Coverage of every event-study coefficient with 15 pilot authorities: CR2, CR1, wild bootstrap.

Run: ``python benchmarks/coverage_event_study.py [--replicates 400] [--n-boot 199]``

Each replicate simulates one pilot evaluation with the package's seeded spell
generator (:func:`reunistat.models.evaluation.power.simulate_spells`,
:class:`~reunistat.models.evaluation.PowerDesign`: 150 authorities of which 15
pilot, 2,000 returns home a year (a fifth of England's) for 7 years, adoption at the start
of year 3, authority frailty SD 0.15 on the log hazard, pilot hazard ratio 0.75,
no secular trend), turns it into a spells table with return dates and a
potential follow-up, and fits :func:`~reunistat.models.evaluation.event_study`
(re-entry within 365 days among returns followed 365 days; window -3..2, year
-1 the reference). The truth of each coefficient is 0 before adoption and,
after, the risk difference ``E_b[exp(-L e^b) - exp(-L 0.75 e^b)]`` (``L`` the
baseline cumulative hazard at 365 days, ``b`` the frailty). Each 95% interval
is checked three ways: CR2 with Satterthwaite df (default), CR1 on clusters - 1
df (the earlier default) and the restricted wild cluster bootstrap. Results go to
``benchmarks/results/evaluation_coverage.json``; replicates are kept in
``evaluation_coverage_replicates_<first seed>.csv`` (a stopped run resumes; on two
cores run ``--first-seed 7000 --replicates 200 --no-summary`` and ``--first-seed 7200
--replicates 200 --no-summary`` side by side, then ``--replicates 400``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
from _replicates import add_backend_args, run_replicates

HERE = Path(__file__).parent
START = pd.Timestamp("2015-04-01")
HORIZON = 365
WINDOW = (-3, 2)
RETURNS_PER_YEAR = 2000.0


def design():  # type: ignore[no-untyped-def]
    """The simulated study (15 of 150 authorities piloting)."""
    from reunistat.models.evaluation import PowerDesign

    return PowerDesign(
        hazard_ratio=0.75,
        returns_per_year=RETURNS_PER_YEAR,
        years=7.0,
        adoption_year=3.0,
        design="did",
    )


def true_effect() -> float:
    """The post-adoption risk difference at 365 days, the frailty integrated out."""
    from reunistat.models.evaluation.power import _cumhaz, baseline_rates

    d = design()
    knots, rates = baseline_rates(d.baseline)
    cum = float(_cumhaz(knots, rates, np.array([float(HORIZON)]))[0])
    nodes, wts = np.polynomial.hermite_e.hermegauss(40)
    b = d.la_sd_log_hr * nodes
    wts = wts / wts.sum()
    return float(wts @ (np.exp(-cum * np.exp(b)) - np.exp(-cum * d.hazard_ratio * np.exp(b))))


def spells_table(seed: int) -> tuple[pd.DataFrame, dict[str, pd.Timestamp]]:
    """One simulated study as a spells table and the pilots' adoption dates."""
    from reunistat.models.evaluation.power import DAYS, simulate_spells

    d = design()
    s = simulate_spells(d, np.random.default_rng(seed))
    day = np.floor(s["entry_day"].to_numpy())
    out = pd.DataFrame(
        {
            "LA": "LA" + s["LA"].astype(str).str.zfill(3),
            "return_date": START + pd.to_timedelta(day, unit="D"),
            "return_year": 2015 + (day // DAYS).astype(int),
            "days_followed": s["days_followed"].astype(float),
            "reentered": s["reentered"],
            "days_potential_followup": np.floor(d.years * DAYS - s["entry_day"].to_numpy()),
        }
    )
    adopt = START + pd.Timedelta(days=int(d.adoption_year * DAYS))
    return out, {f"LA{i:03d}": adopt for i in range(d.n_pilot)}


def one_replicate(seed: int, n_boot: int, truth_post: float) -> pd.DataFrame:
    """Return one row per (coefficient, method): interval and truth."""
    from scipy import stats

    from reunistat.models.evaluation import event_study

    spells, adoption = spells_table(seed)
    res = event_study(
        spells,
        adoption,
        window=WINDOW,
        horizon_days=HORIZON,
        potential_followup_col="days_potential_followup",
        n_boot=n_boot,
        seed=seed,
        pretrend_test="wald",
    )
    cr2 = res.tidy().assign(df=res.extras["df_by_term"].to_numpy())
    boot = res.tidy(conf_method="wild_bootstrap").assign(df=np.nan)  # type: ignore[call-arg]
    se1 = np.sqrt(np.diag(res.extras["cov_cr1"].to_numpy()))
    df1 = res.fit_stats["n_clusters"] - 1
    q = stats.t.ppf(0.975, df1)
    cr1 = cr2.assign(
        std_error=se1,
        df=df1,
        conf_low=cr2["estimate"] - q * se1,
        conf_high=cr2["estimate"] + q * se1,
    )
    rows = []
    for method, t in (("CR2", cr2), ("CR1", cr1), ("wild_bootstrap", boot)):
        k = t["term"].str.extract(r"\[(-?\d+)\]")[0].astype(int)
        rows.append(t.assign(method=method, seed=seed, truth=np.where(k >= 0, truth_post, 0.0)))
    return pd.concat(rows, ignore_index=True)


def summarise(reps: pd.DataFrame) -> dict[str, object]:
    """Coverage by method and term, with Monte Carlo errors."""
    reps = reps.assign(
        covered=(reps["conf_low"] < reps["truth"]) & (reps["truth"] < reps["conf_high"])
    )
    out: dict[str, object] = {}
    for method, g in reps.groupby("method"):
        n_rep = g["seed"].nunique()
        by_term = g.groupby("term")
        emp_sd = by_term["estimate"].std()
        out[str(method)] = {
            "coverage_overall": round(float(g["covered"].mean()), 4),
            "mc_se_overall": round(
                float(g.groupby("seed")["covered"].mean().std() / np.sqrt(n_rep)), 4
            ),
            "coverage_by_term": by_term["covered"].mean().round(4).to_dict(),
            "mean_se_over_empirical_sd": (by_term["std_error"].mean() / emp_sd).round(3).to_dict(),
            "mean_df": by_term["df"].mean().round(2).to_dict() if g["df"].notna().any() else None,
            "bias": (by_term["estimate"].mean() - by_term["truth"].mean()).round(5).to_dict(),
        }
    return out


def main() -> None:
    """Run (or resume) the replicates and write the summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--n-boot", type=int, default=199)
    ap.add_argument("--first-seed", type=int, default=7000)
    ap.add_argument("--no-summary", action="store_true")
    add_backend_args(ap)
    args = ap.parse_args()
    truth = true_effect()
    reps = run_replicates(
        "evaluation_coverage_replicates",
        args.first_seed,
        args.replicates,
        one_replicate,
        (args.n_boot, truth),
        args,
    )
    if args.no_summary:
        return
    reps = reps.loc[reps["seed"].between(args.first_seed, args.first_seed + args.replicates - 1)]
    summary = {
        "command": f"python benchmarks/coverage_event_study.py --replicates {args.replicates} "
        f"--n-boot {args.n_boot}",
        "design": "PowerDesign(hazard_ratio=0.75, returns_per_year=2000, years=7, "
        "adoption_year=3): 150 LAs, 15 pilot, LA frailty SD 0.15; event_study(window=(-3, 2), "
        "horizon 365, potential follow-up >= 365)",
        "truth_post_risk_difference": truth,
        "n_rep": int(reps["seed"].nunique()),
        "goal": "95 +/- 1.5% for each coefficient",
        "by_method": summarise(reps),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    (HERE / "results" / "evaluation_coverage.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n"
    )
    print(json.dumps({k: v["coverage_by_term"] for k, v in summary["by_method"].items()}, indent=1))


if __name__ == "__main__":
    main()
