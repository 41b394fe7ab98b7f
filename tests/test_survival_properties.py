"""Invariances the Cox engine must respect (fast, seeded)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cox

REF = Path(__file__).parent / "reference" / "survival"
F = "reentered ~ section20 + prior_periods + placement_moves + disability"


@pytest.fixture(scope="module")
def spells():
    return pd.read_csv(REF / "synthetic_spells.csv")


def fit(d, **kw):
    return cox(F, d, "days_followed", concordance=False, **kw)


def test_row_order_does_not_matter(spells):
    a = fit(spells, strata="LA", cluster="CHILD", weights="weight")
    shuffled = spells.sample(frac=1, random_state=3)
    b = fit(shuffled, strata="LA", cluster="CHILD", weights="weight")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-9)


def test_only_the_order_of_times_matters(spells):
    a = fit(spells, ties="efron")
    b = fit(spells.assign(days_followed=np.log1p(spells.days_followed) + 5), ties="efron")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10)
    np.testing.assert_allclose(a.fit_stats["loglik"], b.fit_stats["loglik"], rtol=1e-12)


def test_integer_weights_equal_duplicated_rows_with_breslow(spells):
    w = (spells.index % 3 + 1).to_numpy()
    weighted = fit(spells.assign(w=w), weights="w", ties="breslow")
    dup = spells.loc[spells.index.repeat(w)]
    expanded = fit(dup, ties="breslow")
    np.testing.assert_allclose(weighted.params, expanded.params, rtol=1e-9)
    np.testing.assert_allclose(weighted.std_errors, expanded.std_errors, rtol=1e-9)


def test_rescaling_a_covariate_rescales_its_coefficient(spells):
    a = fit(spells)
    b = fit(spells.assign(prior_periods=spells.prior_periods * 10))
    np.testing.assert_allclose(b.params["prior_periods"] * 10, a.params["prior_periods"])
    np.testing.assert_allclose(b.params["section20"], a.params["section20"], rtol=1e-9)


def test_cluster_of_singletons_is_robust(spells):
    a = fit(spells.assign(row=np.arange(len(spells))), cluster="row")
    b = fit(spells, robust=True)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


def test_counting_process_split_equals_unsplit(spells):
    a = fit(spells, strata="LA")
    d = spells.assign(start=0.0)
    cut = np.minimum(d.days_followed / 2, 100.0)
    first = d.assign(days_followed=cut, reentered=0)
    second = d.assign(start=cut)
    both = pd.concat([first[first.days_followed > 0], second])
    b = cox(F, both, "days_followed", entry_col="start", strata="LA", concordance=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)


def test_concordance_methods_agree(spells):
    from reunistat.models.survival._concordance import concordance_index

    rng = np.random.default_rng(1)
    eta = np.round(rng.normal(size=len(spells)), 1)  # ties in the predictor too
    kw = {
        "strata": pd.factorize(spells.LA)[0],
        "weights": spells.weight.to_numpy(),
    }
    t, e = spells.days_followed.to_numpy(float), spells.reentered.to_numpy(bool)
    a = concordance_index(t, e, eta, method="sweep", **kw)
    b = concordance_index(t, e, eta, method="levels", **kw)
    np.testing.assert_allclose(a, b, rtol=1e-12)
