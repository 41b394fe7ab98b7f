"""Cross-validated prediction checks."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from reunistat.models.logistic import (
    LogisticInputError,
    calibration_intercept_slope,
    logistic,
    prediction_checks,
)
from reunistat.models.logistic.design import build_design
from reunistat.models.logistic.prediction import prediction_checks_by

matplotlib.use("Agg")
REF = Path(__file__).parent / "reference" / "logistic"
F = "~ section20 + prior_periods + placement_moves + log_years_in_care + age_band + return_type"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(REF / "sample.csv")


def test_calibration_of_in_sample_mle_is_perfect(sample):
    fit = logistic(F, sample)
    a, b = calibration_intercept_slope(
        fit.extras["data"]["reentry_365d"].to_numpy(), fit.extras["fitted"]
    )
    # the MLE with an intercept reproduces the mean, and logit(p) refits with slope 1
    assert a == pytest.approx(0, abs=1e-8)
    assert b == pytest.approx(1, abs=1e-8)


def test_calibration_detects_miscalibration():
    rng = np.random.default_rng(0)
    lp = rng.normal(-1, 1, 20_000)
    y = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    _, b = calibration_intercept_slope(y, 1 / (1 + np.exp(-2 * lp)))  # too extreme
    assert b == pytest.approx(0.5, abs=0.05)
    a, b = calibration_intercept_slope(y, 1 / (1 + np.exp(-(lp + 0.5))))  # too high
    assert a == pytest.approx(-0.5, abs=0.05)
    assert b == pytest.approx(1, abs=0.05)


def test_cross_validation_metrics(sample):
    chk = prediction_checks(F, sample, n_splits=5, seed=1)
    m = chk.metrics.set_index("fold")
    assert list(m.index) == ["1", "2", "3", "4", "5", "pooled"]
    assert m.loc["pooled", "n"] == m.drop("pooled")["n"].sum()
    assert 0.55 < m.loc["pooled", "auc"] < 0.72
    assert 0.15 < m.loc["pooled", "brier"] < 0.25
    assert abs(m.loc["pooled", "calibration_intercept"]) < 0.1
    assert 0.6 < m.loc["pooled", "calibration_slope"] < 1.2
    assert chk.predicted.notna().all()
    assert chk.calibration["n"].sum() == len(chk.predicted)
    again = prediction_checks(F, sample, n_splits=5, seed=1)
    pd.testing.assert_frame_equal(chk.metrics, again.metrics)
    assert "not for decisions about an individual child" in str(chk)


def test_calibration_is_made_when_read_from_the_checks_own_predictions(sample):
    """The calibration table, made on first read, is the table of the out-of-fold predictions
    (and outcome) the check made, even if its ``predicted`` series is changed first."""
    from reunistat.models.logistic.prediction import _calibration

    chk = prediction_checks(F, sample, seed=2, fold_metrics=False)
    assert "calibration" not in vars(chk)  # not made yet
    want = _calibration(chk.predicted.to_numpy().copy(), chk.binned[1], 10)
    chk.predicted.iloc[:] = 0.5
    pd.testing.assert_frame_equal(chk.calibration, want, check_exact=True)
    assert chk.calibration is chk.calibration  # made once


def test_pooled_only_metrics_are_the_pooled_row(sample):
    full = prediction_checks(F, sample, folds_by="LA", seed=3)
    pooled = prediction_checks(F, sample, folds_by="LA", seed=3, fold_metrics=False)
    assert list(pooled.metrics["fold"]) == ["pooled"]
    pd.testing.assert_frame_equal(
        pooled.metrics, full.metrics.iloc[[-1]].reset_index(drop=True), check_exact=True
    )
    pd.testing.assert_frame_equal(pooled.calibration, full.calibration, check_exact=True)
    pd.testing.assert_series_equal(pooled.predicted, full.predicted, check_exact=True)


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_a_fold_with_one_outcome_value_is_an_error(sample):
    one = sample.assign(reentered=0, days_followed=400)  # no re-entry: constant outcome
    one.loc[one.index[:3], "reentered"] = 1
    one.loc[one.index[:3], "days_followed"] = 10
    with pytest.raises(LogisticInputError, match="only one outcome value"):
        prediction_checks("~ log_years_in_care", one, n_splits=5, seed=1)


def test_group_folds_and_penalties(sample):
    by_la = prediction_checks(F, sample, group="LA", seed=2)
    assert by_la.predicted.notna().all()
    ridge = prediction_checks(F, sample, penalty="l2", C=0.001, seed=2)
    plain = prediction_checks(F, sample, seed=2)
    slope = {k: c.metrics.iloc[-1]["calibration_slope"] for k, c in (("r", ridge), ("p", plain))}
    assert slope["r"] > slope["p"]  # shrinkage flattens predictions, so the slope rises
    lasso = prediction_checks(F, sample, penalty="l1", C=0.01, seed=2)
    assert np.isfinite(lasso.metrics["auc"]).all()


def test_plot(sample):
    ax = prediction_checks(F, sample, n_bins=5).plot()
    assert len(ax.lines) == 2 and "AUC" in ax.get_title()


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"penalty": "ridge"}, "penalty must be"),
        ({"C": 0}, "C .* must be positive"),
        ({"n_splits": 1}, "n_splits"),
        ({"n_bins": 1}, "n_bins"),
        ({"group": "LA", "n_splits": 40}, "need 40"),
    ],
)
def test_option_errors(sample, kw, msg):
    with pytest.raises(LogisticInputError, match=msg):
        prediction_checks(F, sample, **kw)


@pytest.mark.parametrize("kind", ["text", "categorical", "integer", "float"])
def test_group_folds_from_sorted_codes_are_the_labels_folds(kind):
    from sklearn.model_selection import GroupKFold

    from reunistat.models._options import sorted_codes

    rng = np.random.default_rng(3)
    raw = rng.integers(0, 40, 3_000)
    labels = {
        "text": pd.Series([f"E{v * 7919 % 97:05d}" for v in raw]),
        # categories in an order that is not the values' sorted order
        "categorical": pd.Series(
            pd.Categorical([f"L{v}" for v in raw], categories=[f"L{v}" for v in range(40)][::-1])
        ),
        "integer": pd.Series(raw * -3),
        "float": pd.Series(raw / 7.0),
    }[kind]
    split = GroupKFold(n_splits=5, shuffle=True, random_state=11)
    x = np.zeros(len(labels))
    for (tr, te), (tr2, te2) in zip(
        split.split(x, groups=labels.to_numpy()),
        split.split(x, groups=sorted_codes(pd.Series(labels.to_numpy()))[0]),
        strict=True,
    ):
        assert np.array_equal(tr, tr2) and np.array_equal(te, te2)


@pytest.mark.parametrize("penalty", ["none", "l2", "l1"])
def test_standardised_fits_equal_the_scikit_learn_pipeline(sample, penalty):
    """The scaler by ``standardise`` gives the pipeline's predictions to the bit (a constant
    column and a near-constant one included)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from reunistat.models.logistic.prediction import _estimator, _fit_predict, standardise

    rng = np.random.default_rng(5)
    d = sample.dropna(subset=["section20", "prior_periods", "placement_moves"])
    n = len(d)
    X = np.column_stack(
        [
            d[["section20", "prior_periods", "placement_moves", "log_years_in_care"]],
            np.zeros(n),  # constant
            np.full(n, 3.0) + (np.arange(n) == 0) * 1e-13,  # nearly constant
            rng.normal(1e4, 1e-3, n),
        ]
    )
    y = d["reentered"].to_numpy()
    tr, te = np.arange(n) % 4 != 0, np.arange(n) % 4 == 0
    scaler = StandardScaler().fit(X[tr])
    mean, scale = standardise(X[tr])
    assert mean.tobytes() == scaler.mean_.tobytes() and scale.tobytes() == scaler.scale_.tobytes()
    assert ((X[te] - mean) / scale).tobytes() == scaler.transform(X[te]).tobytes()
    pipe = make_pipeline(StandardScaler(), _estimator(penalty, 0.5, 1)).fit(X[tr], y[tr])
    got = _fit_predict(penalty, 0.5, 1, X[tr], y[tr], X[te])
    assert got.tobytes() == pipe.predict_proba(X[te])[:, 1].tobytes()


