"""Cox residuals, global tests and weighted predictions against R survival 3.8-11.

Reference values: ``tests/reference/survival/diagnostics.json``, made by
``diagnostics.R`` beside it (R's book5/book6 weighted data with its hand
calculations; rossi; synthetic spells with strata, weights and clusters; cgd
counting-process data with clusters).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import InputError
from reunistat.models.survival import cox, predict_cumulative_incidence
from reunistat.models.survival.plots import (
    cox_snell,
    cox_snell_plot,
    martingale_form,
    martingale_plot,
)
from reunistat.models.survival.residuals import RESIDUAL_TYPES, residuals

REF = Path(__file__).parent / "reference" / "survival"
BOOK = pd.DataFrame(
    {
        "time": [1, 1, 2, 2, 2, 2, 3, 4, 5],
        "status": [1, 0, 1, 1, 1, 0, 0, 1, 0],
        "x": [2, 0, 1, 1, 0, 1, 0, 1, 0],
        "wt": [1.0, 2, 3, 4, 3, 2, 1, 2, 1],
    }
)


@pytest.fixture(scope="module")
def diag():
    return json.loads((REF / "diagnostics.json").read_text())


def fits():
    rossi = pd.read_csv(REF / "rossi.csv")
    sp = pd.read_csv(REF / "synthetic_spells.csv").iloc[:600]
    cg = pd.read_csv(REF / "cgd.csv")
    sf = "~ section20 + disability + prior_periods"
    kw = {"strata": "LA", "weights": "weight", "cluster": "CHILD"}
    return {
        "rossi_efron": lambda: cox("~ fin + age + prio", rossi, "week", "arrest"),
        "rossi_breslow": lambda: cox("~ fin + age + prio", rossi, "week", "arrest", ties="breslow"),
        "spells_strata_w_cluster": lambda: cox(sf, sp, "days_followed", "reentered", **kw),
        "spells_strata_w_cluster_breslow": lambda: cox(
            sf, sp, "days_followed", "reentered", ties="breslow", **kw
        ),
        "cgd_cluster": lambda: cox(
            "~ treat + age + steroids", cg, "tstop", "status", entry_col="tstart", cluster="id"
        ),
        "cgd_pwp_breslow": lambda: cox(
            "~ treat + age + steroids",
            cg,
            "tstop",
            "status",
            entry_col="tstart",
            cluster="id",
            strata="enum",
            ties="breslow",
        ),
    }


@pytest.mark.parametrize("key", ["book5_breslow", "book6_efron"])
def test_weighted_prediction_se_matches_r_hand_calculation(diag, key):
    r = diag[key]
    res = cox("~ x", BOOK, "time", "status", weights="wt", ties=key.split("_")[1])
    np.testing.assert_allclose(res.params.iloc[0], r["coef"], rtol=1e-9)
    for p in r["predictions"]:
        pr = predict_cumulative_incidence(res, pd.DataFrame({"x": [p["newx"]]}), p["time"])
        np.testing.assert_allclose(pr["std_error"] ** 2, p["hand_varhaz"], rtol=1e-10)
        np.testing.assert_allclose(pr["std_error"], p["std_err"], rtol=1e-10)
        np.testing.assert_allclose(pr["cumulative_hazard"], p["hand_cumhaz"], rtol=1e-10)
        np.testing.assert_allclose(pr["surv"], p["surv"], rtol=1e-10)
    for kind in ("martingale", "score", "schoenfeld"):
        got = residuals(res, kind)
        got = got if kind == "martingale" else got["x"]
        np.testing.assert_allclose(got.to_numpy(), r[kind], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("key", list(fits()))
def test_residuals_match_r(diag, key):
    r = diag[key]
    res = fits()[key]()
    collapse = True if res.provenance.options["cluster"] else None
    for kind in RESIDUAL_TYPES:
        schoen = kind in ("schoenfeld", "scaledsch")
        got = residuals(res, kind, collapse=None if schoen else collapse)
        if schoen:
            np.testing.assert_array_equal(got["time"], r["schoenfeld_time"])
            got = got[list(res.params.index)]
        want = np.array(r[kind], dtype=float)
        g = got.to_numpy().reshape(want.shape)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(want))  # deviance of a sum: R NaN
        # rossi's age makes R stop its Newton steps earlier: 1e-6 relative there
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7 * np.nanmax(np.abs(want)))


@pytest.mark.parametrize("key", list(fits()))
def test_global_tests_match_r(diag, key):
    r = diag[key]
    g = fits()[key]().glance().iloc[0]
    np.testing.assert_allclose(g["score_statistic"], r["score_test"], rtol=1e-7)
    np.testing.assert_allclose(g["wald_statistic"], r["wald_test"], rtol=1e-6)
    np.testing.assert_allclose(g["lr_statistic"], 2 * np.diff(r["loglik"])[0], rtol=1e-7)
    if "rscore" in r:
        np.testing.assert_allclose(g["robust_score_statistic"], r["rscore"], rtol=1e-9)
    else:
        assert "robust_score_statistic" not in g.index
    assert 0 < g["wald_p_value"] < 1 and g["df"] == len(r["coef"])


def test_uncollapsed_score_residuals_on_counting_process_data(diag):
    res = fits()["cgd_cluster"]()
    got = residuals(res, "score").to_numpy()
    np.testing.assert_allclose(got, diag["cgd_cluster"]["uncollapsed_score"], atol=1e-12)
    # the weighted score residuals sum to the score (zero at the estimate)
    np.testing.assert_allclose(got.sum(axis=0), 0, atol=1e-7)


def test_residual_options_and_errors():
    res = cox("~ x", BOOK, "time", "status", weights="wt", ties="breslow")
    m = residuals(res, "martingale")
    np.testing.assert_allclose(residuals(res, "martingale", weighted=True), m * BOOK["wt"])
    by = residuals(res, "martingale", collapse=[0, 0, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_allclose(by, [m.iloc[:2].sum(), m.iloc[2:5].sum(), m.iloc[5:].sum()])
    dfb = residuals(res, "dfbeta")
    np.testing.assert_allclose(
        dfb["x"], residuals(res, "score")["x"] * res.cov.iloc[0, 0] * BOOK["wt"]
    )
    with pytest.raises(InputError, match="type must be one of"):
        residuals(res, "pearson")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="one label per row"):
        residuals(res, "score", collapse=[1, 2])
    with pytest.raises(InputError, match="cluster"):
        residuals(res, "score", collapse=True)
    with pytest.raises(InputError, match="do not collapse"):
        residuals(res, "schoenfeld", collapse=True)


def test_cox_snell_is_the_nelson_aalen_of_the_expected_events():
    res = cox("~ x", BOOK, "time", "status", ties="breslow")
    cs = cox_snell(res)
    r = BOOK["status"] - residuals(res, "martingale")  # the Cox-Snell residuals
    for _, row in cs.iterrows():
        at_risk = (r >= row["residual"] - 1e-12).sum()
        died = ((np.abs(r - row["residual"]) < 1e-12) & (BOOK["status"] == 1)).sum()
        assert row["n_risk"] == at_risk and row["n_events"] == died
    np.testing.assert_allclose(cs["cumulative_hazard"], np.cumsum(cs.n_events / cs.n_risk))


def test_cox_snell_follows_the_diagonal_when_the_model_is_right():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=n)
    t = rng.exponential(1 / np.exp(0.7 * x))
    c = rng.exponential(2.0, size=n)
    d = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x})
    cs = cox_snell(cox("~ x", d, "t", "e"))
    mid = cs[cs.residual < np.quantile(cs.residual, 0.9)]
    slope = np.polyfit(mid.residual, mid.cumulative_hazard, 1)[0]
    assert abs(slope - 1) < 0.05


def test_martingale_form_shows_a_missing_square():
    rng = np.random.default_rng(6)
    n = 3000
    x = rng.uniform(-2, 2, size=n)
    t = rng.exponential(1 / np.exp(0.8 * x**2))
    d = pd.DataFrame({"t": np.minimum(t, 1.5), "e": (t <= 1.5).astype(int), "x": x, "z": 1.0})
    d["z"] = rng.normal(size=n)
    fit = cox("~ z", d, "t", "e")
    mf = martingale_form(fit, "x", data=d)
    mid, edge = mf.smooth[mf.value.abs() < 0.3].mean(), mf.smooth[mf.value.abs() > 1.7].mean()
    assert edge > mid + 0.5  # a U shape: log hazard quadratic in x
    lin = martingale_form(fit, "z")
    assert np.ptp(lin.smooth) < 0.3  # z has no effect left
    with pytest.raises(InputError, match="pass data="):
        martingale_form(fit, "x")


def test_diagnostic_plots_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = cox("~ x", BOOK, "time", "status", weights="wt")
    for fig in (cox_snell_plot(res), martingale_plot(res, "x")):
        fig.savefig(tmp_path / "p.png")
        assert (tmp_path / "p.png").stat().st_size > 1000
        plt.close(fig)


def test_andersen_gill_residuals_collapse_by_child(diag):
    from reunistat.models.survival import andersen_gill

    cg = pd.read_csv(REF / "cgd.csv")
    ag = andersen_gill(
        "~ treat + age + steroids", cg, "tstop", "status", entry_col="tstart", cluster="id"
    )
    got = residuals(ag, "dfbeta", collapse=True)
    np.testing.assert_allclose(got.to_numpy(), diag["cgd_cluster"]["dfbeta"], atol=1e-12)
    # R's robust variance is D'D of the dfbeta residuals summed by child
    np.testing.assert_allclose(got.T @ got, ag.cov.to_numpy(), rtol=1e-10)


def test_robust_score_test_with_a_singular_cluster_matrix_is_nan():
    # one cluster, two covariates: the matrix of cluster scores at zero has rank one
    # (R's coxph stops with an error here)
    d = BOOK.assign(z=[0.5, 1, 3, 2, 1, 0, 2, 1, 4], g=1)
    g = cox("~ x + z", d, "time", "status", cluster="g").glance().iloc[0]
    assert np.isnan(g["robust_score_statistic"]) and np.isfinite(g["score_statistic"])


@pytest.mark.parametrize("key", ["rossi_efron", "cgd_pwp_breslow"])
def test_iteration_history_replays_the_fit(key):
    from reunistat.models.survival.coxtests import iteration_history

    res = fits()[key]()
    h = iteration_history(res)
    assert len(h) == res.fit_stats["iterations"] + 1 and h["iteration"].iloc[0] == 0
    np.testing.assert_allclose(h.iloc[0][list(res.params.index)], 0)
    np.testing.assert_allclose(h["loglik"].iloc[0], res.fit_stats["loglik_null"], rtol=1e-12)
    np.testing.assert_array_equal(h.iloc[-1][list(res.params.index)], res.params)
    assert h["loglik"].iloc[-1] == res.fit_stats["loglik"]
    assert (np.diff(h["loglik"]) > -1e-9).all() and h["max_abs_score"].iloc[-1] < 1e-6
