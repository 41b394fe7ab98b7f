"""Kaplan-Meier, Aalen-Johansen, horizon tables and log-rank: parity with R survfit/survdiff."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import aalen_johansen, horizon_table, kaplan_meier, log_rank

REF = Path(__file__).parent / "reference" / "survival"
TOL = 1e-10


@pytest.fixture(scope="module")
def spells():
    return pd.read_csv(REF / "synthetic_spells.csv")


@pytest.fixture(scope="module")
def R():
    return json.loads((REF / "synthetic.json").read_text())


def close(a, b):
    a = np.asarray(a, dtype=float)
    b = np.array([np.nan if v == "NA" else v for v in b], dtype=float)
    np.testing.assert_allclose(a, b, rtol=TOL, equal_nan=True)


def test_km_overall(spells, R):
    k = kaplan_meier(spells, "days_followed", "reentered")
    r = R["km"]
    for mine, theirs in [
        ("time", "time"),
        ("n_risk", "n_risk"),
        ("n_events", "n_event"),
        ("n_censored", "n_censor"),
        ("surv", "surv"),
        ("std_error_log_surv", "std_err"),
        ("surv_conf_low", "lower"),
        ("surv_conf_high", "upper"),
    ]:
        close(k[mine], r[theirs])
    np.testing.assert_allclose(k["cumulative_incidence"], 1 - k["surv"])
    np.testing.assert_allclose(k["conf_low"], 1 - k["surv_conf_high"])
    np.testing.assert_allclose(k["std_error"], k["surv"] * k["std_error_log_surv"])


def test_km_by_group(spells, R):
    k = kaplan_meier(spells, "days_followed", "reentered", by="section20")
    r = R["km_by"]
    assert list(k["group"]) == r["strata"]
    close(k["surv"], r["surv"])
    close(k["surv_conf_low"], r["lower"])
    close(k["surv_conf_high"], r["upper"])


def test_aalen_johansen(spells, R):
    a = aalen_johansen(spells, "days_followed", "event_type")
    r = R["aj"]
    ps, se = np.array(r["pstate"], dtype=float), np.array(r["std_err"], dtype=float)
    lo, hi = np.array(r["lower"], dtype=object), np.array(r["upper"], dtype=object)
    close(a["time"], r["time"])
    close(a["surv"], ps[:, 0])
    close(a["surv_std_error"], se[:, 0])
    for c in (1, 2):
        close(a[f"cumulative_incidence_{c}"], ps[:, c])
        close(a[f"std_error_{c}"], se[:, c])
        m = ps[:, c] > 0
        close(a[f"conf_low_{c}"][m], lo[m, c])
        close(a[f"conf_high_{c}"][m], hi[m, c])


def test_log_rank(spells, R):
    lr = log_rank(spells, "days_followed", "reentered", "age_band")
    np.testing.assert_allclose(lr["statistic"].iloc[0], R["logrank"]["chisq"], rtol=TOL)
    assert lr["df"].iloc[0] == 4 and lr["observed"].sum() == spells.reentered.sum()
    lr = log_rank(spells, "days_followed", "reentered", by="section20", strata="LA")
    np.testing.assert_allclose(lr["statistic"].iloc[0], R["logrank"]["strat_chisq"], rtol=TOL)


def test_horizon_table(spells):
    h = horizon_table(spells, "days_followed", "event_type", by="section20")
    assert list(h.columns) == [
        "group",
        "horizon_days",
        "n_risk",
        "cumulative_incidence",
        "conf_low",
        "conf_high",
    ]
    assert len(h) == 10
    assert (h.conf_low <= h.cumulative_incidence).all() and (
        h.cumulative_incidence <= h.conf_high
    ).all()
    # competing exits: Aalen-Johansen is below 1 - KM
    km = horizon_table(spells, "days_followed", "reentered", method="km")
    aj = horizon_table(spells, "days_followed", "event_type")
    assert (aj.cumulative_incidence <= km.cumulative_incidence + 1e-12).all()
    far = horizon_table(spells, "days_followed", "event_type", horizons_days=[99999])
    assert np.isnan(far.cumulative_incidence.iloc[0])
    with pytest.warns(DeprecationWarning, match="horizons_days="):
        old = horizon_table(spells, "days_followed", "event_type", horizons=[99999])
    assert old.equals(far)


def test_errors(spells):
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier(spells.assign(days_followed=-1), "days_followed", "reentered")
    with pytest.raises(ValueError, match="values in"):
        kaplan_meier(spells, "days_followed", "event_type")
    with pytest.raises(ValueError, match="single level"):
        log_rank(spells.assign(g=1), "days_followed", "reentered", "g")
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier(spells, "days_followed", "reentered", conf_type="arcsin")
