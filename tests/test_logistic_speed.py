"""The faster paths of the logistic models give exactly what the plain paths give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.logistic import gee, horizon_outcome, logistic
from reunistat.models.logistic.design import _column_summaries
from reunistat.models.logistic.margins import _LevelDesigns, _matrix, _set
from reunistat.results import package_versions

REF = Path(__file__).parent / "reference" / "logistic"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    s = pd.read_csv(REF / "sample.csv")
    s["return_cat"] = pd.Categorical(s["return_type"])
    return s


@pytest.mark.parametrize(
    ("formula", "variable"),
    [
        ("~ section20 + placement_moves + return_type", "return_type"),  # category (text)
        ("~ section20 + placement_moves + return_cat", "return_cat"),  # pandas categorical
        ("~ section20 + placement_moves + return_type", "section20"),  # a 0/1 number
        ("~ section20 * return_type + placement_moves", "return_type"),  # in an interaction
        ("~ np.log1p(section20) + return_type", "section20"),  # a transform: not 0/1
    ],
)
def test_level_designs_equal_the_full_rebuild(sample, formula, variable):
    """Each level's design is the very matrix formulaic builds: values and memory layout."""
    r = logistic(formula, sample)
    spec, data = r.extras["model_spec"], r.extras["data"]
    designs = _LevelDesigns(spec, data)
    col = data[variable]
    levels = list(col.cat.categories) if hasattr(col, "cat") else sorted(pd.unique(col))
    for lev in levels:
        fast, full = designs.matrix(variable, lev), _matrix(spec, _set(data, variable, lev))
        assert fast.shape == full.shape and fast.strides == full.strides
        assert np.array_equal(fast, full)


def test_set_keeps_a_categorical_dtype_and_misses_an_unknown_level(sample):
    d = _set(sample, "return_cat", "planned")
    assert d["return_cat"].dtype == sample["return_cat"].dtype
    assert (d["return_cat"] == "planned").all()
    assert _set(sample, "return_cat", "nope")["return_cat"].isna().all()
    assert sample["return_cat"].notna().all()  # the input is not changed


def test_column_summaries_in_blocks_equal_whole_array_summaries():
    rng = np.random.default_rng(3)
    X = np.column_stack(
        [np.ones(1000), rng.integers(0, 2, 1000), rng.normal(size=1000), np.zeros(1000)]
    )
    X[5, 1] = 0.5  # no longer only 0/1
    y = rng.integers(0, 2, 1000).astype(float)
    lo, hi, only01, ones, ones_y, cross = _column_summaries(X, y, step=64)
    assert np.array_equal(lo, X.min(axis=0)) and np.array_equal(hi, X.max(axis=0))
    assert only01.tolist() == [True, False, False, True]
    assert np.array_equal(ones, (X == 1).sum(axis=0))
    assert np.array_equal(ones_y, y @ (X == 1))
    assert np.allclose(cross, X.T @ X, rtol=1e-12, atol=0)


def test_horizon_outcome_is_a_new_frame(sample):
    out, counts = horizon_outcome(sample, 365)
    known = out.index
    assert out.equals(
        sample.loc[known].assign(reentry_365d=out["reentry_365d"])
    ) and counts.n_used == len(out)
    out.loc[out.index[0], "section20"] = 99  # no SettingWithCopy, the input unchanged
    assert (sample["section20"] != 99).all()


def test_package_versions_read_once_but_given_fresh():
    a, b = package_versions(), package_versions()
    assert a == b and a is not b
    a["numpy"] = "changed"
    assert package_versions()["numpy"] != "changed"


def test_gee_from_our_glm_start_equals_statsmodels_own_start(sample, monkeypatch):
    """The start only spares statsmodels its GLM fit: the GEE estimates are the same."""
    import reunistat.models.logistic.fit as fit_module

    ours = gee("~ section20 + placement_moves + return_type", sample, cluster="LA")
    plain = fit_module._gee_fit
    monkeypatch.setattr(fit_module, "_gee_fit", lambda mod, cov, start=None: plain(mod, cov))
    theirs = gee("~ section20 + placement_moves + return_type", sample, cluster="LA")
    np.testing.assert_allclose(ours.params, theirs.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.std_errors, theirs.std_errors, rtol=1e-9)


@pytest.mark.parametrize("n", [1, 7, 130, 4_099, 20_011])
def test_column_means_of_products_equal_the_matrix_mean(n):
    """``_mean_products`` a column at a time is the 2-D ``(X * w).mean(axis=0)`` to the bit."""
    from reunistat.models.logistic.margins import _mean_products

    rng = np.random.default_rng(n)
    X = np.asfortranarray(
        np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=(n, 3)) * 1e3])
    )
    X0 = np.asfortranarray(X + rng.normal(size=X.shape))
    w, w0 = rng.random(n), rng.random(n)
    cols = [X[:, j] for j in range(X.shape[1])]
    cols0 = [X0[:, j] for j in range(X.shape[1])]
    assert np.array_equal(_mean_products(cols, w), (X * w[:, None]).mean(axis=0))
    plain = (X * w[:, None] - X0 * w0[:, None]).mean(axis=0)
    assert _mean_products(cols, w, cols0, w0).tobytes() == plain.tobytes()
    # columns of one value (the intercept; a level's 0/1 columns) from the sum of w alone
    Xc = np.asfortranarray(np.column_stack([X, np.zeros(n), np.ones(n)]))
    colsc = [Xc[:, j] for j in range(Xc.shape[1])]
    want = (Xc * w[:, None]).mean(axis=0)
    got = _mean_products(colsc, w, constant={0: 1.0, 5: 0.0, 6: 1.0})
    assert got.tobytes() == want.tobytes()
    w[0] = np.nan  # weights that are not all finite: every column's products
    got = _mean_products(colsc, w, constant={0: 1.0, 5: 0.0, 6: 1.0})
    assert got.tobytes() == (Xc * w[:, None]).mean(axis=0).tobytes()


