"""The Cox models' cheaper per-call steps give the same answers as the plain ones.

The 0/1 check counted in blocks over all candidate columns against a column
by column count; formulaic's small-frame matrix kept per formula and frame
against a fresh one; the cluster codes made once; the provenance hash of the
columns a fit reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.errors import SeparationError
from reunistat.models import _options, _simple_design
from reunistat.models.survival import _data, cox, fine_gray
from reunistat.models.survival.cox import _check_monotone, _zero_one_counts
from reunistat.results import data_hash


def _plain_counts(x: np.ndarray, cols: np.ndarray, ev: np.ndarray) -> tuple[list[int], ...]:
    n1 = [int(np.count_nonzero(x[:, j] == 1.0)) for j in cols]
    n0 = [int(np.count_nonzero(x[:, j] == 0.0)) for j in cols]
    e1 = [int(np.count_nonzero((x[:, j] == 1.0) & ev)) for j in cols]
    return n1, n0, e1


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3000),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["C", "F"]),
    st.sampled_from([1, 7, 8192]),
)
def test_zero_one_counts_are_the_column_counts(
    n: int, p: int, seed: int, order: str, step: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(n, p)).astype(float)
    x[:, 0] = rng.choice([0.0, 0.5, 1.0], n)  # not always a 0/1 column
    x = np.asarray(x, order=order)  # type: ignore[call-overload]
    ev = rng.random(n) < 0.3
    for cols in (np.arange(p), np.arange(p)[::2]):
        got = _zero_one_counts(x, cols, ev, step=step)
        assert [list(map(int, g)) for g in got] == list(_plain_counts(x, cols, ev))


def test_monotone_check_names_the_first_column_without_events() -> None:
    rng = np.random.default_rng(3)
    n = 500
    ev = rng.random(n) < 0.4
    x = rng.integers(0, 2, size=(n, 3)).astype(float)
    x[:, 2] = np.where(ev, 0.0, rng.integers(0, 2, n))  # no events among c's 1s
    for arr in (x, np.asfortranarray(x)):
        with pytest.raises(SeparationError, match="with c = 1"):
            _check_monotone(arr, ["a", "b", "c"], ev)
    x[:, 2] = rng.uniform(0, 1, n)
    _check_monotone(x, ["a", "b", "c"], ev)  # not a 0/1 column: nothing to say


def _spells(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "t": np.ceil(rng.exponential(200, n)),
            "e": (rng.random(n) < 0.5).astype(int),
            "band": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["F", "M"], n),
            "moves": rng.integers(0, 6, n),
            "length": rng.integers(1, 900, n),
            "la": rng.choice([f"E{i:03d}" for i in range(40)], n),
            "unused": rng.normal(size=n),
        }
    )


def test_kept_small_matrix_gives_the_same_design() -> None:
    df = _spells(4000, 5)
    rhs = "C(band, contr.treatment('b')) + sex + moves + np.log1p(length)"
    _simple_design._MATRICES.clear()
    first = _simple_design.simple_design(rhs, df, intercept=False)
    assert len(_simple_design._MATRICES) == 1
    again = _simple_design.simple_design(rhs, df.sample(frac=1.0, random_state=2), intercept=False)
    old = _simple_design._MATRICES_KEPT
    try:
        _simple_design._MATRICES_KEPT = 0  # nothing kept: formulaic each time
        _simple_design._MATRICES.clear()
        plain = _simple_design.simple_design(rhs, df, intercept=False)
        shuffled = df.sample(frac=1.0, random_state=2)
        plain_again = _simple_design.simple_design(rhs, shuffled, intercept=False)
    finally:
        _simple_design._MATRICES_KEPT = old
    assert first is not None and plain is not None and again is not None
    assert plain_again is not None
    assert np.array_equal(first.x, plain.x) and first.columns == plain.columns
    assert first.term_columns == plain.term_columns
    assert np.array_equal(again.x, plain_again.x) and again.columns == plain_again.columns


def test_small_frames_that_differ_are_kept_apart() -> None:
    df = _spells(3000, 6)
    rhs = "C(band) + moves"
    _simple_design._MATRICES.clear()
    a = _simple_design.simple_design(rhs, df, intercept=True)
    other = df.assign(band=df["band"].replace("a", "z"))
    b = _simple_design.simple_design(rhs, other, intercept=True)
    coded = df.assign(band=pd.Categorical(df["band"]))
    c = _simple_design.simple_design(rhs, coded, intercept=True)
    assert a is not None and b is not None and c is not None
    assert a.columns != b.columns
    assert len(_simple_design._MATRICES) == 3
    assert _simple_design._frame_key("x", pd.DataFrame({"v": [[1], [2]]})) is None


def test_cox_fits_are_the_same_with_the_matrix_kept() -> None:
    df = _spells(5000, 7)
    f = "~ C(band, contr.treatment('b')) + sex + moves + np.log1p(length)"
    _simple_design._MATRICES.clear()
    kept = [cox(f, df, "t", "e", cluster="la") for _ in range(2)]
    old = _simple_design._MATRICES_KEPT
    try:
        _simple_design._MATRICES_KEPT = 0
        _simple_design._MATRICES.clear()
        plain = cox(f, df, "t", "e", cluster="la")
    finally:
        _simple_design._MATRICES_KEPT = old
    for res in kept:
        assert np.array_equal(res.params, plain.params)
        assert np.array_equal(res.cov, plain.cov)
        assert res.fit_stats == plain.fit_stats


def test_robust_score_test_uses_the_same_cluster_codes() -> None:
    df = _spells(4000, 8)
    res = cox("~ moves + sex", df, "t", "e", cluster="la")
    again = cox("~ moves + sex", df, "t", "e", cluster="la", vcov="CR0")
    assert res.fit_stats == again.fit_stats
    assert "robust_score_statistic" in res.fit_stats
    two = cox("~ moves + sex", df.assign(b2=df["band"]), "t", "e", cluster=("la", "b2"))
    assert np.isfinite(two.fit_stats["robust_score_statistic"])


def test_robust_score_test_can_be_left_out() -> None:
    df = _spells(4000, 8)
    res = cox("~ moves + sex", df, "t", "e", cluster="la")
    without = cox("~ moves + sex", df, "t", "e", cluster="la", robust_score=False)
    assert "robust_score_statistic" not in without.fit_stats
    kept = {k: v for k, v in res.fit_stats.items() if not k.startswith("robust_score")}
    assert without.fit_stats == kept
    assert np.array_equal(without.params, res.params) and np.array_equal(without.cov, res.cov)


def test_provenance_hashes_the_columns_read() -> None:
    df = _spells(3000, 9)
    f = "~ C(band) + moves"
    res = cox(f, df, "t", "e", cluster="la")
    want = data_hash(df, {"t", "e", "band", "moves", "la"})
    assert res.provenance.data_sha256 == want
    assert cox(f, df.assign(unused=0.0), "t", "e", cluster="la").provenance.data_sha256 == want
    changed = df.assign(moves=df["moves"][::-1].to_numpy())
    assert cox(f, changed, "t", "e", cluster="la").provenance.data_sha256 != want
    plain = cox("~ moves + length", df, "t", "e")
    assert plain.provenance.data_sha256 == data_hash(df, {"t", "e", "moves", "length"})
    competing = df.assign(k=df["e"] * 2)
    fg = fine_gray("~ moves", competing, "t", "k", cause=2)
    assert fg.provenance.data_sha256 == data_hash(competing, {"t", "k", "moves"})


def test_read_columns_lists_formula_and_named_columns() -> None:
    df = _spells(2000, 10)
    des = _data.design("~ C(band) + np.log1p(length)", df)
    got = _data.read_columns(des, "t", "e", None, ["la", "sex"])
    assert got == {"band", "length", "t", "e", "la", "sex"}


_TEXT = st.text(
    alphabet=st.sampled_from(["a", "b", "Z", "0", "é", "ß", "\u4e2d", " ", "\x01", "\x00"]),
    max_size=4,
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=60))
def test_sorted_codes_are_pandas_sorted_factorize(values: list[str]) -> None:
    s = pd.Series(values, dtype=object)
    codes, n = _options.sorted_codes(s)
    want, uniq = pd.factorize(s, sort=True)
    assert codes.dtype == np.int64 and n == len(uniq)
    assert np.array_equal(codes, want)


@pytest.mark.parametrize("n_distinct", [3, 150, 2_900])
def test_sorted_codes_of_repeated_and_distinct_text(n_distinct: int) -> None:
    """A few values repeated (pandas' way) or nearly all distinct (Arrow's): pandas' codes."""
    rng = np.random.default_rng(n_distinct)
    labels = np.array([f"E{v * 7919 % 99991:06d}" for v in range(n_distinct)], dtype=object)
    s = pd.Series(labels[rng.integers(0, n_distinct, 3_000)])
    assert _options._few_distinct(s.to_numpy()) == (n_distinct < 200)
    codes, n = _options.sorted_codes(s)
    want, uniq = pd.factorize(s, sort=True)
    assert codes.dtype == np.int64 and n == len(uniq)
    assert np.array_equal(codes, want)


def test_sorted_codes_of_other_columns() -> None:
    for values in ([3, 1, 2, 1], [1.5, 0.5], ["b", 1, "a"], ["b", None, "a"], [True, False]):
        s = pd.Series(values)
        try:
            want, uniq = pd.factorize(s, sort=True)
        except TypeError:  # pandas cannot sort mixed text and numbers either
            continue
        codes, n = _options.sorted_codes(s)
        assert np.array_equal(codes, want) and n == len(uniq)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3000),
    st.integers(2, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1, 7, 8192]),
)
def test_halved_blocks_are_numpys_reductions(n: int, p: int, seed: int, step: int) -> None:
    """Minima and maxima of row-major columns, folded by halves: numpy's values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).round(1)
    x[rng.integers(0, n)] = rng.choice([np.inf, -np.inf, np.nan, 1e300])
    for op, ref in ((np.minimum, x.min(axis=0)), (np.maximum, x.max(axis=0))):
        assert np.array_equal(_data.by_halves(x, op, step=step), ref, equal_nan=True)
    lo, hi = _data.column_range(x)
    assert np.array_equal(lo, x.min(axis=0), equal_nan=True)
    assert np.array_equal(hi, x.max(axis=0), equal_nan=True)
