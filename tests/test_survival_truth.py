"""Truth recovery for the Cox engine: seeded simulations with known log hazard ratios.

Two sources of truth:

* our own simulation: clustered spells (several returns per child sharing a
  positive-stable frailty, so the *marginal* model is exactly Cox with log HRs
  ``alpha * beta``), whole-day times with many ties, independent censoring;
* the project's generator (``reunistat.synthetic``) through the cohort
  derivation, checked against ``truth.json`` (stratified by LA, so the
  LA frailty is absorbed and the conditional log HRs are the target).

``REUNISTAT_RECORD=1 pytest -m slow tests/test_survival_truth.py`` writes the
coverage figures to ``benchmarks/results/cox_coverage.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cox, fine_gray

RECORD = Path(__file__).parent.parent / "benchmarks" / "results" / "cox_coverage.json"
BETA = {"section20": 0.4, "prior_periods": 0.25, "x_cont": -0.3, "disability": 0.2}
ALPHA = 0.7  # positive-stable frailty index: marginal log HR = ALPHA * beta
FORMULA = "reentered ~ section20 + prior_periods + x_cont + disability"


def _record(key: str, value: dict) -> None:
    if os.environ.get("REUNISTAT_RECORD") != "1":
        return
    data = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    data[key] = value
    RECORD.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def positive_stable(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw Z with E exp(-sZ) = exp(-s**alpha) (Kanter's representation)."""
    u = rng.uniform(0, np.pi, size)
    e = rng.exponential(1.0, size)
    a = np.sin(alpha * u) / np.sin(u) ** (1 / alpha)
    return a * (np.sin((1 - alpha) * u) / e) ** ((1 - alpha) / alpha)


def simulate(n_child: int, rng: np.random.Generator) -> pd.DataFrame:
    """Clustered spells: 1-4 returns per child, ~50% censored, whole-day ties."""
    k = rng.integers(1, 5, n_child)
    child = np.repeat(np.arange(n_child), k)
    n = child.shape[0]
    z = positive_stable(ALPHA, n_child, rng)[child]
    section20 = (rng.random(n_child) < 0.45)[child].astype(int)  # child-level covariate
    prior = rng.poisson(0.8, n)
    x_cont = rng.normal(size=n)
    disability = (rng.random(n) < 0.2).astype(int)
    lp = (
        BETA["section20"] * section20
        + BETA["prior_periods"] * prior
        + BETA["x_cont"] * x_cont
        + BETA["disability"] * disability
    )
    # conditional cumulative hazard lambda * t: marginal S = exp(-(lambda t e^lp)^alpha)
    t_event = rng.exponential(1.0, n) / (0.004 * z * np.exp(lp))
    t_cens = rng.uniform(30, 900, n)
    days = np.ceil(np.minimum(t_event, t_cens))
    return pd.DataFrame(
        {
            "CHILD": child,
            "days_followed": days,
            "reentered": (t_event <= t_cens).astype(int),
            "section20": section20,
            "prior_periods": prior,
            "x_cont": x_cont,
            "disability": disability,
        }
    )


def _truth() -> pd.Series:
    return pd.Series({k: ALPHA * v for k, v in BETA.items()})


def test_recovers_marginal_truth_on_one_sample():
    df = simulate(8000, np.random.default_rng(7))
    t = cox(FORMULA, df, "days_followed", cluster="CHILD").tidy().set_index("term")
    z = (t["estimate"] - _truth()) / t["std_error"]
    assert (z.abs() < 4).all(), z


