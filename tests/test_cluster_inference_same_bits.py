"""The cluster sums and the wild pre-trend test, made faster, give the same bits as before.

``ClusterFit.cluster_sums`` builds its sparse matrix from a cluster layout found
once; ``wild_pretrend`` sums the scores as weighted rows of the design and can
take the fit's ``(X'X)^-1``. Each must equal, to the bit, the computation it
replaced (copied here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from reunistat.models.evaluation.cluster_inference import (
    _pretrend_statistics,
    ols_cluster,
    wild_bootstrap_ci,
    wild_pretrend,
)


def _old_cluster_sums(codes, n_clusters, z, weights=None):  # type: ignore[no-untyped-def]
    n = len(codes)
    w = np.ones(n) if weights is None else weights
    s = sparse.csr_matrix((w, (codes, np.arange(n))), shape=(n_clusters, n))
    return np.asarray(s @ np.ascontiguousarray(z))


def _old_wild_pretrend(y, x, groups, idx, wald, n_boot, seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    codes, g = pd.factorize(groups)
    n_g, (n, k) = len(g), x.shape
    m = len(idx)
    s = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_g, n))
    keep = [j for j in range(k) if j not in set(idx)]
    xr = x[:, keep]
    xtx_r = xr.T @ xr
    fitted_r = xr @ np.linalg.solve((xtx_r + xtx_r.T) / 2, xr.T @ y)
    resid_r = y - fitted_r
    xtx = x.T @ x
    bread = np.linalg.inv((xtx + xtx.T) / 2)
    z = x @ bread[idx].T
    beta0 = bread @ (x.T @ fitted_r)
    f0 = fitted_r - x @ beta0
    a = bread @ np.asarray(s @ (x * resid_r[:, None])).T
    p0 = np.asarray(s @ (z * f0[:, None]))
    p1 = np.asarray(s @ (z * resid_r[:, None]))
    q = np.stack([np.asarray(s @ (z[:, [j]] * x)) for j in range(m)], axis=1)
    c = n_g / (n_g - 1) * (n - 1) / (n - k)
    v = rng.choice(np.array([-1.0, 1.0]), size=(n_g, n_boot))
    av = a @ v
    b = beta0[idx][:, None] + av[idx]
    sc = p0[:, :, None] + p1[:, :, None] * v[:, None, :] - np.einsum("gmk,kb->gmb", q, av)
    vs = c * np.einsum("gmb,gnb->bmn", sc, sc)
    sol = np.linalg.solve(vs, b.T[:, :, None])[:, :, 0]
    w = np.einsum("bm,bm->b", b.T, sol)
    return w, float((1 + np.sum(w >= wald)) / (1 + n_boot))


def _data(seed: int, n_g: int, per: int, k: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    groups = rng.permutation(np.repeat([f"L{i}" for i in range(n_g)], per))
    x = np.column_stack([np.ones(len(groups)), rng.normal(size=(len(groups), k - 1))])
    y = x @ rng.normal(size=k) + rng.normal(size=n_g)[pd.factorize(groups)[0]]
    return y + rng.normal(size=len(y)), x, groups


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.integers(4, 30), st.integers(2, 6))
def test_cluster_sums_are_the_old_sums(seed: int, n_g: int, per: int, k: int) -> None:
    y, x, groups = _data(seed, n_g, per, k)
    fit = ols_cluster(y, x, groups, "CR1")
    w = np.random.default_rng(seed).normal(size=len(y))
    for z, weights in ((x, None), (x, w), (w, None), (np.column_stack([w, -w]), w)):
        got = fit.cluster_sums(z, weights)
        want = _old_cluster_sums(fit.codes, fit.n_clusters, z, weights)
        assert got.tobytes() == want.tobytes()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 12), st.integers(2, 25), st.integers(3, 6))
def test_wild_pretrend_is_the_old_test(seed: int, n_g: int, per: int, k: int) -> None:
    y, x, groups = _data(seed, n_g, per, k)
    idx = [1, 2]
    fit = ols_cluster(y, x, groups, "CR2")
    cov1 = fit.cr1_cov()
    b = fit.beta[idx]
    wald = float(b @ np.linalg.solve(cov1[np.ix_(idx, idx)], b))
    stats, want = _old_wild_pretrend(y, x, groups, idx, wald, 199, seed)
    assert wild_pretrend(y, x, groups, idx, wald, 199, seed) == want
    assert wild_pretrend(y, x, groups, idx, wald, 199, seed, bread=fit.bread) == want
    for bread in (None, fit.bread):
        got = _pretrend_statistics(y, x, groups, idx, 199, seed, bread, None)
        assert got.tobytes() == stats.tobytes()


def test_wild_bootstrap_ci_is_unchanged_by_the_shared_residual_sums() -> None:
    y, x, groups = _data(3, 14, 20, 4)
    fit = ols_cluster(y, x, groups, "CR2")
    got = wild_bootstrap_ci(fit, [1, 2, 3], n_boot=199, seed=5)
    # the sums each coefficient took afresh before
    from reunistat.models.evaluation import cluster_inference as ci

    v = ci.boot_weights("rademacher", fit.n_clusters, 199, np.random.default_rng(5))
    for j in (1, 2, 3):
        fresh = ci._bootstrap_pieces(fit, j, v)
        shared = ci._bootstrap_pieces(fit, j, v, fit.cluster_sums(fit.x, fit.resid))
        for key, val in fresh.items():
            assert np.asarray(val).tobytes() == np.asarray(shared[key]).tobytes()
    assert got.notna().all().all()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 12), st.integers(6, 25))
def test_wild_pretrend_of_dummies_from_the_fits_cross_products(
    seed: int, n_g: int, per: int
) -> None:
    """An event study's design (0/1): the restricted X'X taken from the fit's, the same p."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_g), per)
    rel = rng.integers(0, 4, len(groups))
    year = rng.integers(0, 3, len(groups))
    x = np.column_stack(
        [
            np.ones(len(groups)),
            *[(rel == r).astype(float) for r in (1, 2, 3)],
            *[(groups == g).astype(float) for g in range(1, n_g)],
            *[(year == t).astype(float) for t in (1, 2)],
        ]
    )
    y = (rng.random(len(groups)) < 0.2 + 0.05 * rel).astype(float)
    fit = ols_cluster(y, x, groups, "CR2")
    idx = [1, 2]
    cov1 = fit.cr1_cov()
    b = fit.beta[idx]
    wald = float(b @ np.linalg.solve(cov1[np.ix_(idx, idx)], b))
    stats, want = _old_wild_pretrend(y, x, groups, idx, wald, 199, seed)
    got = wild_pretrend(y, x, groups, idx, wald, 199, seed, bread=fit.bread, xtx=fit.xtx)
    assert got == want
    same = _pretrend_statistics(y, x, groups, idx, 199, seed, fit.bread, fit.xtx)
    assert same.tobytes() == stats.tobytes()
    keep = [j for j in range(x.shape[1]) if j not in idx]
    assert fit.xtx is not None
    assert fit.xtx[np.ix_(keep, keep)].tobytes() == (x[:, keep].T @ x[:, keep]).tobytes()


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 10_000), st.integers(4, 12), st.integers(6, 25), st.sampled_from(["CR2", "CR1"])
)
def test_a_0_1_design_given_sparse_gives_the_same_bits(
    seed: int, n_g: int, per: int, vcov: str
) -> None:
    """X'X and the cluster sums of the design's rows from ``x_sparse``: every number the same."""
    from reunistat.models.evaluation.cluster_inference import satterthwaite_df

    rng = np.random.default_rng(seed)
    groups = rng.permutation(np.repeat(np.arange(n_g), per))
    rel = rng.integers(0, 4, len(groups))
    x = np.column_stack(
        [
            np.ones(len(groups)),
            *[(rel == r).astype(float) for r in (1, 2, 3)],
            *[(groups == g).astype(float) for g in range(1, n_g)],
        ]
    )
    y = (rng.random(len(groups)) < 0.2 + 0.05 * rel).astype(float)
    dense = ols_cluster(y, x, groups, vcov)  # type: ignore[arg-type]
    fit = ols_cluster(y, x, groups, vcov, sparse.csr_matrix(x))  # type: ignore[arg-type]
    for name in ("beta", "cov", "bread", "xtx", "resid"):
        assert getattr(fit, name).tobytes() == getattr(dense, name).tobytes(), name
    assert fit.cr1_cov().tobytes() == dense.cr1_cov().tobytes()
    assert satterthwaite_df(fit).tobytes() == satterthwaite_df(dense).tobytes()
    w = rng.normal(size=len(y))
    assert fit.x_sums(w).tobytes() == dense.cluster_sums(x, w).tobytes()
    a = wild_bootstrap_ci(fit, [1, 2, 3], n_boot=199, seed=seed)
    b = wild_bootstrap_ci(dense, [1, 2, 3], n_boot=199, seed=seed)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    idx = [1, 2]
    args = (y, x, groups, idx, 199, seed, dense.bread, dense.xtx)
    got = _pretrend_statistics(*args, fit.x_sparse)
    assert got.tobytes() == _pretrend_statistics(*args).tobytes()


