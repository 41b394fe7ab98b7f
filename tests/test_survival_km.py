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
        ("n_event", "n_event"),
        ("n_censor", "n_censor"),
        ("surv", "surv"),
        ("std_err", "std_err"),
        ("conf_low", "lower"),
        ("conf_high", "upper"),
    ]:
        close(k[mine], r[theirs])
    np.testing.assert_allclose(k["cumulative_incidence"], 1 - k["surv"])


def test_km_by_group(spells, R):
    k = kaplan_meier(spells, "days_followed", "reentered", by="section20")
    r = R["km_by"]
    assert list(k["group"]) == r["strata"]
    close(k["surv"], r["surv"])
    close(k["conf_low"], r["lower"])
    close(k["conf_high"], r["upper"])


def test_aalen_johansen(spells, R):
    a = aalen_johansen(spells, "days_followed", "event_type")
    r = R["aj"]
    ps, se = np.array(r["pstate"], dtype=float), np.array(r["std_err"], dtype=float)
    lo, hi = np.array(r["lower"], dtype=object), np.array(r["upper"], dtype=object)
    close(a["time"], r["time"])
    close(a["surv"], ps[:, 0])
    close(a["surv_std_err"], se[:, 0])
    for c in (1, 2):
        close(a[f"cif_{c}"], ps[:, c])
        close(a[f"std_err_{c}"], se[:, c])
        m = ps[:, c] > 0
        close(a[f"conf_low_{c}"][m], lo[m, c])
        close(a[f"conf_high_{c}"][m], hi[m, c])


def test_log_rank(spells, R):
    lr = log_rank(spells, "days_followed", "reentered", "age_band")
    np.testing.assert_allclose(lr["statistic"].iloc[0], R["logrank"]["chisq"], rtol=TOL)
    assert lr["df"].iloc[0] == 4 and lr["observed"].sum() == spells.reentered.sum()
    lr = log_rank(spells, "days_followed", "reentered", "section20", strata="LA")
    np.testing.assert_allclose(lr["statistic"].iloc[0], R["logrank"]["strat_chisq"], rtol=TOL)


def test_horizon_table(spells):
    h = horizon_table(spells, "days_followed", "event_type", by="section20")
    assert list(h.columns) == [
        "group",
        "horizon",
        "n_risk",
        "cumulative_reentry",
        "conf_low",
        "conf_high",
    ]
    assert len(h) == 10
    assert (h.conf_low <= h.cumulative_reentry).all() and (
        h.cumulative_reentry <= h.conf_high
    ).all()
    # competing exits: Aalen-Johansen is below 1 - KM
    km = horizon_table(spells, "days_followed", "reentered", method="km")
    aj = horizon_table(spells, "days_followed", "event_type")
    assert (aj.cumulative_reentry <= km.cumulative_reentry + 1e-12).all()
    far = horizon_table(spells, "days_followed", "event_type", horizons=[99999])
    assert np.isnan(far.cumulative_reentry.iloc[0])


def test_errors(spells):
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier(spells.assign(days_followed=-1), "days_followed", "reentered")
    with pytest.raises(ValueError, match="values in"):
        kaplan_meier(spells, "days_followed", "event_type")
    with pytest.raises(ValueError, match="single level"):
        log_rank(spells.assign(g=1), "days_followed", "reentered", "g")
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier(spells, "days_followed", "reentered", conf_type="arcsin")
