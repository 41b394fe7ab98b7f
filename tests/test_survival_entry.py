"""Delayed entry in Kaplan-Meier and Aalen-Johansen, and the weighted log-rank family.

R survival 3.8-11 references in ``tests/reference/survival/diagnostics_curves.json``
(made by ``diagnostics.R``): ``survfit(Surv(entry, stop, event))`` and multi-state
``survfit`` with delayed entry, weights and groups; ``survdiff(rho=)`` plain and
stratified. Tarone-Ware, Gehan and Fleming-Harrington with gamma > 0 (which R's
survdiff lacks) are checked against lifelines, a dependency.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import InputError
from reunistat.models.survival import aalen_johansen, horizon_table, kaplan_meier, log_rank

REF = Path(__file__).parent / "reference" / "survival"
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "diagnostics_curves.json").read_text())


@pytest.fixture(scope="module")
def spells():
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    late = np.maximum(np.minimum(sp.CHILD % 250, sp.days_followed - 1), 0)
    return sp.assign(entry=np.where(sp.CHILD % 3 == 0, late, 0))


@pytest.mark.parametrize("key", ["km_entry", "km_entry_by_w"])
def test_kaplan_meier_with_delayed_entry_matches_r(ref, spells, key):
    r = ref[key]
    kw = {"by": "section20", "weights": "weight"} if key.endswith("_w") else {}
    km = kaplan_meier(spells, "days_followed", "reentered", entry_col="entry", **kw)
    if r["strata"]:  # R's NULL is written as {}
        assert km["group"].tolist() == r["strata"]
    for ours, theirs in [
        ("time", "time"),
        ("n_risk", "n_risk"),
        ("n_events", "n_event"),
        ("surv", "surv"),
        ("std_error_log_surv", "std_err"),
        ("surv_conf_low", "lower"),
        ("surv_conf_high", "upper"),
    ]:
        np.testing.assert_allclose(km[ours], np.array(r[theirs], float), **TOL)


@pytest.mark.parametrize("key", ["aj_entry", "aj_entry_by_w"])
def test_aalen_johansen_with_delayed_entry_matches_r(ref, spells, key):
    r = ref[key]
    kw = {"by": "section20", "weights": "weight"} if key.endswith("_w") else {}
    aj = aalen_johansen(spells, "days_followed", "event_type", entry_col="entry", **kw)
    assert r["states"] == ["(s0)", "1", "2"]
    ps, se, lo = (np.array(r[k], float) for k in ("pstate", "std_err", "lower"))
    np.testing.assert_allclose(aj["time"], r["time"], **TOL)
    np.testing.assert_allclose(aj["n_risk"], r["n_risk"], **TOL)
    np.testing.assert_allclose(aj["surv"], ps[:, 0], **TOL)
    np.testing.assert_allclose(aj["surv_std_error"], se[:, 0], **TOL)
    for c in (1, 2):
        np.testing.assert_allclose(aj[f"cumulative_incidence_{c}"], ps[:, c], **TOL)
        np.testing.assert_allclose(aj[f"std_error_{c}"], se[:, c], **TOL)
        pos = aj[f"cumulative_incidence_{c}"].to_numpy() > 0  # R: 0, reunistat: NaN at 0
        np.testing.assert_allclose(aj[f"conf_low_{c}"][pos], lo[pos, c], **TOL)


def test_entry_at_zero_is_no_delayed_entry(spells):
    zero = spells.assign(entry=0)
    for f, ev in ((kaplan_meier, "reentered"), (aalen_johansen, "event_type")):
        a = f(zero, "days_followed", ev, entry_col="entry", by="LA")
        b = f(zero, "days_followed", ev, by="LA")
        pd.testing.assert_frame_equal(a, b)


def test_entry_must_precede_exit(spells):
    bad = spells.assign(entry=spells.days_followed)
    with pytest.raises(InputError, match="entry column 'entry' must be before"):
        kaplan_meier(bad, "days_followed", "reentered", entry_col="entry")
    with pytest.raises(InputError, match="must be before"):
        horizon_table(bad, "days_followed", "event_type", entry_col="entry")
    with pytest.raises(InputError, match="entry column 'entry' is missing, negative"):
        aalen_johansen(spells.assign(entry=-1.0), "days_followed", "event_type", entry_col="entry")
    with pytest.raises(InputError, match=r"entry_col: column\(s\) \['nope'\] not in the data"):
        kaplan_meier(spells, "days_followed", "reentered", entry_col="nope")


def test_horizon_table_takes_delayed_entry(spells):
    h = horizon_table(spells, "days_followed", "event_type", entry_col="entry")
    aj = aalen_johansen(spells, "days_followed", "event_type", entry_col="entry")
    i = np.searchsorted(aj.time, 365, "right") - 1
    assert h.loc[h.horizon_days == 365, "cumulative_incidence"].item() == pytest.approx(
        aj.cumulative_incidence_1.iloc[i]
    )


def test_survdiff_rho_plain_and_stratified_matches_r(ref, spells):
    calls = [
        ("age_band", None, 0),
        ("age_band", None, 1),
        ("age_band", None, 0.5),
        ("section20", "LA", 1),
        ("age_band", "LA", 2),
    ]
    for (by, strata, rho), r in zip(calls, ref["survdiff"], strict=True):
        assert r["rho"] == rho
        t = log_rank(spells, "days_followed", "reentered", by=by, strata=strata, rho=rho)
        np.testing.assert_allclose(t["statistic"].iloc[0], r["chisq"], rtol=1e-10)
        o = t["observed_weighted"] if rho else t["observed"]
        e = t["expected_weighted"] if rho else t["expected"]
        np.testing.assert_allclose(o, r["obs"], rtol=1e-10)
        np.testing.assert_allclose(e, r["exp"], rtol=1e-10)


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ({"weightings": "tarone-ware"}, {"weighting": "tarone-ware"}),
        ({"weightings": "wilcoxon"}, {"weighting": "gehan"}),
        ({"weightings": "fleming-harrington", "p": 0, "q": 1}, {"gamma": 1}),
        ({"weightings": "fleming-harrington", "p": 1.5, "q": 0.5}, {"rho": 1.5, "gamma": 0.5}),
    ],
)
def test_other_weights_match_lifelines(spells, theirs, ours):
    from lifelines.statistics import multivariate_logrank_test

    want = multivariate_logrank_test(
        spells.days_followed, spells.age_band, spells.reentered, **theirs
    ).test_statistic
    got = log_rank(spells, "days_followed", "reentered", by="age_band", **ours)
    np.testing.assert_allclose(got["statistic"].iloc[0], want, rtol=1e-10)


def test_log_rank_weighting_errors(spells):
    with pytest.raises(InputError, match="weighting must be one of"):
        log_rank(spells, "days_followed", "reentered", by="LA", weighting="peto")
    with pytest.raises(InputError, match=">= 0"):
        log_rank(spells, "days_followed", "reentered", by="LA", rho=-1)
    with pytest.raises(InputError, match="apply to weighting='fleming-harrington'"):
        log_rank(spells, "days_followed", "reentered", by="LA", weighting="gehan", rho=1)