def test_column_sums_are_numpys_to_the_bit():
    """``_column_sums`` adds rows in order, as ``np.sum(axis=0)``: values of mixed size
    (where the order shows), one to 64 columns, any layout."""
    from reunistat.models.logistic.prediction import _column_sums

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 17, 1000, 8193, 70_001):
        for p in (1, 2, 5, 21, 64):
            X = rng.standard_normal((n, p)) * 10.0 ** rng.integers(-9, 10, (n, p))
            for a in (X, np.asfortranarray(X), X[::2]):
                assert _column_sums(a).tobytes() == np.sum(a, axis=0).tobytes()


def test_standardise_transform_is_the_scalers_to_the_bit():
    """``standardise(X, transform=True)`` writes ``StandardScaler().fit_transform(X)`` over X,
    a column of -0.0 (its centre -0.0, the scaler's mean +0.0) and a constant one included."""
    from sklearn.preprocessing import StandardScaler

    from reunistat.models.logistic.prediction import standardise

    rng = np.random.default_rng(8)
    X = rng.normal(5.0, 3.0, (500, 4)) * [1.0, 1e-6, 1e6, 1.0]
    for extra in (np.full(500, -0.0), np.full(500, 2.5), np.zeros(500)):
        A = np.column_stack([X, extra])
        want = StandardScaler().fit_transform(A)
        got = A.copy()
        mean, scale = standardise(got, transform=True)
        assert got.tobytes() == want.tobytes()
        fitted = standardise(A)
        assert mean.tobytes() == fitted[0].tobytes() and scale.tobytes() == fitted[1].tobytes()


