"""The Cox engine's fast paths give exactly what the plain operations give.

The engine sorts whole-day times by a 16-bit radix sort and keeps the covariates
transposed; these tests hold those shortcuts to the plain numpy results, and the
quick binary-covariate check to the exact definition.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.errors import SeparationError
from reunistat.models import _formula
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import _data, cox
from reunistat.models.survival.cox import _check_monotone


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 70_000).map(float),
            st.floats(0, 1e6, allow_nan=False),
            st.sampled_from([0.0, 0.5, 1.0, 65_535.0, 65_536.0]),
        ),
        min_size=0,
        max_size=60,
    )
)
def test_stable_argsort_is_the_float_stable_sort(times: list[float]) -> None:
    t = np.asarray(times, dtype=float)
    assert np.array_equal(engine._stable_argsort(t), np.argsort(t, kind="stable"))


def test_stable_argsort_whole_days_with_many_ties() -> None:
    rng = np.random.default_rng(3)
    t = np.ceil(rng.uniform(100, 2300, 50_000))
    assert np.array_equal(engine._stable_argsort(t), np.argsort(t, kind="stable"))
    t[7] = 100.5  # one fractional time: falls back to the float sort, same order
    assert np.array_equal(engine._stable_argsort(t), np.argsort(t, kind="stable"))


@pytest.mark.parametrize("layout", ["C", "F"])
def test_sorted_transposed_is_the_gathered_transpose(layout: str) -> None:
    rng = np.random.default_rng(4)
    x = np.asarray(rng.normal(size=(10_001, 7)), order=layout)
    order = rng.permutation(10_001)
    out = engine._sorted_transposed(x, order, chunk=1000)
    assert out.flags.c_contiguous
    assert np.array_equal(out, x[order].T)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_sorted_transposed_into_its_own_input(layout: str) -> None:
    """``out=x.T`` (prepare's overwrite_x): the same values; a C-ordered x is left alone."""
    rng = np.random.default_rng(6)
    x = np.asarray(rng.normal(size=(5_003, 4)), order=layout)
    want = x[(order := rng.permutation(5_003))].T.copy()
    keep = x.copy()
    out = engine._sorted_transposed(x, order, chunk=700, out=x.T)
    assert out.flags.c_contiguous
    assert np.array_equal(out, want)
    assert np.shares_memory(out, x) == (layout == "F")
    if layout == "C":
        assert np.array_equal(x, keep)


def test_prepare_overwrite_gives_the_same_problem() -> None:
    rng = np.random.default_rng(8)
    n = 4000
    x = np.asarray(rng.normal(size=(n, 3)), order="F")
    t = np.ceil(rng.uniform(1, 300, n))
    e = rng.integers(0, 2, n).astype(bool)
    a = engine.prepare(x.copy(order="F"), t, e)
    b = engine.prepare(x, t, e, overwrite_x=True)
    assert np.array_equal(a.xt, b.xt) and np.array_equal(a.means, b.means)
    assert np.shares_memory(b.xt, x)


def test_numeric_design_is_the_formula_layers() -> None:
    """The survival design's column copy equals the formula layer's matrix and rows."""
    rng = np.random.default_rng(9)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=50),
            "b": pd.array(rng.integers(0, 3, 50), dtype="Int64"),
            "c": rng.integers(0, 2, 50).astype(np.int8),
        }
    )
    for data in (df, df.assign(a=df["a"].where(df.index % 7 != 3), b=df["b"].where(df.index != 4))):
        got = _data.design("~ a + b + c", data)
        want = _formula.design("a + b + c", data, intercept=False)
        assert want.x.flags.c_contiguous and got.x.flags.f_contiguous
        plain = data[["a", "b", "c"]].to_numpy(dtype=float, na_value=np.nan)
        assert np.array_equal(want.x, plain[np.isfinite(plain).all(axis=1)])
        assert np.array_equal(got.x, want.x)
        assert got.rows.equals(want.rows)
        assert got.n_dropped_missing == want.n_dropped_missing
        assert got.columns == want.columns and got.term_columns == want.term_columns


