"""The horizon outcome and clear messages for degenerate inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.logistic import (
    LogisticInputError,
    SeparationError,
    horizon_outcome,
    logistic,
)


def _spells(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 0.7 * x))))
    return pd.DataFrame(
        {
            "x": x,
            "g": rng.choice(["a", "b", "c"], n),
            "LA": rng.choice([f"E{i}" for i in range(10)], n),
            "reentered": y,
            "days_followed": np.where(y == 1, rng.integers(1, 366, n), 400),
            "censor_reason": np.where(y == 1, "reentry", "data_end"),
        }
    )


def test_outcome_rules_at_the_boundary():
    s = pd.DataFrame(
        {
            "days_followed": [0, 365, 365, 366, 364, 364, 500],
            "reentered": [1, 1, 0, 1, 0, 0, 0],
            "censor_reason": [
                "reentry",
                "reentry",
                "data_end",
                "reentry",
                "age18",
                "data_end",
                "x",
            ],
        }
    )
    out, c = horizon_outcome(s, 365)
    # day-0 and day-365 re-entries count; followed exactly 365 days is a negative;
    # re-entry on day 366 is a negative; censored on day 364 is excluded
    assert out["reentry_365d"].tolist() == [1, 1, 0, 0, 0]
    assert (c.n_used, c.n_events, c.n_excluded_censored) == (5, 2, 2)
    out2, c2 = horizon_outcome(s, 365, competing="negative")
    assert c2.n_competing_negative == 1 and c2.n_used == 6
    assert out2.loc[4, "reentry_365d"] == 0


def test_outcome_any_horizon_and_counts_in_fit():
    s = _spells()
    s.loc[:49, "days_followed"] = 30
    s.loc[:49, "reentered"] = 0
    fit = logistic("~ x", s, horizon_days=90)
    assert fit.fit_stats["n_excluded_censored"] == 50
    fit = logistic("~ x", s, horizon_days=20)  # the 50 were followed past day 20
    assert fit.extras["outcome"].horizon_days == 20
    assert fit.fit_stats["n_excluded_censored"] == 0
    fit = logistic("~ x", s, horizon_days=365)
    assert fit.fit_stats["n_excluded_censored"] == 50
    assert fit.n_obs == len(s) - 50


def test_horizon_longer_than_any_follow_up():
    s = _spells()
    with pytest.raises(LogisticInputError, match="longer than any follow-up"):
        logistic("~ x", s, horizon_days=401)


@pytest.mark.parametrize("bad", [0, -5, 36.5, "365", True])
def test_bad_horizon(bad):
    with pytest.raises(LogisticInputError, match="horizon_days"):
        horizon_outcome(_spells(), bad)


def test_missing_columns_and_bad_values():
    s = _spells().drop(columns="days_followed")
    with pytest.raises(LogisticInputError, match="no column 'days_followed'"):
        logistic("~ x", s)
    s = _spells()
    s.loc[3, "reentered"] = 2
    with pytest.raises(LogisticInputError, match="invalid"):
        logistic("~ x", s)
    with pytest.raises(LogisticInputError, match="outcome column 'nope'"):
        logistic("nope ~ x", _spells())


def test_constant_covariate():
    s = _spells()
    s["k"] = 3.0
    with pytest.raises(LogisticInputError, match="'k' is constant"):
        logistic("~ x + k", s)


def test_empty_cell_in_interaction():
    s = _spells()
    s["h"] = np.where(s["g"] == "a", "p", "q")  # h = p only when g = a: empty cells
    with pytest.raises(LogisticInputError, match="empty cells in the interaction g:h: no spells"):
        logistic("~ g * h", s)


def test_empty_cell_unused_category_level():
    s = _spells()
    s["g"] = pd.Categorical(s["g"], categories=["a", "b", "c", "d"])
    with pytest.raises(LogisticInputError, match=r"empty cell: no spells have 'g\[T.d\]'"):
        logistic("~ g", s)


def test_quasi_separation_by_a_level():
    s = _spells()
    s.loc[s["g"] == "c", "reentered"] = 0
    with pytest.raises(SeparationError, match=r"all .* spells with 'g\[T.c\]' did not re-enter"):
        logistic("~ x + g", s)


def test_complete_separation_by_a_continuous_covariate():
    s = _spells()
    s["reentered"] = (s["x"] > 0).astype(int)
    s["days_followed"] = np.where(s["reentered"] == 1, 10, 400)
    with pytest.raises(SeparationError, match=r"separation.*x"):
        logistic("~ x", s)


def test_outcome_constant():
    s = _spells()
    s["reentered"] = 0
    s["days_followed"] = 400
    with pytest.raises(LogisticInputError, match=r"did not re-enter.*nothing to model"):
        logistic("~ x", s)


def test_collinear_terms():
    s = _spells()
    s["x2"] = 2 * s["x"] + 1
    with pytest.raises(LogisticInputError, match=r"collinear: .*x.*x2"):
        logistic("~ x + x2", s)


def test_bad_options():
    s = _spells()
    with pytest.raises(LogisticInputError, match="vcov must be one of"):
        logistic("~ x", s, vcov="HC3")  # type: ignore[arg-type]
    with pytest.raises(LogisticInputError, match="needs cluster="):
        logistic("~ x", s, vcov="cluster")
    with pytest.raises(LogisticInputError, match="no column 'LAX'"):
        logistic("~ x", s, cluster="LAX")
    with pytest.raises(LogisticInputError, match="competing"):
        logistic("~ x", s, competing="drop")  # type: ignore[arg-type]
    with pytest.raises(LogisticInputError, match="formula"):
        logistic("~ x ~ y", s)
    with pytest.raises(LogisticInputError, match="cannot build the model"):
        logistic("~ not_a_column", s)


def test_result_object_and_missing_rows():
    s = _spells()
    s.loc[:9, "x"] = np.nan
    fit = logistic("~ x + g", s, cluster="LA")
    assert fit.extras["n_dropped_missing"] == 10
    t = fit.tidy(exponentiate=True)
    assert list(t.columns) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert (t["conf_low"] < t["estimate"]).all() and (t["estimate"] < t["conf_high"]).all()
    g = fit.glance()
    assert g.loc[0, "n_obs"] == len(s) - 10 and g.loc[0, "vcov_type"] == "cluster(LA)"
    text = str(fit)
    assert "OR" in text and "cluster(LA)" in text
    assert fit.provenance.as_dict()["options"]["horizon_days"] == 365


def test_gee_raises_on_non_convergence_and_silences_nothing(monkeypatch):
    """gee used to silence every warning and never check convergence."""
    import warnings as w

    from statsmodels.genmod.generalized_estimating_equations import GEE

    from reunistat.errors import ConvergenceError
    from reunistat.models.logistic import gee

    s = _spells()
    fit = GEE.fit

    def one_step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["maxiter"] = 2
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(GEE, "fit", one_step)
    with pytest.raises(ConvergenceError, match="did not converge"):
        gee("~ x + g", s, cluster="LA")

    def noisy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        w.warn("something statsmodels says", RuntimeWarning, stacklevel=1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(GEE, "fit", noisy)
    with pytest.warns(RuntimeWarning, match="statsmodels says"):
        r = gee("~ x + g", s, cluster="LA")
    assert r.fit_stats["iterations"] >= 1


def test_dead_design_for_is_gone():
    from reunistat.models.logistic import design

    assert not hasattr(design, "design_for")
