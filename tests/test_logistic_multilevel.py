"""Random-intercept logistic model: messages, outputs, and truth recovery."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reunistat.models.logistic import LogisticInputError, multilevel

REF = Path(__file__).parent / "reference" / "logistic"
_spec = importlib.util.spec_from_file_location("make_sample", REF / "make_sample.py")
assert _spec is not None and _spec.loader is not None
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


def test_options_are_checked():
    df = sim.simulate_spells(300, seed=3, n_la=5)
    with pytest.raises(LogisticInputError, match="n_agq"):
        multilevel("~ section20", df, n_agq=0)
    with pytest.raises(LogisticInputError, match="at least 3 groups"):
        multilevel("~ section20", df.assign(LA=np.where(df["LA"] < "E0902", "A", "B")))


def test_outputs_and_median_odds_ratio():
    df = sim.simulate_spells(1500, seed=4, n_la=20, clustering="random_intercept", sigma_la=0.6)
    fit = multilevel("~ section20 + prior_periods", df)
    s2 = fit.fit_stats["sigma2_la"]
    assert fit.fit_stats["mor"] == pytest.approx(np.exp(np.sqrt(2 * s2) * stats.norm.ppf(0.75)))
    vc = fit.extras["variance_components"].set_index("quantity")
    assert vc.loc["median_odds_ratio", "conf_low"] < fit.fit_stats["mor"]
    assert fit.extras["random_effects"].shape == (20,)
    assert "(1 | LA)" in str(fit.provenance.formula)
    assert fit.tidy(exponentiate=True)["term"].tolist() == [
        "Intercept",
        "section20",
        "prior_periods",
    ]


def test_no_between_authority_variation_goes_to_the_boundary():
    df = sim.simulate_spells(1500, seed=5, n_la=15, clustering="marginal", rho=0.0)
    fit = multilevel("~ section20", df)
    assert fit.fit_stats["sigma2_la"] < 0.02
    assert fit.fit_stats["mor"] < 1.15


@pytest.mark.slow
def test_multilevel_recovers_truth_at_scale():
    """Conditional log-odds and the between-LA variance on 60,000 spells in 150 LAs."""
    df = sim.simulate_spells(60_000, seed=11, n_la=150, clustering="random_intercept", sigma_la=0.5)
    fit = multilevel(sim.TRUTH_FORMULA, df, n_agq=1)
    t = fit.tidy()
    t["term"] = (
        t["term"]
        .str.replace("C(return_type, contr.treatment('e13'))", "return_type")
        .replace("childrens_home", "last_placement_type[T.childrens_home]")
    )
    t["truth"] = t["term"].map(pd.Series(sim.TRUE_LOGIT))
    t = t.dropna(subset=["truth"])
    z = (t["estimate"] - t["truth"]) / t["std_error"]
    assert len(t) == 11
    assert (z.abs() < 3.5).all(), t.assign(z=z)
    assert fit.fit_stats["sigma2_la"] == pytest.approx(0.25, rel=0.35)
    assert 1.4 < fit.fit_stats["mor"] < 2.0  # truth exp(sqrt(0.5) * 0.674) = 1.61


#: A point of the small problems' parameters (7 fixed effects and log sigma).
THETA = np.array([-1.0, 0.3, 0.2, 0.1, -0.2, 0.3, 0.1, np.log(0.6)])


def _problems(seed: int, n_agq: int, copies: int = 1) -> list:
    """``copies`` marginal likelihoods of one simulated data set, each in its fresh state."""
    from reunistat.models.logistic.design import build_design
    from reunistat.models.logistic.multilevel import _Problem
    from reunistat.models.logistic.vcov import cluster_codes

    df = sim.simulate_spells(800, seed=seed, n_la=12, clustering="random_intercept")
    d = build_design("~ section20 + prior_periods + age_band", df)
    codes, g = cluster_codes(d.frame["LA"])
    nodes, w = np.polynomial.hermite.hermgauss(n_agq)
    return [_Problem(d.X, d.y, codes, g, nodes, np.log(w), np.zeros(g)) for _ in range(copies)]


@pytest.mark.parametrize("n_agq", [1, 5])
def test_exact_gradient_matches_finite_differences(n_agq):
    (prob,) = _problems(8, n_agq)
    theta = THETA
    _, grad = prob.value_and_grad(theta)
    h = 1e-6
    num = [
        (prob.loglik(theta + h * e) - prob.loglik(theta - h * e)) / (2 * h)
        for e in np.eye(len(theta))
    ]
    np.testing.assert_allclose(grad, num, atol=2e-6)


@pytest.mark.parametrize("n_agq", [1, 3])
def test_gradient_without_the_value_is_the_same_gradient(n_agq):
    """``value=False`` (the Hessian's and Newton's evaluations) gives the gradient to the bit."""
    both, only = _problems(9, n_agq, copies=2)
    for step in range(4):  # a chain: each evaluation starts from the last one's modes
        t = THETA + 0.05 * step
        ll, grad = both.value_and_grad(t)
        nan, grad_only = only.value_and_grad(t, value=False)
        assert np.isfinite(ll) and (np.isnan(nan) or nan == ll)
        assert grad.tobytes() == grad_only.tobytes()
        assert both.modes.tobytes() == only.modes.tobytes()


def test_finite_node_bounds():
    from reunistat.models.logistic.multilevel import _finite_node

    ok = np.zeros(3)
    assert _finite_node(np.array([-40.0, 3.0, 800.0]), ok, ok)
    assert not _finite_node(np.full(20, 1e299), ok, ok)  # a group's sum could overflow
    assert not _finite_node(np.zeros(4), np.array([1e200]), ok)
    assert not _finite_node(np.zeros(4), ok, np.array([np.inf]))