def test_binary_check_is_exact() -> None:
    ev = np.array([1, 0, 1, 0, 1, 0])
    near = np.array([[0.0], [1.0], [5e-324], [1.0], [1.0], [0.0]])  # not 0/1: no check
    _check_monotone(near, ["a"], ev)
    binary = np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]])  # no events at a = 1
    with pytest.raises(SeparationError, match="a = 1"):
        _check_monotone(binary, ["a"], ev)


def test_counting_process_fit_is_unchanged_by_row_order() -> None:
    """Entry sums by bincount: shuffling the rows changes nothing beyond rounding."""
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    df["stop"] = np.ceil(rng.uniform(5, 400, n))
    df["start"] = np.floor(df["stop"] * rng.uniform(0, 0.9, n))
    df["e"] = rng.integers(0, 2, n)
    df["g"] = rng.integers(0, 40, n)
    kw = {"entry_col": "start", "cluster": "g", "concordance": False}
    a = cox("~ a + b + c", df, "stop", "e", **kw)
    b = cox("~ a + b + c", df.sample(frac=1, random_state=2), "stop", "e", **kw)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


def _pairs_by_definition(t, e, eta, w, s):
    """R's concordance counts pair by pair: each event against the rows at risk after it."""
    conc = disc = tied = 0.0
    for i in np.flatnonzero(e):
        later = (s == s[i]) & ((t > t[i]) | ((t == t[i]) & ~e))
        wij = w[i] * w[later]
        conc += wij[eta[later] < eta[i]].sum()
        tied += wij[eta[later] == eta[i]].sum()
        disc += wij[eta[later] > eta[i]].sum()
    return conc, disc, tied


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 80),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["days", "fractions"]),
    st.booleans(),
    st.booleans(),
)
def test_concordance_sweep_counts_every_pair(n, seed, times, strata, weighted) -> None:
    """The bitwise sweep's concordant, discordant and tied sums equal counting pair by pair."""
    from reunistat.models.survival._concordance import _sweep

    rng = np.random.default_rng(seed)
    t = rng.integers(0, int(rng.integers(1, 40)), n).astype(float)
    if times == "fractions":
        t = t / 4 + rng.integers(0, 2, n) * 1e6  # not whole days, a wide span
    e = rng.random(n) < 0.6
    eta = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # ties in the predictor
    w = rng.integers(1, 5, n) / 2 if weighted else None
    s = rng.integers(0, 3, n) if strata else None
    got = _sweep(t, e, eta, w, s)
    expect = _pairs_by_definition(
        t, e, eta, np.ones(n) if w is None else w, np.zeros(n, int) if s is None else s
    )
    assert got == expect  # whole and half weights: exact in any order


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20_000), st.integers(0, 2**31 - 1))
def test_blocked_information_is_one_dsyrk_to_the_bit(n: int, seed: int) -> None:
    """X'DX summed a block of rows at a time equals one dsyrk over all rows, bit for bit."""
    from scipy.linalg.blas import dsyrk

    q = engine._syrk_block()
    assert q is not None  # the project's OpenBLAS: its block size is recognised
    rng = np.random.default_rng(seed)
    xt = rng.normal(size=(4, n)) * rng.exponential(size=n)
    root = rng.uniform(0, 2, n)
    whole = dsyrk(1.0, (xt * root).T, trans=1)
    assert np.array_equal(np.triu(engine._syrk_blocked(xt, root, q)), np.triu(whole))
    d = root**2
    want = np.triu(whole) + np.triu(whole, 1).T
    assert np.array_equal(engine._xtdx(xt, d), want)


@pytest.mark.parametrize("n", [1, 100, 383, 384, 767, 768, 6144, 6527, 6528, 6529, 50_000])
def test_syrk_chunks_are_whole_blocks_then_one_to_two_blocks(n: int) -> None:
    q = 384
    chunks = list(engine._syrk_chunks(n, q))
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert all((b - a) % q == 0 for a, b in chunks[:-1])
    last = chunks[-1][1] - chunks[-1][0]
    assert q <= last < 2 * q or (len(chunks) == 1 and n < 2 * q)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(0, 40_000).map(float), st.floats(0, 100, allow_nan=False)),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_time_event_order_is_the_two_stable_sorts(rows: list[tuple[float, bool]]) -> None:
    t = np.array([r[0] for r in rows], dtype=float)
    e = np.array([r[1] for r in rows], dtype=bool)
    by_event = np.argsort(~e, kind="stable")
    want = by_event[np.argsort(t[by_event], kind="stable")]
    assert np.array_equal(engine._time_event_order(t, e), want)


