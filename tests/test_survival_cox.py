"""Cox model: R parity (survival::coxph) on rossi, cgd and synthetic spells; degenerate input."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cox
from reunistat.models.survival.cox import baseline_hazard, predict_cumulative_incidence

REF = Path(__file__).parent / "reference" / "survival"
RTOL = 1e-6
SPELLS_F = "reentered ~ age_band + sex + section20 + disability + prior_periods + placement_moves"
CGD_F = (
    "status ~ treat + female + age + inherit_auto + steroids + propylac + hos_usother"
    " + hos_euams + hos_euother"
)


def ref(name):
    return json.loads((REF / f"{name}.json").read_text())


def rterm(name):
    return name.replace("[T.", "").replace("]", "")


def check(res, r, robust=False):
    assert [rterm(t) for t in res.params.index] == r["term"]
    np.testing.assert_allclose(res.params.to_numpy(), r["coef"], rtol=RTOL)
    se = r["robust_se"] if robust else r["se"]
    np.testing.assert_allclose(res.std_errors.to_numpy(), se, rtol=RTOL)
    np.testing.assert_allclose(res.fit_stats["loglik"], r["loglik"][1], rtol=RTOL)
    np.testing.assert_allclose(res.fit_stats["loglik_null"], r["loglik"][0], rtol=RTOL)
    np.testing.assert_allclose(res.fit_stats["concordance"], r["concordance"], rtol=RTOL)
    assert res.n_events == r["nevent"] and res.n_obs == r["n"]


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(REF / "rossi.csv")


@pytest.fixture(scope="module")
def spells():
    return pd.read_csv(REF / "synthetic_spells.csv")


@pytest.fixture(scope="module")
def cgd():
    return pd.read_csv(REF / "cgd.csv")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_rossi(rossi, ties):
    res = cox("arrest ~ fin + age + race + wexp + mar + paro + prio", rossi, "week", ties=ties)
    check(res, ref("rossi")[ties])


def test_rossi_robust(rossi):
    res = cox("arrest ~ fin + age + race + wexp + mar + paro + prio", rossi, "week", robust=True)
    check(res, ref("rossi")["efron_robust"], robust=True)
    assert res.vcov_type == "robust"


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cgd_andersen_gill(cgd, ties):
    res = cox(CGD_F, cgd, "tstop", entry_col="tstart", cluster="id", ties=ties)
    check(res, ref("cgd")[f"ag_{ties}"], robust=True)
    assert res.vcov_type == "cluster(id)"
    naive = cox(CGD_F, cgd, "tstop", entry_col="tstart", cluster="id", ties=ties, robust=False)
    check(naive, ref("cgd")[f"ag_{ties}"], robust=False)


@pytest.mark.parametrize(
    "key,kw",
    [
        ("efron", {}),
        ("breslow", {"ties": "breslow"}),
        ("strata_efron", {"strata": "LA"}),
        ("strata_w_cluster", {"strata": "LA", "weights": "weight", "cluster": "CHILD"}),
        ("breslow_w_cluster", {"ties": "breslow", "weights": "weight", "cluster": "CHILD"}),
    ],
)
def test_synthetic_spells(spells, key, kw):
    r = ref("synthetic")[key]
    res = cox(SPELLS_F, spells, "days_followed", **kw)
    check(res, r, robust="robust_se" in r)
    if "robust_se" in r:  # the model-based SEs of the same fit
        check(cox(SPELLS_F, spells, "days_followed", robust=False, **kw), r, robust=False)


def test_result_objects(rossi):
    res = cox("arrest ~ fin + prio", rossi, "week")
    t = res.tidy(exponentiate=True)
    assert list(t.columns) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    g = res.glance().iloc[0]
    assert g["n_obs"] == 432 and g["n_events"] == 114 and "aic" in g and "concordance" in g
    assert "HR" in str(res) and res.provenance.formula == "arrest ~ fin + prio"
    assert res.provenance.options["ties"] == "efron"


def test_baseline_and_prediction(rossi):
    res = cox("arrest ~ fin + prio", rossi, "week")
    base = baseline_hazard(res)
    assert (np.diff(base["cumhaz"]) >= 0).all()
    prof = pd.DataFrame({"fin": [0, 1], "prio": [2, 2]})
    pr = predict_cumulative_incidence(res, prof, [10, 52])
    ci = pr.pivot(index="profile", columns="time", values="cumulative_incidence")
    assert (ci[52] > ci[10]).all() and ci.loc[1, 52] < ci.loc[0, 52]  # fin lowers re-arrest


def test_degenerate_inputs(rossi):
    f = "arrest ~ fin + prio"
    d = rossi.copy()
    d["arrest"] = 0
    with pytest.raises(ValueError, match="no events"):
        cox(f, d, "week")
    d = rossi.copy()
    d.loc[3, "week"] = -1
    with pytest.raises(ValueError, match="negative"):
        cox(f, d, "week")
    d = rossi.copy()
    d.loc[3, "week"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        cox(f, d, "week")
    d = rossi.assign(one=1)
    with pytest.raises(ValueError, match="constant"):
        cox("arrest ~ fin + one", d, "week")
    d = rossi.assign(prio2=rossi.prio * 2 + rossi.fin)
    with pytest.raises(ValueError, match="collinear"):
        cox("arrest ~ fin + prio + prio2", d, "week")
    d = rossi.assign(grp=(rossi.arrest == 0) & (rossi.index % 3 == 0))
    d["grp"] = d["grp"].astype(int)
    with pytest.raises(ValueError, match="monotone"):
        cox("arrest ~ fin + grp", d, "week")
    with pytest.raises(ValueError, match="ties must be one of"):
        cox(f, rossi, "week", ties="exact")
    with pytest.raises(ValueError, match="not in the data"):
        cox(f, rossi, "weeks")
    with pytest.raises(ValueError, match="start >= stop"):
        cox(f, rossi.assign(s=rossi.week), "week", entry_col="s")


@pytest.mark.parametrize("key,ties", [("predict", "efron"), ("predict_breslow", "breslow")])
def test_prediction_matches_survfit(rossi, key, ties):
    r = ref("rossi")[key]
    res = cox("arrest ~ fin + prio", rossi, "week", ties=ties)
    prof = pd.DataFrame({"fin": [0, 1], "prio": [2, 2]})
    pr = predict_cumulative_incidence(res, prof, r["time"])
    surv = np.asarray(r["surv"])
    se = np.asarray(r["std_err"])
    for i in (0, 1):
        p = pr[pr.profile == i]
        np.testing.assert_allclose(p["surv"], surv[:, i], rtol=1e-7)
        np.testing.assert_allclose(p["std_error"], se[:, i], rtol=1e-6)
        if key == "predict":
            lo, hi = np.asarray(r["lower"])[:, i], np.asarray(r["upper"])[:, i]
            np.testing.assert_allclose(1 - p["conf_high"], lo, rtol=1e-6)
            np.testing.assert_allclose(1 - p["conf_low"], hi, rtol=1e-6)


def test_prediction_needs_stratum(spells):
    res = cox(SPELLS_F, spells, "days_followed", strata="LA")
    prof = spells.head(2)
    with pytest.raises(ValueError, match="name a stratum"):
        predict_cumulative_incidence(res, prof, [365])
    out = predict_cumulative_incidence(res, prof, [365], stratum="LA=E801")
    assert out["cumulative_incidence"].between(0, 1).all()


def test_monotone_likelihood_on_a_continuous_covariate():
    rng = np.random.default_rng(0)
    t = rng.permutation(200).astype(float) + 1
    d = pd.DataFrame(
        {"t": t, "e": 1, "x": -t + rng.normal(0, 0.01, 200), "z": rng.normal(size=200)}
    )
    with pytest.raises(ValueError, match="monotone likelihood"):
        cox("e ~ x + z", d, "t")


def test_two_way_cluster_is_inclusion_exclusion():
    """cluster=(a, b): V(a) + V(b) - V(a and b) (Cameron, Gelbach and Miller); nested = outer."""
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    f, d, e = "~ section20 + prior_periods", "days_followed", "reentered"
    v = {c: cox(f, sp, d, e, cluster=c).cov.to_numpy() for c in ("CHILD", "LA")}
    both = cox(f, sp, d, e, cluster=("CHILD", "LA"))
    inter = cox(f, sp.assign(cl=sp.CHILD.astype(str) + sp.LA), d, e, cluster="cl").cov
    np.testing.assert_allclose(both.cov, v["CHILD"] + v["LA"] - inter.to_numpy(), rtol=1e-10)
    assert both.vcov_type == "cluster(CHILD, LA)"
    # authorities nested in regions: the two-way variance is the region's
    nested = sp.assign(region=np.where(sp.LA < "E804", "north", "south"))
    r = cox(f, nested, d, e, cluster=("region", "LA")).cov.to_numpy()
    np.testing.assert_allclose(r, cox(f, nested, d, e, cluster="region").cov, rtol=1e-10)