def _same_check(a, b) -> None:
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    pd.testing.assert_frame_equal(a.calibration, b.calibration, check_exact=True)
    pd.testing.assert_series_equal(a.predicted, b.predicted, check_exact=True)
    assert a.provenance == b.provenance


def test_checks_by_each_fold_assignment_from_one_design_are_each_check(sample):
    """One design for folds by outcome and by LA: the checks of a call for each, to the bit."""
    got = prediction_checks_by(F, sample, (None, "LA"), seed=4, fold_metrics=False)
    for check, by in zip(got, (None, "LA"), strict=True):
        _same_check(check, prediction_checks(F, sample, folds_by=by, seed=4, fold_metrics=False))
    # the design built with LA as an extra column (as a single check did): its hash and rows
    d = build_design(F, sample, extra_cols=("LA",), function="prediction_checks")
    assert got[1].provenance.data_sha256 == d.data_sha256(sample)
    assert got[1].predicted.index.equals(d.frame.index)
    assert got[0].provenance.data_sha256 != got[1].provenance.data_sha256  # LA read too


def test_checks_by_a_column_with_missing_values_leave_out_its_rows(sample):
    """A fold column missing on some rows: its check without them, the other with them."""
    gappy = sample.assign(LA=sample["LA"].where(sample.index % 7 != 0))
    by_outcome, by_la = prediction_checks_by(F, gappy, (None, "LA"), seed=5)
    _same_check(by_outcome, prediction_checks(F, gappy, seed=5))
    _same_check(by_la, prediction_checks(F, gappy, folds_by="LA", seed=5))
    assert len(by_la.predicted) < len(by_outcome.predicted)
    with pytest.raises(LogisticInputError, match="no column 'nope'"):
        prediction_checks_by(F, sample, (None, "nope"))
    for wrong in ({"folds_by": "LA"}, {"group": "LA"}, {"seeds": 1}):
        with pytest.raises(TypeError, match=r"unexpected keyword|multiple values"):
            prediction_checks_by(F, sample, (None,), **wrong)


def test_first_ranks_are_pandas_first_ranks():
    from reunistat.models.logistic.prediction import _first_ranks

    p = np.round(np.random.default_rng(2).random(5000), 2)  # many ties
    assert _first_ranks(p).tobytes() == pd.Series(p).rank(method="first").to_numpy().tobytes()
    p[::7] = np.nan
    assert np.array_equal(
        _first_ranks(p), pd.Series(p).rank(method="first").to_numpy(), equal_nan=True
    )
