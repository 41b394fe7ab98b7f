"""``_options.sorted_codes`` of integer columns: pandas' sorted factorisation, to the code."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models import _options


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-3, 12), min_size=1, max_size=40),
    st.sampled_from(["int64", "int32", "uint8", "uint64"]),
)
def test_integer_codes_are_pandas_sorted_factorize(values: list[int], dtype: str) -> None:
    if dtype.startswith("u"):
        values = [abs(v) for v in values]
    s = pd.Series(np.array(values, dtype=dtype))
    codes, n = _options.sorted_codes(s)
    want, uniq = pd.factorize(s, sort=True)
    assert codes.dtype == np.int64 and n == len(uniq)
    assert np.array_equal(codes, want)


def test_dense_codes_are_returned_as_a_new_array() -> None:
    """0..G-1, each present: the same numbers, not the column's own memory."""
    s = pd.Series(np.array([2, 0, 1, 2, 0], dtype=np.int64))
    codes, n = _options.sorted_codes(s)
    assert n == 3 and codes.tolist() == [2, 0, 1, 2, 0]
    assert not np.shares_memory(codes, s.to_numpy())
    gap = pd.Series(np.array([0, 2, 2], dtype=np.int64))  # 1 missing: ranked by pandas
    assert _options.sorted_codes(gap)[0].tolist() == [0, 1, 1]
    nullable = pd.Series([1, 0, None], dtype="Int64")
    assert np.array_equal(_options.sorted_codes(nullable)[0], pd.factorize(nullable, sort=True)[0])
