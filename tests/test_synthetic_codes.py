"""The generator's integer paths give what its text paths gave: codes, radix order, ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.synthetic._draw import choice, choice_by_group, rows_by_level, stable_order
from reunistat.synthetic._vocab import (
    Vocab,
    choice_by_group_codes,
    choice_codes,
    urn_text,
)
from reunistat.synthetic.linked import pseudonyms
from reunistat.synthetic.writer import CSV_DATE_FORMAT, format_dates

TEXT = st.sampled_from(["P1", "U4", "K2", "A5", "E11", "", None])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.integers(0, 60).flatmap(
            lambda n: st.lists(
                st.lists(st.integers(0, 2**19), min_size=n, max_size=n), min_size=k, max_size=k
            )
        )
    )
)
def test_stable_order_is_lexsort(keys):
    arrays = [np.array(k, dtype=np.int64) for k in keys]
    assert np.array_equal(stable_order(*arrays), np.lexsort(arrays))


def test_stable_order_many_rows_wide_keys():
    rng = np.random.default_rng(5)
    n = 200_000
    child_key = rng.integers(0, 150 * 5_000_000, n)  # as at 10x national: 30 bits
    decom = rng.integers(0, 20_000, n)
    assert np.array_equal(stable_order(decom, child_key), np.lexsort((decom, child_key)))
    assert np.array_equal(stable_order(child_key), np.argsort(child_key, kind="stable"))


def test_stable_order_refuses_negative_and_too_wide():
    with pytest.raises(ValueError, match="non-negative"):
        stable_order(np.array([1, -1]))
    with pytest.raises(ValueError, match="62 bits"):
        stable_order(np.array([2**40]), np.array([2**40]))


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, max_size=40))
def test_vocab_round_trip_levels_and_isin(values):
    arr = np.array(values, dtype=object)
    v = Vocab()
    v.code("unused")  # codes need not follow text order
    c = v.encode(arr)
    assert v.decode(c).tolist() == values
    want = [(x, r.tolist()) for x, r in rows_by_level(arr)]
    assert [(x, r.tolist()) for x, r in v.sorted_levels(c)] == want
    items = {"P1", "K2", "absent"}
    assert v.isin(c, items).tolist() == [x in items for x in values]


def test_coded_draws_are_the_text_draws():
    table = {"PR1": 0.5, "PR4": 0.3, "PR5": 0.2}
    tables = [{"U4": 0.2, "K2": 0.8}, {"P1": 1.0}, {"A5": 0.4, "U4": 0.6}]
    group = np.random.default_rng(0).integers(0, 3, 5000)
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    v = Vocab()
    assert v.decode(choice_codes(r1, v, table, 5000)).tolist() == choice(r2, table, 5000).tolist()
    coded = v.decode(choice_by_group_codes(r1, v, tables, group))
    assert coded.tolist() == choice_by_group(r2, tables, group).tolist()
    assert r1.random() == r2.random()  # the same draws were made


def test_urn_text_is_the_old_formula():
    rng = np.random.default_rng(3)
    num = 100000 + rng.integers(0, 900000, 10_000)
    with_urn = rng.random(10_000) < 0.4
    old = np.where(with_urn, np.char.add("SC", num.astype(str)).astype(object), "XXXXXXX")
    assert urn_text(np.where(with_urn, num, 0)).tolist() == old.tolist()


def test_pseudonyms_in_table_order_are_the_same_values():
    la = np.random.default_rng(1).integers(0, 150, 20_000)
    r1, r2 = np.random.default_rng(4), np.random.default_rng(4)
    plain, sorted_ = pseudonyms(r1, la.size), pseudonyms(r2, la.size, la=la)
    for a, b in zip(plain, sorted_, strict=True):
        assert a.tolist() == b.tolist()
    assert r1.random() == r2.random()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-20_000, 30_000)), max_size=50))
def test_format_dates_is_strftime(days):
    s = pd.Series(
        pd.to_datetime([None if d is None else np.datetime64(d, "D") for d in days]),
        dtype="datetime64[ns]",
    )
    old = s.dt.strftime(CSV_DATE_FORMAT)
    new = format_dates(s)
    assert [None if pd.isna(x) else x for x in old] == new.tolist()
