"""Code columns as categories inside validation: the same values and counts as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from reunistat.codes import category_values, normalise_codes, normalise_to_categories
from reunistat.tables import schema, validate_tables
from reunistat.tables.rules.coded import Coded

_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["P1", "p1", " P1", "U1 ", "", " ", "X1", "x1", "E4A", "e4a"]),
    st.integers(0, 3),
    st.sampled_from(["1", "2"]),
)


@given(st.lists(_VALUES, max_size=30))
def test_categories_hold_what_normalise_codes_gives(values: list[object]) -> None:
    s = pd.Series(values, dtype=object)
    text, n_text = normalise_codes(s)
    cat, n_cat = normalise_to_categories(s)
    assert isinstance(cat.dtype, pd.CategoricalDtype)
    assert n_cat == n_text
    back = category_values(cat)
    assert len(back) == len(text)
    for a, b in zip(back, text.to_numpy(dtype=object), strict=True):
        if pd.isna(b):
            assert a is None
        else:  # the very value, of the same type (1 stays 1, "1" stays "1")
            assert type(a) is type(b) and a == b
    assert cat.index.equals(s.index)


@given(st.lists(_VALUES, max_size=30), st.sets(st.sampled_from(["P1", "U1", "X1", 1, "1"])))
def test_coded_on_categories_as_on_text(values: list[object], allowed: set[object]) -> None:
    text, _ = normalise_codes(pd.Series(values, dtype=object))
    cat, _ = normalise_to_categories(pd.Series(values, dtype=object))
    a, b = Coded(text), Coded(cat)
    assert np.array_equal(a.isin(allowed), b.isin(allowed))
    assert np.array_equal(a.isna(), b.isna())
    assert np.array_equal(a.eq("P1"), b.eq("P1"))


@given(
    st.lists(st.sampled_from([None, *(f"C{i}" for i in range(12))]), max_size=40),
    st.sets(st.sampled_from([f"C{i}" for i in range(14)])),
)
def test_coded_isin_as_pandas_isin(values: list[object], allowed: set[object]) -> None:
    # sets of few codes in, few out and many of each: compared or looked up, alike
    s = pd.Series(values, dtype=object)
    want = (s.isin(allowed) & s.notna()).to_numpy()
    for column in (s, s.astype("category")):
        got = Coded(column).isin(allowed)
        assert got.dtype == bool and np.array_equal(got, want)


def test_other_dtypes_are_left_to_normalise_codes() -> None:
    s = pd.Series([1.0, 2.0, np.nan])
    out, n = normalise_to_categories(s)
    assert out is s and n == 0


def test_validated_code_columns_are_text_categories() -> None:
    header = pd.DataFrame(
        {
            "CHILD": ["1", "2"],
            "SEX": ["1", " 2"],
            "DOB": ["2010-01-01", "2011-02-03"],
            "ETHNIC": ["WBRI", "wbri"],
        }
    )
    episodes = pd.DataFrame(
        {
            "CHILD": ["1", "2"],
            "DECOM": ["2020-04-01", "2020-05-01"],
            "RNE": ["S", "s"],
            "LS": ["C2", "C2"],
            "CIN": ["N1", "N1"],
            "PLACE": ["U1", "U1"],
            "PLACE_PROVIDER": ["PR1", None],
            "DEC": [None, None],
            "REC": [None, None],
            "REASON_PLACE_CHANGE": [None, None],
            "HOME_POST": [None, None],
            "PL_POST": [None, None],
            "URN": [None, None],
        }
    )
    v = validate_tables({"header": header, "episodes": episodes}, mode="lenient")
    for name in ("header", "episodes"):  # code columns are text categories, the rest as given
        df = v.tables[name]
        coded = {c.name for c in schema.TABLES[name] if c.kind == "code"}
        for c in df.columns:
            is_cat = isinstance(df[c].dtype, pd.CategoricalDtype)
            assert is_cat == (c in coded), (name, c)
            if is_cat:
                assert all(isinstance(x, str) for x in df[c].cat.categories), (name, c)
    assert category_values(v.tables["header"]["SEX"]).tolist() == ["1", "2"]
    assert category_values(v.tables["header"]["ETHNIC"]).tolist() == ["WBRI", "WBRI"]
    assert category_values(v.tables["episodes"]["REC"]).tolist() == [None, None]
    assert set(v.repairs["column"]) == {"ETHNIC", "RNE"}  # " 2" is trimmed as it is read


def test_unchanged_code_columns_are_the_extracts_own() -> None:
    from pathlib import Path

    from reunistat.tables import read_extract

    x = read_extract(Path(__file__).parents[1] / "data" / "synthetic" / "sample")
    v = validate_tables(x, mode="lenient")
    changed = set(zip(v.repairs["table"], v.repairs["column"], strict=True))
    eps, before = v.tables["episodes"], x.tables["episodes"]
    assert len(eps) == len(before)  # the sample has no error: no row dropped
    for c in ("RNE", "LS", "CIN", "PLACE", "REC"):
        assert isinstance(eps[c].dtype, pd.CategoricalDtype)  # the reader's categories kept
        if ("episodes", c) not in changed:  # no copy
            assert np.shares_memory(eps[c].cat.codes.to_numpy(), before[c].cat.codes.to_numpy())
        assert category_values(eps[c]).tolist() == category_values(before[c]).tolist()
