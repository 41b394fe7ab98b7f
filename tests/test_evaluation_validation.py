"""Repeated-simulation checks of the evaluation designs (slow; figures in benchmarks/results).

Run: ``.venv/bin/pytest -m slow -s tests/test_evaluation_validation.py``. Each
test prints its figures (mean estimate, truth, bias, empirical SD, mean SE,
coverage of the 95% CI); benchmarks/results/evaluation_validation.md records them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.evaluation import (
    PowerDesign,
    before_after,
    comparison_sample,
    did,
    pilot_vs_comparison,
    propensity_weighting,
    simulate_power,
)
from reunistat.models.evaluation.validation import counterfactual_risks, true_risk_difference
from reunistat.synthetic import default_config, generate

pytestmark = pytest.mark.slow
PF = "days_potential_followup"
N_REPS = 100


def _one_rep(seed: int) -> dict[str, float]:
    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    g = generate(cfg, seed=seed, scale=0.1, progress=False)
    tr, la = g.truth_returns, g.tables["la"]
    b_true = g.truth["true_log_ratios"]["pilot"]
    out: dict[str, float] = {"cox_truth": b_true}
    c = pilot_vs_comparison(tr, la).tidy().set_index("term").loc["treated"]
    out.update(
        cox_est=c.estimate, cox_se=c.std_error, cox_cover=c.conf_low <= b_true <= c.conf_high
    )
    d = did(tr, la, potential_followup_col=PF).tidy().iloc[0]
    rd_true = true_risk_difference(tr, g.truth, 365, (tr["pilot"] == 1) & (tr[PF] >= 365))
    out.update(did_est=d.estimate, did_se=d.std_error, did_truth=rd_true)
    out["did_cover"] = d.conf_low <= rd_true <= d.conf_high
    ba = before_after(tr, la, model="cox").tidy().iloc[0]
    out.update(ba_cox_est=ba.estimate, ba_cox_cover=ba.conf_low <= b_true <= ba.conf_high)
    bar = before_after(tr, la, potential_followup_col=PF).tidy().iloc[0]
    out.update(ba_risk_est=bar.estimate, ba_risk_cover=bar.conf_low <= rd_true <= bar.conf_high)
    return out


def _summary(df: pd.DataFrame, name: str, truth: str) -> dict[str, float]:
    est = df[f"{name}_est"]
    t = df[truth] if truth in df else pd.Series(float(truth), index=df.index)
    s = {
        "mean_estimate": float(est.mean()),
        "mean_truth": float(t.mean()),
        "bias": float((est - t).mean()),
        "mc_se_bias": float((est - t).std() / np.sqrt(len(df))),
        "empirical_sd": float(est.std()),
        "coverage": float(df[f"{name}_cover"].mean()),
    }
    if f"{name}_se" in df:
        s["mean_se"] = float(df[f"{name}_se"].mean())
    print(f"{name}: " + ", ".join(f"{k}={v:.4f}" for k, v in s.items()), flush=True)
    return s


def test_designs_recover_truth_and_cover() -> None:
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=2)(delayed(_one_rep)(1000 + i) for i in range(N_REPS))
    df = pd.DataFrame(rows)
    print(f"\n{N_REPS} generator replicates, scale 0.1 (~16k returns), 30 of 150 LAs piloting")
    cox = _summary(df, "cox", "cox_truth")
    dd = _summary(df, "did", "did_truth")
    ba = _summary(df, "ba_cox", "cox_truth")
    bar = _summary(df, "ba_risk", "did_truth")
    assert abs(cox["bias"]) < 3 * cox["mc_se_bias"] + 0.02
    assert 0.89 <= cox["coverage"] <= 0.99
    assert 0.89 <= dd["coverage"] <= 0.99
    # the naive before/after comparison absorbs the secular trend (0.98/year)
    assert ba["bias"] < -0.05 and ba["coverage"] < 0.8
    assert bar["bias"] < dd["bias"]


def _logistic_rep(seed: int) -> tuple[float, float, bool]:
    cfg = default_config().with_overrides({"pilot.n_authorities": 30, "reentry.model": "logistic"})
    g = generate(cfg, seed=seed, scale=0.1, progress=False)
    b = g.truth["true_log_ratios"]["pilot"]
    r = (
        pilot_vs_comparison(
            g.truth_returns, g.tables["la"], model="logistic", potential_followup_col=PF
        )
        .tidy()
        .set_index("term")
        .loc["treated"]
    )
    return r.estimate, b, bool(r.conf_low <= b <= r.conf_high)


def test_logistic_design_covers() -> None:
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=2)(delayed(_logistic_rep)(3000 + i) for i in range(N_REPS))
    df = pd.DataFrame(rows, columns=["logit_est", "truth", "logit_cover"])
    s = _summary(df, "logit", "truth")
    assert abs(s["bias"]) < 3 * s["mc_se_bias"] + 0.02
    assert 0.89 <= s["coverage"] <= 0.99


def _weighting_rep(seed: int) -> dict[str, float]:
    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    g = generate(cfg, seed=seed, scale=0.1, progress=False)
    s = comparison_sample(g.truth_returns, g.tables["la"])
    r = propensity_weighting(s, method="overlap", n_boot=100, seed=seed)
    ps = r.propensity.to_numpy()
    out: dict[str, float] = {}
    pct = r.risk_differences.extras["percentile_intervals"]
    for h in (182, 365, 730):
        cf = counterfactual_risks(g.truth_returns.loc[r.propensity.index], g.truth, h)
        truth = float(np.average(cf["risk_pilot"] - cf["risk_no_pilot"], weights=ps * (1 - ps)))
        est = float(r.risk_differences.params[f"rd_{h}d"])
        lo, hi = pct.loc[f"rd_{h}d"]
        out.update({f"w{h}_est": est, f"w{h}_truth": truth, f"w{h}_cover": lo <= truth <= hi})
        out[f"w{h}_se"] = float(r.risk_differences.std_errors[f"rd_{h}d"])
    return out


def test_overlap_weighting_covers() -> None:
    from joblib import Parallel, delayed

    n = 60
    rows = Parallel(n_jobs=2)(delayed(_weighting_rep)(5000 + i) for i in range(n))
    df = pd.DataFrame(rows)
    print(f"\n{n} replicates, overlap weights, 100 LA-cluster bootstrap replicates each")
    for h in (182, 365, 730):
        s = _summary(df, f"w{h}", f"w{h}_truth")
        assert abs(s["bias"]) < 3 * s["mc_se_bias"] + 0.005
        assert 0.85 <= s["coverage"] <= 1.0


@pytest.mark.parametrize(("returns_per_year", "n_pilot"), [(1500, 15), (3000, 15), (1500, 75)])
def test_power_matches_closed_form(returns_per_year: int, n_pilot: int) -> None:
    d = PowerDesign(
        hazard_ratio=0.85,
        returns_per_year=returns_per_year,
        n_pilot=n_pilot,
        la_sd_log_hr=0.0,
        robust=False,
    )
    r = simulate_power(d, n_replicates=1000, seed=returns_per_year + n_pilot, n_jobs=2)
    mc = float(r.std_errors["power"])
    sim, sch, fre = (
        r.params["power"],
        r.fit_stats["schoenfeld_power"],
        r.fit_stats["freedman_power"],
    )
    print(
        f"\nreturns/yr {returns_per_year}, {n_pilot} of 150 LAs piloting: simulated power "
        f"{sim:.3f} (MC SE {mc:.3f}), Schoenfeld {sch:.3f}, Freedman {fre:.3f}, events "
        f"{r.fit_stats['mean_events']:.0f} (expected {r.fit_stats['expected_events']:.0f})"
    )
    assert abs(sim - fre) < 3 * mc
    # Schoenfeld's approximation is optimistic with unequal allocation (1 pilot : 9
    # comparison); with equal allocation the two closed forms coincide
    if n_pilot == 75:
        assert abs(sim - sch) < 3 * mc
    else:
        assert sch - 0.06 < sim < sch


@pytest.mark.parametrize("kind", ["comparison", "did"])
def test_power_simulation_type_one_error(kind: str) -> None:
    d = PowerDesign(hazard_ratio=1.0, design=kind)  # national size, LA frailty, clustered SEs
    r = simulate_power(d, n_replicates=1000, seed=7, n_jobs=2)
    mc = float(r.std_errors["power"])
    print(
        f"\n{kind}: rejection rate under HR 1 {r.params['power']:.3f} (MC SE {mc:.3f}); "
        f"mean SE {r.params['mean_std_error']:.4f} vs empirical SD "
        f"{r.fit_stats['empirical_sd_log_hr']:.4f}"
    )
    # cluster-robust errors with 15 of 150 authorities piloting reject slightly too often
    assert r.params["power"] < 0.05 + 4 * mc
    assert r.params["mean_std_error"] == pytest.approx(r.fit_stats["empirical_sd_log_hr"], rel=0.1)


def _event_rep(seed: int) -> dict[str, float]:
    from reunistat.models.evaluation import event_study, mark_adoption

    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    g = generate(cfg, seed=seed, scale=0.1, progress=False)
    tr, la = g.truth_returns, g.tables["la"]
    ok = event_study(tr, la, potential_followup_col=PF)
    post = [f"rel_year[{k}]" for k in range(5)]
    # inject a pre-existing trend: pilot authorities' re-entry falls by 3 points a year
    # before adoption (extra early re-entries the further back)
    m = mark_adoption(tr, la)
    rng = np.random.default_rng(seed)
    back = (-m["years_from_adoption"]).clip(0, 5).fillna(0).to_numpy()
    extra = (m["pilot_la"].to_numpy() == 1) & (rng.random(len(m)) < 0.03 * back)
    bad = tr.copy()
    bad.loc[extra, "reentered"] = 1
    bad.loc[extra, "days_followed"] = np.minimum(bad.loc[extra, "days_followed"], 30)
    viol = event_study(bad, la, potential_followup_col=PF)
    return {
        "pretrend_p": ok.fit_stats["pretrend_p"],
        "pretrend_p_wald": ok.fit_stats["pretrend_p_wald"],
        "post_mean": float(ok.params[post].mean()),
        "pretrend_p_violated": viol.fit_stats["pretrend_p"],
    }


def test_event_study_pretrend_check_size_and_power() -> None:
    from joblib import Parallel, delayed

    n = 60
    df = pd.DataFrame(Parallel(n_jobs=2)(delayed(_event_rep)(7000 + i) for i in range(n)))
    size = float((df["pretrend_p"] < 0.05).mean())
    size_wald = float((df["pretrend_p_wald"] < 0.05).mean())
    power = float((df["pretrend_p_violated"] < 0.05).mean())
    print(
        f"\nevent study over {n} replicates: wild-bootstrap pre-trend test rejects {size:.3f} "
        f"with parallel trends (nominal 0.05; asymptotic Wald {size_wald:.3f}), {power:.3f} "
        f"with an injected pre-trend; mean post-adoption coefficient "
        f"{df['post_mean'].mean():.4f}"
    )
    assert size <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n)
    assert power >= 0.5  # 0.65 measured for a 3-point-a-year pre-trend