@pytest.mark.slow
def test_ci_coverage_over_repeats():
    """Cluster-robust 95% CIs cover the marginal truth close to 95% of the time."""
    rng = np.random.default_rng(20261122)
    n_rep = 400
    hits = {"cluster": [], "model": []}
    for _ in range(n_rep):
        df = simulate(800, rng)
        for kind, kw in (("cluster", {"cluster": "CHILD"}), ("model", {})):
            t = cox(FORMULA, df, "days_followed", concordance=False, **kw).tidy().set_index("term")
            hits[kind].append(((t.conf_low < _truth()) & (_truth() < t.conf_high)).to_numpy())
    cov = {k: np.asarray(v).mean(axis=0) for k, v in hits.items()}
    _record(
        "own_simulation_positive_stable_frailty",
        {
            "n_rep": n_rep,
            "n_children": 800,
            "spells_per_child": "1-4 (mean 2.5)",
            "alpha": ALPHA,
            "censoring": "uniform(30, 900) days, ~50%",
            "ties": "whole days",
            "coverage_cluster_robust": {
                "overall": float(cov["cluster"].mean()),
                "by_term": dict(zip(BETA, cov["cluster"].round(4).tolist(), strict=True)),
            },
            "coverage_model_based": {
                "overall": float(cov["model"].mean()),
                "by_term": dict(zip(BETA, cov["model"].round(4).tolist(), strict=True)),
            },
        },
    )
    assert 0.93 <= cov["cluster"].mean() <= 0.97, cov
    assert (cov["cluster"] >= 0.92).all(), cov
    # the child-level covariate needs the cluster correction
    assert cov["model"][0] < cov["cluster"][0]


@pytest.mark.slow
def test_fine_gray_coverage():
    """Fine-Gray CIs cover a known subdistribution truth (Fine & Gray 1999 design)."""
    rng = np.random.default_rng(99)
    b1 = np.array([0.5, -0.4])
    p = 0.4
    n_rep, n = 200, 600
    hits = []
    for _ in range(n_rep):
        x = np.column_stack([rng.binomial(1, 0.5, n), rng.normal(size=n)])
        eta = x @ b1
        # P(cause 1) = 1 - (1 - p)^exp(eta); cause-1 times from the subdistribution
        p1 = 1 - (1 - p) ** np.exp(eta)
        cause1 = rng.random(n) < p1
        u = rng.random(n)
        t1 = -np.log(1 - (1 - (1 - u * p1) ** np.exp(-eta)) / p)
        t2 = rng.exponential(1 / np.exp(x @ np.array([0.3, 0.2])), n)
        t = np.where(cause1, t1, t2)
        c = rng.uniform(0, 3, n)
        status = np.where(t <= c, np.where(cause1, 1, 2), 0)
        df = pd.DataFrame({"t": np.minimum(t, c), "s": status, "a": x[:, 0], "b": x[:, 1]})
        tt = fine_gray("~ a + b", df, "t", "s").tidy()
        hits.append(((tt.conf_low < b1) & (b1 < tt.conf_high)).to_numpy())
    cov = np.asarray(hits).mean(axis=0)
    _record("fine_gray_simulation", {"n_rep": n_rep, "n": n, "coverage_by_term": cov.tolist()})
    assert (np.abs(cov - 0.95) < 0.04).all(), cov


@pytest.mark.slow
def test_generator_truth_through_cohort():
    """Fit Cox on derive_cohort(generate(...)) and compare with truth.json."""
    from reunistat.cohort import derive_cohort
    from reunistat.synthetic import default_config, generate
    from reunistat.synthetic.truth_coding import TRUTH_RHS, code_for_truth, match_truth

    covered, z_all, terms = [], [], None
    n_rep = 8
    for seed in range(n_rep):
        d = generate(default_config(), seed=2000 + seed, scale=0.1)
        s = code_for_truth(derive_cohort(d.tables), d.truth)
        fit = cox(
            TRUTH_RHS,
            s,
            "days_followed",
            "reentered",
            strata="LA",
            cluster="CHILD",
            concordance=False,
        )
        t = match_truth(fit.tidy(), d.truth)
        terms = t["term"].tolist()
        covered.append(((t["conf_low"] < t["truth"]) & (t["truth"] < t["conf_high"])).to_numpy())
        z_all.append(((t["estimate"] - t["truth"]) / t["std_error"]).to_numpy())
    cov = float(np.mean(covered))
    z = np.asarray(z_all)
    _record(
        "generator_cox_truth",
        {
            "n_rep": n_rep,
            "scale": 0.1,
            "terms": len(terms or []),
            "model": "cox(strata=LA, cluster=CHILD) on derive_cohort(generate(default_config()))",
            "coverage_overall": cov,
            "mean_z_by_term": dict(zip(terms or [], z.mean(axis=0).round(2).tolist(), strict=True)),
        },
    )
    assert len(terms or []) == 23
    assert cov >= 0.88, cov
    assert np.abs(z.mean(axis=0)).max() < 2.0
