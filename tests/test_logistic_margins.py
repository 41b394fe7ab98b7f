"""Predicted probabilities, average marginal effects, observed vs predicted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from reunistat.models.logistic import (
    LogisticInputError,
    average_marginal_effects,
    logistic,
    observed_vs_predicted,
    predict_profiles,
)

REF = Path(__file__).parent / "reference" / "logistic"
FORMULA = "~ section20 + age_at_return_years + placement_moves + return_type"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(REF / "sample.csv")


@pytest.fixture(scope="module")
def fitted(sample):
    r = logistic(FORMULA, sample)
    d = r.extras["data"]
    X = pd.DataFrame(
        {
            "const": 1.0,
            "section20": d["section20"],
            "age": d["age_at_return_years"],
            "moves": d["placement_moves"],
            "planned": (d["return_type"] == "planned") * 1.0,
            "unplanned": (d["return_type"] == "unplanned") * 1.0,
        }
    )
    y = d[r.extras["outcome_col"]].to_numpy()
    return r, X, y


def test_ame_matches_statsmodels_margeff(fitted):
    r, X, y = fitted
    sm_fit = sm.Logit(y, X).fit(disp=0, tol=1e-12)
    me = sm_fit.get_margeff(at="overall", dummy=True).summary_frame()
    ame = average_marginal_effects(r).set_index("variable")
    pairs = {"section20": "section20", "age_at_return_years": "age", "placement_moves": "moves"}
    for ours, theirs in pairs.items():
        assert ame.loc[ours, "estimate"] == pytest.approx(me.loc[theirs, "dy/dx"], abs=1e-7)
        assert ame.loc[ours, "std_error"] == pytest.approx(me.loc[theirs, "Std. Err."], rel=1e-5)


def test_ame_categorical_is_counterfactual_contrast(fitted):
    r, X, _ = fitted
    ame = average_marginal_effects(r, ["return_type"])
    assert ame["contrast"].tolist() == ["planned - e13", "unplanned - e13"]
    beta = r.params.to_numpy()
    Xa = X.to_numpy().copy()
    Xa[:, 4:] = 0
    p0 = 1 / (1 + np.exp(-(Xa @ beta)))
    Xa[:, 4] = 1
    p1 = 1 / (1 + np.exp(-(Xa @ beta)))
    assert ame.loc[0, "estimate"] == pytest.approx((p1 - p0).mean(), abs=1e-12)
    assert (ame["conf_low"] < ame["estimate"]).all()


def test_ame_uses_the_cluster_robust_covariance(sample):
    a = average_marginal_effects(logistic(FORMULA, sample), ["section20"])
    b = average_marginal_effects(logistic(FORMULA, sample, cluster="LA"), ["section20"])
    assert a.loc[0, "estimate"] == pytest.approx(b.loc[0, "estimate"])
    assert a.loc[0, "std_error"] != pytest.approx(b.loc[0, "std_error"], rel=1e-3)


def test_ame_with_spline_and_interaction(sample):
    r = logistic("~ section20 * return_type + bs(age_at_return_years, df=4)", sample)
    ame = average_marginal_effects(r)
    assert set(ame["variable"]) == {"section20", "return_type", "age_at_return_years"}
    assert np.isfinite(ame[["estimate", "std_error"]].to_numpy()).all()
    with pytest.raises(LogisticInputError, match="not a covariate"):
        average_marginal_effects(r, ["sex"])


@pytest.mark.parametrize(
    "formula",
    [
        FORMULA,
        "~ C(age_band, contr.treatment('5-9')) + sex + np.log1p(period_length_days) + pilot",
        "~ section20 * return_type + bs(age_at_return_years, df=4)",
    ],
)
def test_ame_from_the_fitted_matrix_is_formulaics_to_the_bit(sample, formula):
    """The fit's own design (kept in extras) gives what formulaic's design of its rows gives."""
    r = logistic(formula, sample, cluster="LA")
    assert "design_matrix" in r.extras
    rebuilt = replace(r, extras={k: v for k, v in r.extras.items() if k != "design_matrix"})
    pd.testing.assert_frame_equal(
        average_marginal_effects(r), average_marginal_effects(rebuilt), check_exact=True
    )


def test_predicted_profiles_match_glm_prediction(fitted, sample):
    r, X, y = fitted
    prof = pd.DataFrame(
        {
            "section20": [0, 1],
            "age_at_return_years": [4.0, 14.0],
            "placement_moves": [0, 3],
            "return_type": ["planned", "unplanned"],
        }
    )
    out = predict_profiles(r, prof)
    glm = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    ex = pd.DataFrame(
        {"const": 1.0, "section20": [0, 1], "age": [4.0, 14.0], "moves": [0, 3],
         "planned": [1.0, 0.0], "unplanned": [0.0, 1.0]}
    )  # fmt: skip
    sf = glm.get_prediction(ex).summary_frame()
    np.testing.assert_allclose(out["probability"], sf["mean"], rtol=1e-7)
    np.testing.assert_allclose(out["std_error"], sf["mean_se"], rtol=1e-5)
    np.testing.assert_allclose(out["conf_low"], sf["mean_ci_lower"], rtol=1e-5)
    np.testing.assert_allclose(out["conf_high"], sf["mean_ci_upper"], rtol=1e-5)


def test_profiles_fill_unspecified_covariates(fitted):
    r, _, _ = fitted
    out = predict_profiles(r, pd.DataFrame({"section20": [0, 1]}))
    data = r.extras["data"]
    assert out["age_at_return_years"].iloc[0] == pytest.approx(data["age_at_return_years"].mean())
    assert out["return_type"].iloc[0] == data["return_type"].mode().iloc[0]
    assert out.loc[1, "probability"] > out.loc[0, "probability"]  # section 20 raises risk here


def test_observed_vs_predicted(fitted):
    r, _, y = fitted
    by_type = observed_vs_predicted(r, "return_type")
    # with the factor in the model, observed and predicted totals agree by level
    np.testing.assert_allclose(by_type["observed"], by_type["expected"], rtol=1e-8)
    assert by_type["n"].sum() == r.n_obs
    tenths = observed_vs_predicted(r)
    assert len(tenths) == 10 and tenths["observed"].sum() == y.sum()
    assert tenths["predicted_rate"].is_monotonic_increasing
    two = observed_vs_predicted(r, ["section20", "return_type"])
    assert len(two) == 6
    with pytest.raises(LogisticInputError, match="cannot group by"):
        observed_vs_predicted(r, "nope")
