"""Row hashes of plain columns, made in blocks, are pandas' own to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat import _rowhash
from reunistat.results import _row_hashes, data_hash

DTYPES = ["float64", "float32", "int64", "int32", "int8", "uint16", "uint64", "bool"]


def _pandas(df: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(df, index=True).to_numpy()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 3 * 37 + 5),
    st.lists(st.sampled_from(DTYPES), min_size=0, max_size=5),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["range", "int", "float", "text", "shifted"]),
)
def test_plain_columns_hash_as_pandas(n: int, dtypes: list[str], seed: int, index: str) -> None:
    rng = np.random.default_rng(seed)
    cols = {}
    for j, dt in enumerate(dtypes):
        if dt.startswith("float"):
            v = rng.normal(size=n) * 10.0 ** rng.integers(-3, 300 if dt == "float64" else 30)
            special = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf])
            v[rng.random(n) < 0.2] = rng.choice(special)
            cols[f"c{j}"] = v.astype(dt)
        elif dt == "bool":
            cols[f"c{j}"] = rng.random(n) < 0.5
        else:
            info = np.iinfo(dt)
            cols[f"c{j}"] = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    idx = {
        "range": pd.RangeIndex(n),
        "int": pd.Index(rng.integers(-(2**40), 2**40, n)),
        "float": pd.Index(rng.normal(size=n)),
        "text": pd.Index([f"r{i}" for i in range(n)]),
        "shifted": pd.RangeIndex(5, 5 + 3 * n, 3),
    }[index]
    df = pd.DataFrame(cols, index=idx)
    old = _rowhash.BLOCK
    try:
        _rowhash.BLOCK = 37  # many blocks and a short last one
        got = _row_hashes(df)
    finally:
        _rowhash.BLOCK = old
    assert np.array_equal(got, _pandas(df))


def test_mixed_frame_blocks_and_pandas_columns() -> None:
    """Plain columns beside text, categorical, nullable and datetime ones, in the frame's order."""
    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "s": rng.choice(["x", "y", None], n),
            "c": pd.Categorical(rng.choice(["p", "q"], n)),
            "i": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "d": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "td": pd.to_timedelta(rng.integers(0, 900, n), "h"),
            "tz": pd.date_range("2021-01-01", periods=n, freq="h", tz="UTC"),
            "b": rng.random(n) < 0.3,
        },
        index=pd.Index(rng.permutation(n) * 7),
    )
    df.loc[df.index[::11], "d"] = pd.NaT
    assert np.array_equal(_row_hashes(df), _pandas(df))
    keep = ["a", "i", "b"]
    assert data_hash(df, columns=set(keep)) == data_hash(df[keep])


@pytest.mark.parametrize("n", [0, 1, _rowhash.BLOCK, _rowhash.BLOCK + 1])
def test_hash_plain_is_hash_array(n: int) -> None:
    v = np.random.default_rng(n).normal(size=n)
    assert np.array_equal(_rowhash.hash_plain(v), pd.util.hash_array(v))
    assert np.array_equal(_row_hashes(pd.DataFrame({"v": v})), _pandas(pd.DataFrame({"v": v})))


def test_column_views_of_a_two_dimensional_block() -> None:
    """Columns that are strided views of one float block (a frame made from a matrix)."""
    x = np.asfortranarray(np.random.default_rng(2).normal(size=(1000, 4)))
    for m in (x, np.ascontiguousarray(x)):
        df = pd.DataFrame(m, columns=list("abcd"))
        assert np.array_equal(_row_hashes(df), _pandas(df))
