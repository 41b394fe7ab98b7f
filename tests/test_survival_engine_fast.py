"""The Cox engine's faster sums give the same numbers, to the bit, as the plain ones.

Segment sums over blocks of whole segments, per-group sums over the event rows
in interleaved order, the cluster codes gathered from a narrow copy, and the
sums evaluate() hands on to group_info() and cluster_scores(): each is checked
against the straightforward computation with ``np.array_equal``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import _coxkernels as kernels
from reunistat.models.survival import cox


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 2500),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1, 3, 64, 700, 1 << 16]),
)
def test_segment_sums_are_reduceat(n: int, p: int, seed: int, block: int) -> None:
    rng = np.random.default_rng(seed)
    xt = rng.normal(size=(p, n))
    wr = rng.uniform(0.1, 3.0, n)
    k = int(rng.integers(1, n + 1))
    starts = np.unique(np.append(0, rng.choice(n, k - 1))).astype(np.int64)
    want = np.vstack([np.add.reduceat(wr, starts)] + [np.add.reduceat(r * wr, starts) for r in xt])
    old = kernels._SEGMENT_BLOCK
    try:
        kernels._SEGMENT_BLOCK = block
        got = engine._segment_sums(xt, wr, starts)
    finally:
        kernels._SEGMENT_BLOCK = old
    assert np.array_equal(got, want)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_interleaved_sums_are_the_grouped_bincount(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = np.asarray(sizes, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    group = np.repeat(np.arange(size.shape[0]), size)
    rank = np.arange(group.shape[0]) - np.repeat(starts, size)
    frac = rank / np.repeat(size, size)
    mw = rng.choice([1.0, 1.5, 2.0 / 3.0], group.shape[0])
    il = engine.Interleaved.build(starts, size, group, frac, mw)
    # each group keeps its rows in order, and the rows are all there
    assert np.array_equal(np.sort(il.group, kind="stable"), group)
    for k in range(size.shape[0]):
        assert np.array_equal(il.frac[il.group == k], frac[group == k])
    v = rng.lognormal(size=group.shape[0]) * 10.0 ** rng.integers(-8, 8, group.shape[0])
    perm = np.lexsort((group, rank))  # the interleaved order by definition
    assert np.array_equal(il.sums(v[perm], size.shape[0]), np.bincount(group, v, size.shape[0]))


@pytest.mark.parametrize("lo, hi", [(0, 150), (-5, 40_000), (0, 2**31 + 5), (-(2**40), 3)])
def test_gather_codes(lo: int, hi: int) -> None:
    rng = np.random.default_rng(hi)
    codes = rng.integers(lo, hi, 5000)
    order = rng.permutation(5000)
    got = engine._gather_codes(codes, order)
    assert got.dtype == np.int64 and np.array_equal(got, codes[order])


def _problem(seed: int, weights: bool, strata: bool, ties: str) -> engine.CoxProblem:
    rng = np.random.default_rng(seed)
    n = 3000
    x = rng.normal(size=(n, 3))
    t = np.ceil(rng.exponential(60, n))  # many ties
    e = rng.random(n) < 0.6
    return engine.prepare(
        x,
        t,
        e,
        weights=rng.choice([1.0, 2.0, 0.5], n) if weights else None,
        strata=rng.integers(0, 3, n) if strata else None,
        ties=ties,
    )


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("strata", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_fast_sums_equal_plain_ones(weights: bool, strata: bool, ties: str) -> None:
    """evaluate, group_info and cluster_scores with and without the interleaved sums."""
    fast = _problem(3, weights, strata, ties)
    plain = dataclasses.replace(fast, interleaved=None)
    beta = np.array([0.2, -0.1, 0.05])
    a, b = engine.evaluate(fast, beta), engine.evaluate(plain, beta)
    for name in ("loglik", "score", "info", "den", "hazard", "dcoef", "s1", "s1d"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # group_info without evaluate's sums recomputes them the plain way
    bare = dataclasses.replace(b, dcoef=None)
    assert np.array_equal(engine.group_info(fast, a), engine.group_info(plain, bare))
    codes = np.random.default_rng(4).integers(0, 25, fast.order.shape[0])
    assert np.array_equal(
        engine.cluster_scores(fast, a, codes), engine.cluster_scores(plain, bare, codes)
    )


def test_cox_fit_is_unchanged_by_the_fast_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n = 6000
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    df["t"] = np.ceil(rng.exponential(300, n))
    df["e"] = (rng.random(n) < 0.5).astype(int)
    df["la"] = rng.integers(0, 60, n)
    kw = {"cluster": "la", "concordance": True}
    fast = cox("~ a + b + c + d", df, "t", "e", **kw)
    monkeypatch.setattr(engine.Interleaved, "build", classmethod(lambda cls, *a: None))
    monkeypatch.setattr(kernels, "_SEGMENT_BLOCK", 1 << 40)
    plain = cox("~ a + b + c + d", df, "t", "e", **kw)
    assert np.array_equal(fast.params, plain.params)
    assert np.array_equal(fast.cov, plain.cov)
    assert fast.fit_stats == plain.fit_stats


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_symmetric_is_the_triangle_sum(p: int, seed: int) -> None:
    """_symmetric gives np.triu(c) + np.triu(c, 1).T bit for bit (-0.0 turned to 0.0)."""
    rng = np.random.default_rng(seed)
    c = rng.choice([-0.0, 0.0, 1.5, -2.25, np.nan], size=(p, p)) * rng.normal(size=(p, p))
    want = np.triu(c) + np.triu(c, 1).T
    assert kernels._symmetric(c).tobytes() == want.tobytes()
    assert kernels._symmetric(np.asfortranarray(c)).tobytes() == want.tobytes()


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_one_stratum_skips_the_zero_entry_sums(ties: str) -> None:
    """Unstratified right-censored risk sets: subtracting the (zero) entry sums changes nothing."""
    prob = _problem(3, False, False, ties)
    assert prob.n_strata == 1 and prob.entry_perm is None
    beta = np.array([0.2, -0.1, 0.05])
    a = engine.evaluate(prob, beta)
    b = engine.evaluate(dataclasses.replace(prob, n_strata=2), beta)  # the path with the sums
    for name in ("loglik", "score", "info", "den", "hazard", "dcoef", "s1", "s1d"):
        assert np.asarray(getattr(a, name)).tobytes() == np.asarray(getattr(b, name)).tobytes()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 2), min_size=1, max_size=80), st.integers(0, 2**32 - 1))
def test_risk_sums_along_rows_are_reduceat_and_revcum(sizes: list[int], seed: int) -> None:
    """Stop keys of one or two segments: their risk-set sums bit for bit, -0.0 and nan kept."""
    rng = np.random.default_rng(seed)
    size = np.asarray(sizes, dtype=np.int64)
    seg_exit = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    n_seg = int(size.sum())
    special = rng.choice([-0.0, 0.0, np.nan, np.inf, 1e300, 1e-300], size=(3, n_seg))
    seg_t = rng.normal(size=(3, n_seg)) * 10.0 ** rng.integers(-12, 12, (3, n_seg))
    seg_t = np.where(rng.random((3, n_seg)) < 0.1, special, seg_t)
    pos = np.sort(rng.integers(0, size.shape[0] + 1, 30))
    want = kernels._revcum(np.add.reduceat(seg_t.T, seg_exit, axis=0))[pos]
    got = engine._risk_sums_t(seg_t, seg_exit, np.flatnonzero(size == 2), pos)
    assert got.flags.c_contiguous and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("entry", [False, True])
def test_exit_pairs_path_is_the_reduceat_path(
    monkeypatch: pytest.MonkeyPatch, weights: bool, entry: bool
) -> None:
    """evaluate with the stop keys' sums along rows equals the reduceat way, bit for bit."""
    rng = np.random.default_rng(21)
    n = 4000
    t = np.ceil(rng.exponential(60, n)) + 1
    start = np.floor(rng.uniform(0, 1, n) * t) if entry else None
    x, e = rng.normal(size=(n, 3)), rng.random(n) < 0.6
    w = rng.choice([1.0, 2.0, 0.5], n) if weights else None
    prob = engine.prepare(x, t, e, start=start, weights=w)
    assert engine._exit_pairs(prob) is not None and (prob.entry_group is not None) == entry
    beta = np.array([0.2, -0.1, 0.05])
    a = engine.evaluate(prob, beta)
    monkeypatch.setattr(engine, "_exit_pairs", lambda prob: None)
    b = engine.evaluate(prob, beta)
    for name in ("loglik", "score", "info", "den", "hazard", "dcoef", "s1", "s1d"):
        assert np.asarray(getattr(a, name)).tobytes() == np.asarray(getattr(b, name)).tobytes()