def test_the_fixed_effects_design_as_sparse_is_the_dense_one() -> None:
    """``did._fe_design``: the rows it makes and the sparse copy it holds are the dummies
    of ``pd.get_dummies``; a dense matrix when a term is not 0/1."""
    import importlib

    did = importlib.import_module("reunistat.models.evaluation.did")
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"LA": rng.choice(["b", "a", "c"], 300), "year": rng.integers(0, 4, 300)})
    terms = pd.DataFrame({f"t{k}": (rng.integers(0, 3, 300) == k).astype(float) for k in (1, 2)})
    x, names = did._fe_design(data, terms, "LA", "year")
    xs = x.sparse
    dummies = [
        pd.get_dummies(data[c].astype(str), drop_first=True, dtype=float) for c in ("LA", "year")
    ]
    want = np.column_stack([np.ones(300), terms.to_numpy(), *[d.to_numpy() for d in dummies]])
    assert isinstance(x, did.DummyDesign) and x.shape == want.shape
    assert x.dense().tobytes() == want.tobytes()
    assert xs is not None and xs.toarray().tobytes() == want.tobytes()
    rows = np.sort(rng.choice(300, 40, replace=False))
    assert x.rows(rows).tobytes() == want[rows].tobytes()
    assert x.rows(slice(17, 101)).tobytes() == want[17:101].tobytes()
    assert len(names) == x.shape[1]
    x2, _ = did._fe_design(data, terms.assign(t1=terms["t1"] * 0.5), "LA", "year")
    assert isinstance(x2, np.ndarray) and (x2[:, 1] == terms["t1"] * 0.5).all()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 12), st.integers(6, 40), st.sampled_from([8, 64]))
