"""R parity: glm + sandwich::vcovCL, geepack::geeglm, frozen in tests/reference/logistic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.logistic import gee, logistic

REF = Path(__file__).parent / "reference" / "logistic"
F_MAIN = (
    "~ section20 + prior_periods + placement_moves + log_years_in_care + age_band"
    " + return_type + last_placement_type"
)
F_SPLINE = "~ section20 * return_type + bs(age_at_return_years, df=4) + np.log(period_length_days)"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(REF / "sample.csv")


@pytest.fixture(scope="module")
def rcoef() -> pd.DataFrame:
    return pd.read_csv(REF / "coefficients.csv")


@pytest.fixture(scope="module")
def rscal() -> pd.DataFrame:
    return pd.read_csv(REF / "scalars.csv").set_index(["model", "name"])["value"]


def _r_name(term: str) -> str:
    """Map a formulaic term name to R's (age_band[T.16+] -> age_band16+)."""
    return term.replace("[T.", "").replace("]", "").replace("Intercept", "(Intercept)")


def _ref(rcoef: pd.DataFrame, model: str) -> pd.DataFrame:
    return rcoef[rcoef["model"] == model].reset_index(drop=True)


CASES = [
    ("glm_main", F_MAIN, 365),
    ("glm_main_h180", F_MAIN, 180),
    ("glm_spline_interaction", F_SPLINE, 365),
]


@pytest.mark.parametrize(("model", "formula", "horizon"), CASES)
def test_glm_and_sandwich_match_r(sample, rcoef, rscal, model, formula, horizon):
    ref = _ref(rcoef, model)
    fits = {
        "se_model": logistic(formula, sample, horizon_days=horizon),
        "se_HC0": logistic(formula, sample, horizon_days=horizon, vcov="HC0"),
        "se_HC1": logistic(formula, sample, horizon_days=horizon, vcov="HC1"),
        "se_cluster_LA": logistic(formula, sample, horizon_days=horizon, cluster="LA"),
        "se_cluster_CHILD": logistic(formula, sample, horizon_days=horizon, cluster="CHILD"),
    }
    base = fits["se_model"]
    assert len(base.params) == len(ref)
    if model != "glm_spline_interaction":  # R names spline columns differently
        assert [_r_name(t) for t in base.params.index] == ref["term"].tolist()
    np.testing.assert_allclose(base.params.to_numpy(), ref["estimate"], rtol=0, atol=1e-6)
    for col, fit in fits.items():
        np.testing.assert_allclose(fit.params.to_numpy(), ref["estimate"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(fit.std_errors.to_numpy(), ref[col], rtol=1e-6, atol=0)
    stats = base.fit_stats
    for name in ("log_likelihood", "deviance", "null_deviance", "aic"):
        assert stats[name] == pytest.approx(rscal[(model, name)], rel=1e-9)
    assert base.n_obs == rscal[(model, "n_obs")]
    assert base.n_events == rscal[(model, "n_events")]
    assert stats["n_excluded_censored"] == rscal[(model, "n_excluded")]


def test_gee_matches_geepack(sample, rcoef, rscal):
    ref = _ref(rcoef, "gee")
    fit = gee(F_MAIN, sample, group="LA")
    # geeglm(corstr = "exchangeable") with the Pearson scale estimated (divisor n)
    assert [_r_name(t) for t in fit.params.index] == ref["term"].tolist()
    assert fit.fit_stats["working_correlation"] == pytest.approx(rscal[("gee", "alpha")], rel=1e-8)
    np.testing.assert_allclose(fit.params.to_numpy(), ref["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref["se_robust"], rtol=1e-8)


@pytest.mark.parametrize("n_agq", [1, 10])
def test_multilevel_matches_glmer(sample, rcoef, rscal, n_agq):
    """Random-intercept logistic vs lme4::glmer(nAGQ = 1 or 10), bobyqa.

    Both maximise the same Laplace / adaptive-quadrature likelihood; they differ
    by where each optimiser stops and by the numerical Hessian. Measured: with
    nAGQ = 10, estimates within 3e-6, sigma^2 within 1e-6 (relative), SEs within
    4e-6 (relative), log-likelihood within 1e-9; with the Laplace approximation
    glmer stops a little short (our log-likelihood is 2e-5 higher), giving
    estimates within 3e-5, sigma^2 within 5e-5 and SEs within 0.2%.
    """
    from reunistat.models.logistic import multilevel

    name = f"glmer_nagq{n_agq}"
    ref = _ref(rcoef, name)
    fit = multilevel(F_MAIN, sample, group="LA", n_agq=n_agq)
    tol = {1: (5e-5, 1e-4, 3e-3, 1e-7), 10: (5e-6, 5e-6, 2e-5, 1e-9)}[n_agq]
    np.testing.assert_allclose(fit.params.to_numpy(), ref["estimate"], rtol=0, atol=tol[0])
    assert fit.fit_stats["sigma2_la"] == pytest.approx(rscal[(name, "sigma2_la")], rel=tol[1])
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref["se_model"], rtol=tol[2])
    ll = fit.fit_stats["log_likelihood"]
    assert ll >= rscal[(name, "log_likelihood")] - 1e-6  # never a worse optimum than glmer's
    assert ll == pytest.approx(rscal[(name, "log_likelihood")], rel=tol[3])
    assert fit.fit_stats["mor"] == pytest.approx(rscal[(name, "mor")], rel=tol[1])


@pytest.mark.parametrize(
    ("cluster", "column"), [(("LA", "CHILD"), "se_nested"), (("LA", "age_band"), "se_crossed")]
)
def test_two_way_cluster_matches_vcovcl(cluster, column):
    """cluster=(a, b) is sandwich::vcovCL(fit, cluster = ~ a + b, multi0 = FALSE)."""
    d = pd.read_csv(REF / "sample.csv")
    r = pd.read_csv(REF / "twoway.csv")
    fit = logistic("~ section20 + prior_periods + placement_moves", d, cluster=cluster)
    np.testing.assert_allclose(fit.params, r["estimate"], rtol=1e-9)
    np.testing.assert_allclose(fit.std_errors, r[column], rtol=1e-9)
    assert fit.vcov_type == f"cluster({', '.join(cluster)})"


@pytest.mark.parametrize(
    ("options", "column"),
    [({}, "se_model"), ({"cluster": "LA"}, "se_cluster_LA"), ({"vcov": "HC1"}, "se_HC1")],
)
def test_case_weights_match_glm(options, column):
    """weights= is glm(weights = ); variances as vcov, vcovCL and vcovHC (agree to 5e-8)."""
    d = pd.read_csv(REF / "sample.csv").assign(w=lambda x: 0.5 + 0.5 * (x.prior_periods % 3))
    r = pd.read_csv(REF / "weighted.csv")
    fit = logistic("~ section20 + prior_periods + placement_moves", d, weights="w", **options)
    np.testing.assert_allclose(fit.params, r["estimate"], rtol=1e-9)
    np.testing.assert_allclose(fit.std_errors, r[column], rtol=1e-6)
    unweighted = logistic("~ section20 + prior_periods + placement_moves", d, **options)
    assert not np.allclose(unweighted.params, fit.params)