def test_groups_upto_is_the_search() -> None:
    rng = np.random.default_rng(12)
    keys = np.sort(rng.integers(0, 500, 5_000))
    ev_keys = np.unique(rng.integers(0, 500, 80))
    starts = engine._boundaries(keys)
    want = np.searchsorted(ev_keys, keys, "right")
    assert np.array_equal(engine._groups_upto(ev_keys, keys, starts), want)
    assert np.array_equal(engine._groups_upto(ev_keys, keys, None), want)
    none_before = engine._groups_upto(ev_keys, np.full(9, ev_keys[0] - 1), np.zeros(1, int))
    assert engine._all_zero(none_before) and none_before.shape == (9,)


def _simple_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": pd.Categorical(rng.choice(["a", "b", "c", "d"], n)),
            "sex": rng.choice(["f", "m"], n),
            "moves": rng.integers(0, 6, n),
            "days": rng.integers(1, 900, n),
            "flag": (rng.random(n) < 0.3).astype(np.int64),
            "score": rng.normal(size=n),
            "t": np.ceil(rng.exponential(200, n)),
            "e": (rng.random(n) < 0.6).astype(int),
        }
    )


@pytest.mark.parametrize(
    "rhs",
    [
        "C(age, contr.treatment('c')) + sex + moves + np.log1p(days) + flag + score",
        "moves + C(moves) + sex",
        "score + np.sqrt(days)",
    ],
)
def test_block_covariates_are_the_simple_matrix(rhs: str) -> None:
    """The lazy design's ranges, 0/1 counts and sorted transposed columns are the matrix's."""
    from reunistat.models.survival.cox import _zero_one_counts

    data = _simple_frame(5000, 8)
    lazy = _data.design("~ " + rhs, data, lazy=True)
    full = _data.design("~ " + rhs, data)
    cov = lazy.covariates
    assert cov is not None and full.covariates is None and lazy.x.shape == (0, full.x.shape[1])
    assert (lazy.columns, lazy.term_columns, lazy.spec) == (
        full.columns,
        full.term_columns,
        full.spec,
    )
    assert cov.shape == full.x.shape
    for a, b in zip(cov.column_range(), _data.column_range(full.x), strict=True):
        assert a.tobytes() == b.tobytes()
    ev = data["e"].to_numpy() == 1
    cols = np.arange(full.x.shape[1])
    for a, b in zip(cov.zero_one_counts(cols, ev), _zero_one_counts(full.x, cols, ev), strict=True):
        assert np.array_equal(a, b)
    order = np.random.default_rng(2).permutation(5000)
    got = cov.sorted_transposed(order)
    assert (
        got.flags.c_contiguous and got.tobytes() == np.ascontiguousarray(full.x[order].T).tobytes()
    )


@pytest.mark.parametrize("rhs", ["score + moves", "C(sex):score + moves"])
def test_a_lazy_design_off_the_simple_path_is_the_matrix(rhs: str) -> None:
    """Plain numeric columns (column-major) and formulaic's terms come as the matrix even
    when asked lazily: the one dispatch of ``_formula.design`` decides."""
    data = _simple_frame(3000, 4)
    lazy = _data.design("~ " + rhs, data, lazy=True)
    full = _data.design("~ " + rhs, data)
    assert lazy.covariates is None and lazy.columns == full.columns
    assert lazy.x.tobytes() == full.x.tobytes() and lazy.x.shape[0] == 3000


def test_cox_from_blocks_is_cox_from_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _simple_frame(4000, 9)
    rhs = "~ C(age, contr.treatment('c')) + sex + moves + np.log1p(days) + flag"
    lazy = cox(rhs, data, "t", "e", concordance=True)
    plain_design = _data.design
    monkeypatch.setattr(_data, "design", lambda f, d, lazy=False: plain_design(f, d))
    full = cox(rhs, data, "t", "e", concordance=True)
    assert lazy.params.to_numpy().tobytes() == full.params.to_numpy().tobytes()
    assert lazy.cov.to_numpy().tobytes() == full.cov.to_numpy().tobytes()
    assert lazy.fit_stats == full.fit_stats
    assert lazy.provenance == full.provenance
