"""Quick paths of validation and the other 903 tables give what the text paths give.

The annual returns' cohort matches children by text keys (``LA``, separator,
``CHILD``) in lenient exclusion and the other 903 tables: these paths make the
keys for a few rows only, or number LA and CHILD apart; each must select the
same rows, or number the children alike, as the text keys would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.cohort import other_tables
from reunistat.tables.keys import SEP, child_uid
from reunistat.tables.rules import frame
from reunistat.tables.rules.columns import _year_ends

_LA = st.sampled_from(["A", "B", "A" + SEP + "1", "10"])
_CHILD = st.sampled_from(["1", "2", " 1", "1 ", "2" + SEP + "1", "", None, 1, 2.0])


@settings(deadline=None, max_examples=100)
@given(
    st.lists(st.tuples(_LA, _CHILD), max_size=25),
    st.lists(st.tuples(_LA, _CHILD), max_size=6),
    st.booleans(),
)
def test_uid_isin_is_isin_of_every_key(
    rows: list[tuple], wanted: list[tuple], use_la: bool
) -> None:
    df = pd.DataFrame(rows, columns=["LA", "CHILD"], dtype=object)
    keys = set(child_uid(pd.DataFrame(wanted, columns=["LA", "CHILD"], dtype=object), use_la))
    expected = child_uid(df, use_la).isin(keys).to_numpy()
    assert frame.uid_isin(df, use_la, keys).tolist() == expected.tolist()


@given(st.lists(st.integers(0, 50), max_size=40))
def test_sorted_codes_is_sorted_factorize(values: list[int]) -> None:
    a = np.array(values, dtype=np.int64)
    assert frame.sorted_codes(a).tolist() == pd.factorize(a, sort=True)[0].tolist()


@pytest.mark.filterwarnings("ignore:Could not infer format")  # a blank year first, as read
@given(st.lists(st.one_of(st.none(), st.integers(1990, 2030), st.integers(-5, 99)), max_size=30))
def test_year_ends_as_text_of_every_row(years: list[int | None]) -> None:
    y = pd.Series(years, dtype="Int64")
    text = y.astype("float").astype("Int64").astype(str) + "-03-31"
    expected = np.asarray(pd.to_datetime(text, errors="coerce"), dtype="datetime64[ns]")
    got = _year_ends(y)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)


@settings(deadline=None, max_examples=100)
@given(
    st.lists(st.tuples(_LA, _CHILD), min_size=1, max_size=15),
    st.lists(st.tuples(_LA, _CHILD), min_size=1, max_size=25),
)
def test_int_keys_number_children_as_text_keys(returns: list[tuple], rows: list[tuple]) -> None:
    ret = pd.DataFrame(returns, columns=["LA", "CHILD"], dtype=object)
    ret["_uid"] = child_uid(ret, True).to_numpy()
    table = pd.DataFrame(rows, columns=["LA", "CHILD"], dtype=object)
    ret_key, key = other_tables._int_keys(ret, table, ret, True)
    uid = other_tables.child_keys(table, ret, True)
    text = np.concatenate([ret["_uid"].to_numpy(dtype=object), uid.to_numpy(dtype=object)])
    codes = pd.factorize(text)[0]
    got = np.concatenate([ret_key, key])
    # the same partition of rows into children (numbers may differ), no row without a key
    assert (got >= 0).all()
    pairs = set(zip(got.tolist(), codes.tolist(), strict=True))
    assert len({g for g, _ in pairs}) == len(pairs) == len({c for _, c in pairs})


@given(st.lists(st.sampled_from(["a", " a", "b ", "c", None, 3, "\u00a0d"]), max_size=20))
def test_stripped_is_strip_of_each_value(values: list[object]) -> None:
    s = pd.Series(values, dtype=object)
    assert other_tables._stripped(s).tolist() == [str(v).strip() for v in values]
