"""Validation and derivation take code columns as categories (a reader that keeps them so).

The cohort, its flow and the validation record must be the same whether the
reader gives code columns (and LA) as objects or as ``category`` columns, with
categories in any order and unused ones among them. The faster paths of this
area are checked against the code they replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.codes import category_values, normalise_to_categories
from reunistat.codes.years import first_seen, renumbered
from reunistat.cohort import CohortConfig, build_cohort
from reunistat.cohort.covariates import _int_lookup
from reunistat.cohort.periods import values_at
from reunistat.tables import Extract, read_extract, schema
from reunistat.tables.rules.sequence import _april_first, _la_groups, data_start_of

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"

_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["P1", "p1", " P1", "U1 ", "", " ", "X1", "x1", "E4A", "e4a"]),
    st.sampled_from(["1", "2"]),
)
_UNUSED = st.lists(st.sampled_from(["Q9", "q9 ", "ZZ", "P1", "1"]), max_size=3)


def _as_category(values: list[object], extra: list[object], seed: int) -> pd.Series:
    """``values`` as a category column, categories shuffled and ``extra`` ones unused."""
    cats = list(dict.fromkeys([v for v in values if v is not None] + extra))
    np.random.default_rng(seed).shuffle(cats)
    return pd.Series(pd.Categorical(values, categories=pd.Index(cats, dtype=object)))


@settings(deadline=None)  # pandas calls: slow on a loaded machine
@given(st.lists(_VALUES, max_size=30), _UNUSED, st.integers(0, 2**16))
def test_category_input_normalises_as_objects(
    values: list[object], extra: list[object], seed: int
) -> None:
    want, n_want = normalise_to_categories(pd.Series(values, dtype=object))
    got, n_got = normalise_to_categories(_as_category(values, extra, seed))
    assert n_got == n_want
    assert list(got.cat.categories) == list(want.cat.categories)
    assert np.array_equal(got.cat.codes.to_numpy(), want.cat.codes.to_numpy())
    assert category_values(got).tolist() == category_values(want).tolist()


def test_normalised_category_column_is_kept() -> None:
    s = pd.Series(pd.Categorical(["P1", None, "U1", "P1"], categories=["P1", "U1"]))
    out, n = normalise_to_categories(s)
    assert out is s and n == 0


@settings(deadline=None)  # pandas calls: slow on a loaded machine
@given(st.lists(st.integers(-1, 5), max_size=40))
def test_first_appearance(codes: list[int]) -> None:
    arr = np.asarray(codes, dtype=np.int64)
    old = first_seen(arr, 6)
    new = renumbered(arr, old, 6)
    seen = list(dict.fromkeys(c for c in codes if c >= 0))
    assert old.tolist() == seen
    assert new.tolist() == [seen.index(c) if c >= 0 else -1 for c in codes]


@settings(deadline=None)  # pandas calls: slow on a loaded machine
@given(st.lists(_VALUES, min_size=1, max_size=30), st.integers(0, 2**16), st.data())
def test_values_at_as_objects(values: list[object], seed: int, data: st.DataObject) -> None:
    at = np.asarray(data.draw(st.lists(st.integers(0, len(values) - 1), max_size=10)), dtype=int)
    got = values_at(_as_category(values, [], seed), at)
    assert got.tolist() == [values[i] for i in at]  # a blank is None, as read
    assert values_at(pd.Series(values, dtype=object), at).tolist() == got.tolist()


def _data_start_before(e: pd.DataFrame, years: pd.Series | None) -> pd.Series:
    """``data_start_of`` as it was (a row-wise group transform)."""
    la = e["LA"].astype(object).fillna("") if "LA" in e.columns else pd.Series("", index=e.index)
    groups = pd.factorize(la)[0]
    if years is not None and years.notna().any():
        first = years.astype("float").groupby(groups).transform("min")
    else:
        dec = e["DEC"].where(e["DEC"].notna(), e["DECOM"])
        fy = dec.dt.year + (dec.dt.month >= 4).astype("float")
        first = fy.groupby(groups).transform("min")
    return pd.Series(_april_first(first.to_numpy(dtype="float64")), index=e.index)


_DATES = st.one_of(st.none(), st.dates(dt.date(2005, 1, 1), dt.date(2024, 12, 31)))


@settings(deadline=None)  # pandas calls: slow on a loaded machine
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "", None]),
            st.one_of(st.none(), st.integers(2015, 2024)),
            st.dates(dt.date(2005, 1, 1), dt.date(2024, 12, 31)),
            _DATES,
        ),
        min_size=1,
        max_size=25,
    ),
    st.booleans(),
    st.booleans(),
)
def test_data_start_as_before(rows: list[tuple], use_years: bool, category: bool) -> None:
    la, year, decom, dec = zip(*rows, strict=True)
    e = pd.DataFrame(
        {
            "LA": pd.Series(la, dtype="category" if category else object),
            "DECOM": pd.to_datetime(pd.Series(decom)),
            "DEC": pd.to_datetime(pd.Series(dec)),
        }
    )
    years = pd.Series(year, dtype="Int64") if use_years else None
    got, _ = data_start_of(e, years)
    want = _data_start_before(e.assign(LA=e["LA"].astype(object)), years)
    pd.testing.assert_series_equal(got, want)


def test_la_groups_without_la() -> None:
    groups, n = _la_groups(pd.DataFrame({"DECOM": [1, 2]}))
    assert groups.tolist() == [0, 0] and n == 1


def _int_lookup_before(keys: pd.Series, table: pd.DataFrame, key: str, value: str) -> pd.Series:
    pairs = table[[key, value]].dropna(subset=[key]).drop_duplicates(key, keep="last")
    return keys.map(pairs.set_index(key)[value]).astype("Int64")


_KEYS = st.one_of(st.none(), st.sampled_from(["AB1", "AB2", "CD3", "EF4"]))


@settings(deadline=None)  # pandas calls: slow on a loaded machine
@given(
    st.lists(st.tuples(_KEYS, st.one_of(st.none(), st.integers(1, 10))), max_size=20),
    st.lists(_KEYS, max_size=20),
)
def test_int_lookup_as_before(table_rows: list[tuple], keys: list[object]) -> None:
    k, v = zip(*table_rows, strict=True) if table_rows else ((), ())
    table = pd.DataFrame({"K": pd.Series(k, dtype=object), "V": pd.array(v, dtype="Int64")})
    s = pd.Series(keys, dtype=object, index=np.arange(len(keys)) * 3)
    got = _int_lookup(s, table, "K", "V")
    if table.empty:
        assert got.isna().all()
        return
    pd.testing.assert_series_equal(got, _int_lookup_before(s, table, "K", "V"))


def _categorical(x: Extract, with_la: bool, seed: int) -> Extract:
    """The extract with its code columns (and LA) as categories in a shuffled order."""
    rng = np.random.default_rng(seed)
    tables = {}
    for name, df in x.tables.items():
        cols = [c.name for c in schema.TABLES.get(name, ()) if c.kind == "code"]
        cols += ["LA"] if with_la else []
        df = df.copy(deep=False)
        for c in cols:
            if c in df.columns and df[c].dtype == object:
                cats = [*pd.unique(df[c].dropna()), "ZZ_UNUSED"]
                rng.shuffle(cats)
                df[c] = pd.Categorical(df[c], categories=pd.Index(cats, dtype=object))
        tables[name] = df
    return dataclasses.replace(x, tables=tables)


@pytest.mark.parametrize("folder", ["sample", "sample-messy"])
@pytest.mark.parametrize("with_la", [False, True])
def test_cohort_same_from_category_columns(folder: str, with_la: bool) -> None:
    x = read_extract(DATA / folder)
    cfg = CohortConfig(validation="lenient")
    want = build_cohort(x, cfg)
    got = build_cohort(_categorical(x, with_la, seed=7), cfg)
    pd.testing.assert_frame_equal(got.spells, want.spells)
    for a, b in zip(got.spells["category_of_need"], want.spells["category_of_need"], strict=True):
        assert a is b or a == b  # blanks are None, as from objects (not NaN)
    pd.testing.assert_frame_equal(got.flow, want.flow)
    pd.testing.assert_frame_equal(got.periods, want.periods)
    for name in ("problems", "warnings", "excluded_children", "excluded_rows", "repairs"):
        pd.testing.assert_frame_equal(getattr(got.validated, name), getattr(want.validated, name))
