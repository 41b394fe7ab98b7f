"""Integer and array paths of validation and derivation give what the pandas ones give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.cohort.outcomes import follow_up
from reunistat.tables.rules import frame
from reunistat.tables.rules.sequence import _min_per_group

_DAY = st.one_of(st.none(), st.integers(0, 60))
_BASE = np.datetime64("2020-01-01", "ns")


def _dates(days: list[int | None]) -> pd.Series:
    return pd.Series(
        [_BASE + np.timedelta64(d, "D") if d is not None else np.datetime64("NaT") for d in days],
        dtype="datetime64[ns]",
    )


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),
            _DAY,
            _DAY,
            _DAY,
            st.sampled_from([None, "death", "other_exit"]),
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(20, 70),
)
def test_follow_up_on_integers_as_on_dates(rows: list[tuple], end_day: int) -> None:
    ret, reentry, b18, exit_day, why = (list(c) for c in zip(*rows, strict=True))
    returns = pd.DataFrame({"period_end": _dates(ret), "reentry_date": _dates(reentry)})
    returns.index = pd.RangeIndex(3, 3 + len(rows))
    b18s, exits = _dates(b18).set_axis(returns.index), _dates(exit_day).set_axis(returns.index)
    reasons = pd.Series(why, index=returns.index, dtype=object)
    end = pd.Timestamp(_BASE + np.timedelta64(end_day, "D"))
    fast = follow_up(returns, end, b18s, exits, reasons)
    # a birthday column of objects takes the pandas route
    slow = follow_up(returns, end, b18s.astype(object), exits, reasons)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


@given(st.lists(st.integers(0, 30), unique=True), st.lists(st.integers(-3, 40)))
def test_rows_of_is_get_indexer(key: list[int], wanted: list[int]) -> None:
    k, w = np.array(key, dtype=np.int64), np.array(wanted, dtype=np.int64)
    assert frame.rows_of(k, w).tolist() == pd.Index(k).get_indexer(w).tolist()


@given(st.lists(st.sampled_from(["a", "b", "", None, np.nan, 3]), max_size=40))
def test_factorize_runs_is_factorize(values: list[object]) -> None:
    a = np.array(sorted(values, key=lambda v: str(v)) + values, dtype=object)
    codes, uniques = frame.factorize_runs(a)
    want_codes, want_uniques = pd.factorize(a, use_na_sentinel=True)
    assert codes.tolist() == want_codes.tolist()
    assert list(uniques) == list(want_uniques)


@given(st.lists(st.integers(0, 5), max_size=30))
def test_n_distinct_is_nunique(keys: list[int]) -> None:
    for a in (np.array(keys, dtype=np.int64), np.sort(np.array(keys, dtype=np.int64))):
        assert frame.n_distinct(a) == pd.Series(a).nunique()


@given(st.lists(st.tuples(st.integers(0, 4), _DAY), max_size=30), st.booleans())
def test_min_per_group_is_groupby_min(rows: list[tuple], as_dates: bool) -> None:
    groups = np.array([g for g, _ in rows], dtype=np.int64)
    days = [d for _, d in rows]
    values = (
        _dates(days).to_numpy()
        if as_dates
        else np.array([np.nan if d is None else float(d) for d in days])
    )
    want = pd.Series(values).groupby(groups).min().reindex(range(6)).to_numpy()
    got = _min_per_group(values, groups, 6)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@given(st.lists(st.integers(-2, 30)), st.lists(st.integers(0, 30)))
def test_key_isin_is_isin(values: list[int], keys: list[int]) -> None:
    v, k = np.array(values, dtype=np.int64), np.array(keys, dtype=np.int64)
    assert frame.key_isin(v, k).tolist() == np.isin(v, k).tolist()