@pytest.mark.parametrize(
    "formula",
    [
        "~ section20 + placement_moves + np.log1p(period_length_days) + return_type",
        "~ bs(age_at_return_years, df=3) + placement_moves",
        "~ section20 * placement_moves + return_type",  # placement_moves shares a term
    ],
)
def test_derivatives_in_place_equal_the_two_shifted_copies(sample, formula):
    """The average derivative with the shifted columns written into the fitted design is the
    one from two full shifted copies of it (the plain expression), to the bit."""
    from scipy.special import expit

    from reunistat.models.logistic.margins import _derivative

    r = logistic(formula, sample)
    spec, data = r.extras["model_spec"], r.extras["data"]
    data = data[[v for v in sorted(spec.required_variables) if v in data.columns]]
    beta = r.params.to_numpy(dtype=float)
    for v in ("placement_moves", "period_length_days", "age_at_return_years"):
        if v not in data.columns:
            continue
        designs = _LevelDesigns(spec, data)
        base = designs.base().copy()
        est, grad = _derivative(spec, beta, data, v, designs)
        assert np.array_equal(designs.base(), base)  # put back as it was
        x = data[v].to_numpy(dtype=float)
        h = 1e-5 * max(float(np.std(x)), 1e-8)
        up = np.where(x + h > x.max(), x, x + h)
        down = np.where(x - h < x.min(), x, x - h)
        X1, X0 = _matrix(spec, _set(data, v, up)), _matrix(spec, _set(data, v, down))
        p1, p0 = expit(X1 @ beta), expit(X0 @ beta)
        den = up - down
        w1, w0 = p1 * (1 - p1) / den, p0 * (1 - p0) / den
        assert est == float(((p1 - p0) / den).mean())
        plain = (X1 * w1[:, None] - X0 * w0[:, None]).mean(axis=0)
        assert grad.tobytes() == plain.tobytes()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 16, 17, 1_000, 4_099])
def test_sequential_sum_is_pythons_sum(n):
    """``sequential_sum`` adds in Python's ``sum`` order: the same bits (and ``+0.0`` for zeros)."""
    from reunistat.models.logistic._gee import sequential_sum

    rng = np.random.default_rng(n)
    for x in (rng.normal(size=n) * rng.exponential(1e3, n), -np.zeros(n)):
        ours, theirs = sequential_sum(x), sum(x)
        assert np.float64(ours).tobytes() == np.float64(theirs).tobytes()


@pytest.mark.parametrize("by_cluster", [False, True])
@pytest.mark.parametrize("cov_type", ["robust", "naive", "bias_reduced"])
def test_gee_without_the_rank_svd_equals_statsmodels_gee(sample, cov_type, by_cluster):
    """``ColumnRankGEE`` (no SVD for a rank GEE overwrites; each cluster's rows copied
    once) with ``SequentialExchangeable`` (numpy's sum of a cluster's residuals) fits what
    ``GEE`` fits, bit for bit, on rows in any order or sorted by cluster."""
    from statsmodels.genmod import cov_struct, families
    from statsmodels.genmod.generalized_estimating_equations import GEE

    from reunistat.models.logistic._gee import ColumnRankGEE, SequentialExchangeable

    r = logistic("~ section20 + placement_moves + return_type", sample, cluster="LA")
    X = np.asarray(r.extras["model_spec"].get_model_matrix(r.extras["data"]), dtype=float)
    y = r.extras["data"][r.extras["outcome_col"]].to_numpy(dtype=float)
    groups = pd.factorize(r.extras["data"]["LA"])[0]
    if by_cluster:
        order = np.argsort(groups, kind="stable")
        y, X, groups = y[order], X[order], groups[order]
    fits = []
    for cls, cs in ((GEE, cov_struct.Exchangeable), (ColumnRankGEE, SequentialExchangeable)):
        mod = cls(y, X, groups=groups, family=families.Binomial(), cov_struct=cs())
        res = mod.fit(
            maxiter=200,
            ctol=1e-10,
            ddof_scale=0,
            cov_type=cov_type,
            start_params=r.params.to_numpy(),
        )
        fits.append((mod, res))
    (m0, r0), (m1, r1) = fits
    assert (m0.df_model, m0.df_resid, m0.wnobs) == (m1.df_model, m1.df_resid, m1.wnobs)
    assert np.asarray(r0.params).tobytes() == np.asarray(r1.params).tobytes()
    assert np.asarray(r0.cov_params()).tobytes() == np.asarray(r1.cov_params()).tobytes()
    assert m0.cov_struct.dep_params == m1.cov_struct.dep_params
    for a, b in zip(m0.exog_li + m0.endog_li, m1.exog_li + m1.endog_li, strict=True):
        assert a.tobytes() == b.tobytes() and a.flags.c_contiguous and b.flags.c_contiguous