def test_a_design_made_by_blocks_of_rows_gives_the_dense_designs_bits(
    seed: int, n_g: int, per: int, block: int
) -> None:
    """``ols_cluster`` and what reads its design, on a :class:`DummyDesign`: the estimates,
    residuals, CR2 and CR1 variances, Satterthwaite df and bootstrap intervals of the dense
    matrix to the bit; the pre-trend statistics (X' of the restricted fit from the sparse
    copy, summed in another order) to rounding, and the same p-value."""
    import importlib

    import pytest

    from reunistat.models.evaluation import cluster_inference as ci

    did = importlib.import_module("reunistat.models.evaluation.did")
    rng = np.random.default_rng(seed)
    n = n_g * per
    data = pd.DataFrame({"LA": rng.integers(0, n_g, n), "year": rng.integers(0, 3, n)})
    rel = rng.integers(0, 4, n)
    terms = pd.DataFrame({f"rel{r}": (rel == r).astype(float) for r in (1, 2, 3)})
    y = (rng.random(n) < 0.2 + 0.05 * rel).astype(float)
    x, _ = did._fe_design(data, terms, "LA", "year")
    assert isinstance(x, did.DummyDesign)
    xs = x.sparse
    dense = x.dense()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ci, "ROW_BLOCK", block)
        fit = ols_cluster(y, x, data["LA"].to_numpy(), "CR2", xs)
        want = ols_cluster(y, dense, data["LA"].to_numpy(), "CR2", xs)
        for name in ("beta", "cov", "bread", "resid"):
            assert getattr(fit, name).tobytes() == getattr(want, name).tobytes(), name
        assert fit.cr1_cov().tobytes() == want.cr1_cov().tobytes()
        assert ci.satterthwaite_df(fit).tobytes() == ci.satterthwaite_df(want).tobytes()
        a = wild_bootstrap_ci(fit, [1, 2, 3], n_boot=99, seed=seed)
        b = wild_bootstrap_ci(want, [1, 2, 3], n_boot=99, seed=seed)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        args = (y, data["LA"].to_numpy(), [1, 2], 199, seed, want.bread, want.xtx, xs)
        got = _pretrend_statistics(args[0], x, *args[1:])
        old = _pretrend_statistics(args[0], dense, *args[1:])
    np.testing.assert_allclose(got, old, rtol=1e-9, atol=1e-12)
    u = np.unique(np.round(old, 6))  # a Wald statistic between two bootstrap values
    wald = float(u[len(u) // 2] + u[max(len(u) // 2 - 1, 0)]) / 2
    assert wild_pretrend(y, x, data["LA"].to_numpy(), [1, 2], wald, 199, seed) == wild_pretrend(
        y, dense, data["LA"].to_numpy(), [1, 2], wald, 199, seed
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 700), st.sampled_from([4, 8, 64, 100]))
def test_products_a_block_of_rows_at_a_time_are_the_whole_products(
    seed: int, n: int, block: int
) -> None:
    """``_rows_times``: ``x @ v`` and ``x[:, cols] @ v`` by blocks of rows, to the bit."""
    import pytest

    from reunistat.models.evaluation import cluster_inference as ci

    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 40))
    x = rng.normal(size=(n, k)) * (rng.random((n, k)) < 0.5)
    vs = [rng.normal(size=k), rng.normal(size=(k, 3))[:, 1]]  # the second one strided
    cols = sorted(rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False).tolist())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ci, "ROW_BLOCK", block)
        got = ci._rows_times(x, vs)
        got_cols = ci._rows_times(x, [vs[0][cols]], cols)[0]
    for t, v in enumerate(vs):
        assert got[t].tobytes() == (x @ v).tobytes()
    assert got_cols.tobytes() == (x[:, cols] @ vs[0][cols]).tobytes()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 10), st.integers(30, 90))
