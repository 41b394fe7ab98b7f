"""Case weights in the Cox model: a weighted fit equals the fit on replicated rows.

Property tests (hypothesis) over small data with tied times: every output of a
Breslow fit (coefficients, model and robust SEs, log-likelihoods and the global
tests, residuals of each type, predictions with their SEs) is the same whether a
row has integer weight k or appears k times. (Efron's correction treats k copies
of an event as k tied events, unlike one event of weight k, in R as here; so the
identity is Breslow's.)
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reunistat.errors import ReunistatError
from reunistat.models.survival import cox, predict_cumulative_incidence
from reunistat.models.survival.residuals import residuals


@st.composite
def weighted_data(draw):
    n = draw(st.integers(8, 24))
    ints = st.lists(st.integers(0, 4), min_size=n, max_size=n)
    return pd.DataFrame(
        {
            "time": np.array(draw(ints)) + 1.0,
            "event": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
            "x1": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
            "x2": np.array(draw(ints)) * 0.7,
            "w": draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)),
            "id": np.arange(n),
        }
    )


def _fit(d, **kw):
    return cox("~ x1 + x2", d, "time", "event", ties="breslow", concordance=False, **kw)


def _pair(d, **kw):
    try:
        a = _fit(d, weights="w", **kw)
        b = _fit(d.loc[d.index.repeat(d["w"])].reset_index(drop=True), **kw)
    except ReunistatError:
        assume(False)
    return a, b


def close(a, b, rtol=1e-7):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=1e-9)


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@SETTINGS
@given(weighted_data())
def test_weighted_equals_replicated_fit_and_tests(d):
    a, b = _pair(d, cluster="id")
    assume(np.all(np.abs(a.params) < 8))  # near-monotone likelihoods converge loosely
    # a robust variance of rounding noise (all score residuals 0) makes Wald noise / noise
    assume(np.all(a.std_errors > 1e-6))
    close(a.params, b.params)
    close(a.std_errors, b.std_errors)  # robust: clusters are the original rows
    ga, gb = a.glance().iloc[0], b.glance().iloc[0]
    for k in ("loglik", "loglik_null", "lr_statistic", "score_statistic", "wald_statistic"):
        close(ga[k], gb[k])
    close(ga["robust_score_statistic"], gb["robust_score_statistic"])
    info_a, info_b = a.extras["state"].fit.info, b.extras["state"].fit.info
    close(info_a, info_b)  # the model-based variance


@SETTINGS
@given(weighted_data())
def test_weighted_equals_replicated_residuals_and_predictions(d):
    a, b = _pair(d)
    assume(np.all(np.abs(a.params) < 8))
    ids = d["id"].repeat(d["w"]).to_numpy()
    first = np.unique(ids, return_index=True)[1]
    for kind in ("martingale", "deviance", "score"):  # per row, unweighted: each copy the same
        close(residuals(a, kind), residuals(b, kind).to_numpy()[first])
    for kind in ("martingale", "score", "dfbeta", "dfbetas"):  # weighted = summed over copies
        close(residuals(a, kind, weighted=True), residuals(b, kind, weighted=True, collapse=ids))
    sa, sb = residuals(a, "schoenfeld"), residuals(b, "schoenfeld")
    # each event row, once per copy, in the same order (R's: stratum, time, row)
    close(np.repeat(sa.to_numpy(), d["w"].to_numpy()[sa.index], axis=0), sb.to_numpy())
    prof = pd.DataFrame({"x1": [0, 1], "x2": [0.0, 1.4]})
    pa = predict_cumulative_incidence(a, prof, [1, 2, 3, 5])
    pb = predict_cumulative_incidence(b, prof, [1, 2, 3, 5])
    for c in ("cumulative_hazard", "std_error", "conf_low", "conf_high"):
        close(pa[c], pb[c])