def test_the_pretrend_test_and_intervals_by_blocks_of_rows_are_the_same(
    seed: int, n_g: int, per: int
) -> None:
    """A 0/1 design with a 0/1 outcome, rows in blocks: the old pre-trend statistics and
    bootstrap intervals to the bit (and with an outcome that is not whole: the copy)."""
    import pytest

    from reunistat.models.evaluation import cluster_inference as ci

    rng = np.random.default_rng(seed)
    groups = rng.permutation(np.repeat(np.arange(n_g), per))
    rel = rng.integers(0, 4, len(groups))
    year = rng.integers(0, 3, len(groups))
    x = np.column_stack(
        [
            np.ones(len(groups)),
            *[(rel == r).astype(float) for r in (1, 2, 3)],
            *[(groups == g).astype(float) for g in range(1, n_g)],
            *[(year == t).astype(float) for t in (1, 2)],
        ]
    )
    idx = [1, 2]
    for y in (
        (rng.random(len(groups)) < 0.2 + 0.05 * rel).astype(float),
        rng.normal(size=len(groups)),
    ):
        fit = ols_cluster(y, x, groups, "CR2", sparse.csr_matrix(x))
        stats, _ = _old_wild_pretrend(y, x, groups, idx, 1.0, 199, seed)
        v = ci.boot_weights("rademacher", fit.n_clusters, 199, np.random.default_rng(seed))
        xe = fit.x_sums(fit.resid)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ci, "ROW_BLOCK", 16)
            got = _pretrend_statistics(
                y, x, groups, idx, 199, seed, fit.bread, fit.xtx, fit.x_sparse
            )
            a = ci._rows_times(fit.x, [fit.bread[:, j] for j in (1, 2, 3)])
        assert got.tobytes() == stats.tobytes()
        for t, j in enumerate((1, 2, 3)):
            old = ci._bootstrap_pieces(fit, j, v, xe)
            new = ci._bootstrap_pieces(fit, j, v, xe, a[t])
            for key, val in old.items():
                assert np.asarray(val).tobytes() == np.asarray(new[key]).tobytes()
